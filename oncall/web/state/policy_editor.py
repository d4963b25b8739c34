"""The escalation policy editor (/policies/new, /policies/NAME/edit): a thin state around
`oncall.web.editor.policy`, with the shared review panel below. It writes YAML for the config
repo and nothing to the database."""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.config.configset import ConfigSet
from oncall.web.editor import policy as P
from oncall.web.state.editor_review import ReviewMixin
from oncall.web.state.session import SessionState


def policy_teams(config: ConfigSet, name: str | None, form: P.PolicyForm | None) -> list[str]:
    """Whose policy it is: the teams whose services use it; a policy no service uses yet
    belongs to the teams whose schedules and teams its steps page."""
    users = {s.team for s in config.services.values()
             if name is not None and s.escalation_policy == name}
    if users:
        return sorted(users)
    targets = [t for s in form["steps"] for t in s["targets"]] if form is not None else []
    return sorted(_target_teams(config, targets))


def _target_teams(config: ConfigSet, targets: list[str]) -> set[str]:
    found: set[str] = set()
    for target in targets:
        kind, _, ref = target.partition(":")
        if kind == "team" and ref in config.teams:
            found.add(ref)
        elif kind == "schedule" and ref in config.schedules:
            found.add(config.schedules[ref].team)
    return found


class PolicyEditorState(ReviewMixin, SessionState):
    found: bool = True
    name: str = ""
    description: str = ""
    repeat: str = "0"
    steps: list[dict[str, Any]] = []  # noqa: RUF012
    choices: list[dict[str, str]] = []  # noqa: RUF012
    """Schedules and teams of the config, for each step's "add" list."""
    person_step: int = -1
    person_query: str = ""
    people: list[dict[str, str]] = []  # noqa: RUF012
    _form: dict[str, Any] = {}  # noqa: RUF012

    # --- ReviewMixin's hooks ----------------------------------------------------------------

    def _editor_kind(self) -> str:
        return "EscalationPolicy"

    def _editor_document(self) -> dict[str, Any]:
        return P.document(self._form)

    def _editor_teams(self) -> list[str]:
        return policy_teams(self._config(), self.original or None, self._form)

    # --- plumbing ----------------------------------------------------------------------------

    def _show(self, form: P.PolicyForm) -> None:
        """Store the form, show it, and review the document it makes."""
        self._form = form
        config = self._config()
        self.name, self.description, self.repeat = form["name"], form["description"], form[
            "repeat"]
        self.steps = P.display_steps(form, config)
        self._run_review()

    # --- events --------------------------------------------------------------------------------

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._clear_pull_request()
        self.person_step, self.person_query, self.people = -1, "", []
        config = self._config()
        self.choices = [{"target": t, "label": P.target_label(t, config)}
                        for t in P.schedule_choices(config) + P.team_choices(config)]
        name = self._route_name()
        if not name:
            self.original, self.found = "", True
            self._show(P.blank_form())
            return None
        form = P.applied_form(config, name)
        self.found = form is not None
        self.original = name if form is not None else ""
        if form is None:
            self.steps, self.review_lines, self.review_plan = [], [], []
            return None
        self._show(form)
        return None

    @rx.event
    def set_name(self, value: str) -> None:
        self._show({**self._form, "name": value})

    @rx.event
    def set_description(self, value: str) -> None:
        self._show({**self._form, "description": value})

    @rx.event
    def set_repeat(self, value: str) -> None:
        self._show({**self._form, "repeat": value})

    @rx.event
    def add_step(self) -> None:
        self._show(P.add_step(self._form))

    @rx.event
    def remove_step(self, index: int) -> None:
        self._show(P.remove_step(self._form, int(index)))

    @rx.event
    def move_up(self, index: int) -> None:
        self._show(P.move_step(self._form, int(index), -1))

    @rx.event
    def move_down(self, index: int) -> None:
        self._show(P.move_step(self._form, int(index), 1))

    @rx.event
    def set_timeout(self, index: int, value: str) -> None:
        self._show(P.set_timeout(self._form, int(index), str(value)))

    @rx.event
    def add_target(self, index: int, target: str) -> None:
        if target:
            self.person_step, self.person_query, self.people = -1, "", []
            self._show(P.add_target(self._form, int(index), str(target)))

    @rx.event
    def remove_target(self, index: int, target: str) -> None:
        self._show(P.remove_target(self._form, int(index), str(target)))

    @rx.event
    def search_people(self, index: int, query: str) -> None:
        self.person_step, self.person_query = int(index), str(query)
        self.people = P.people_matching(self._config(), self.person_query)
