"""The schedule editor (/schedules/new, /schedules/NAME/edit): a form that writes a Schedule
document, its next two weeks of shifts previewed live, and the review panel.

The editor writes YAML only. The preview is computed by the schedule core from the edited
document itself, not from the database, so it shows what the schedule would do once merged and
applied. Every edit re-runs the review (validation and plan), which takes a fraction of a
second: text fields send their value after a pause in typing, not on every key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import reflex as rx

from oncall.config.types import WEEKDAYS
from oncall.web import context
from oncall.web.editor import schedule_form as sf
from oncall.web.editor.review import read_document
from oncall.web.state.editor_review import ReviewMixin
from oncall.web.state.session import SessionState

TOP_FIELDS = ("name", "description", "team", "timezone")
LAYER_FIELDS = ("name", "type", "length", "rrule", "start_date", "handoff", "until")
WINDOW_FIELDS = ("from", "to")


class ScheduleEditorState(ReviewMixin, SessionState):
    missing: bool = False
    fields: dict[str, str] = {}  # noqa: RUF012
    layers: list[dict[str, str]] = []  # noqa: RUF012
    layer_members: list[list[str]] = []  # noqa: RUF012
    layer_windows: list[list[dict[str, str]]] = []  # noqa: RUF012
    member_query: list[str] = []  # noqa: RUF012
    member_matches: list[list[dict[str, str]]] = []  # noqa: RUF012
    teams: list[str] = []  # noqa: RUF012
    people: dict[str, str] = {}  # noqa: RUF012
    """email → name of everyone in a team of the applied config."""
    preview_rows: list[dict[str, str]] = []  # noqa: RUF012
    preview_from: str = ""
    preview_to: str = ""
    preview_tz: str = ""
    _kept: dict[str, Any] = {}  # noqa: RUF012

    # --- ReviewMixin's hooks ---------------------------------------------------------------

    def _editor_kind(self) -> str:
        return "Schedule"

    def _form(self) -> sf.Form:
        return sf.Form(dict(self.fields), [dict(x) for x in self.layers],
                       [list(m) for m in self.layer_members],
                       [[dict(w) for w in ws] for ws in self.layer_windows], dict(self._kept))

    def _editor_document(self) -> dict[str, Any]:
        return sf.to_document(self._form())

    def _editor_teams(self) -> list[str]:
        teams = [self.fields.get("team", "")]
        if self.original:
            applied = self._config().schedules.get(self.original)
            if applied is not None:
                teams.append(applied.team)
        return [t for t in teams if t]

    # --- loading ---------------------------------------------------------------------------

    def _route_name(self) -> str:
        raw = self.router.page.params.get("schedule", "") or ""
        return str(raw[0] if isinstance(raw, list) else raw)

    def _show(self, form: sf.Form) -> None:
        self.fields, self.layers = form.fields, form.layers
        self.layer_members, self.layer_windows, self._kept = (
            form.members, form.restrictions, form.kept)
        self.member_query = ["" for _ in form.layers]
        self.member_matches = [[] for _ in form.layers]

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._clear_pull_request()
        self.original = self._route_name()
        self.missing = False
        now = context.now()
        with context.read_session() as session:
            config = context.config(session)
            self.teams = sorted(config.teams)
            self.people = {e: u.name or e for e, u in sorted(config.users.items())}
        if self.original:
            raw = read_document(Path(context.web_settings().config_dir), "Schedule", self.original)
            if raw is None:
                self.missing = True
                self.error = (f"Schedule {self.original!r} is not in the config repo "
                              f"({context.web_settings().config_dir}).")
                return None
            self._show(sf.from_document(raw))
        else:
            mine = [t for t, role in sorted(self._team_roles.items()) if role == "admin"]
            team = (mine or sorted(self._team_roles) or self.teams or [""])[0]
            self._show(sf.blank(team, "Etc/UTC", now.date()))
        self._update()
        return None

    def _update(self) -> None:
        """After every edit: the preview from the edited document, and the review."""
        self._clear_pull_request()
        document = self._editor_document()
        schedule = sf.parse(document)
        start, end = sf.preview_window(context.now())
        self.preview_from = start.isoformat().replace("+00:00", "Z")
        self.preview_to = end.isoformat().replace("+00:00", "Z")
        if schedule is None:
            self.preview_rows, self.preview_tz = [], ""
        else:
            self.preview_rows = sf.preview(schedule, start, end)
            self.preview_tz = schedule.timezone.key
        self._run_review()

    # --- editing ---------------------------------------------------------------------------

    @rx.event
    def set_field(self, name: str, value: str) -> None:
        if name in TOP_FIELDS:
            self.fields = {**self.fields, name: str(value)}
            self._update()

    def _layer_ok(self, i: Any) -> int | None:
        index = int(i)
        return index if 0 <= index < len(self.layers) else None

    @rx.event
    def set_layer_field(self, i: int, name: str, value: str) -> None:
        index = self._layer_ok(i)
        if index is None or name not in LAYER_FIELDS:
            return
        layers = [dict(x) for x in self.layers]
        layers[index][name] = str(value)
        self.layers = layers
        self._update()

    @rx.event
    def add_layer(self) -> None:
        taken = {x["name"] for x in self.layers}
        n = len(self.layers) + 1
        while f"layer-{n}" in taken:
            n += 1
        self.layers = [*self.layers, sf.new_layer(f"layer-{n}", context.now().date())]
        self.layer_members = [*self.layer_members, []]
        self.layer_windows = [*self.layer_windows, []]
        self.member_query = [*self.member_query, ""]
        self.member_matches = [*self.member_matches, []]
        self._update()

    @rx.event
    def remove_layer(self, i: int) -> None:
        index = self._layer_ok(i)
        if index is None:
            return
        for name in ("layers", "layer_members", "layer_windows", "member_query",
                     "member_matches"):
            values = list(getattr(self, name))
            del values[index]
            setattr(self, name, values)
        self._update()

    @rx.event
    def search_members(self, i: int, query: str) -> None:
        index = self._layer_ok(i)
        if index is None:
            return
        queries = list(self.member_query)
        queries[index] = str(query)
        self.member_query = queries
        matches = [list(m) for m in self.member_matches]
        matches[index] = sf.search_people(self.people, str(query), self.layer_members[index])
        self.member_matches = matches

    @rx.event
    def add_member(self, i: int, email: str) -> None:
        index = self._layer_ok(i)
        if index is None or email not in self.people or email in self.layer_members[index]:
            return
        members = [list(m) for m in self.layer_members]
        members[index].append(email)
        self.layer_members = members
        self.member_query = [("" if k == index else q) for k, q in enumerate(self.member_query)]
        self.member_matches = [([] if k == index else m)
                               for k, m in enumerate(self.member_matches)]
        self._update()

    @rx.event
    def remove_member(self, i: int, j: int) -> None:
        index = self._layer_ok(i)
        if index is None or not 0 <= int(j) < len(self.layer_members[index]):
            return
        members = [list(m) for m in self.layer_members]
        del members[index][int(j)]
        self.layer_members = members
        self._update()

    @rx.event
    def move_member_up(self, i: int, j: int) -> None:
        """Earlier in the list: the order is the order of turns."""
        index, k = self._layer_ok(i), int(j)
        if index is None or not 0 < k < len(self.layer_members[index]):
            return
        members = [list(m) for m in self.layer_members]
        row = members[index]
        row[k - 1], row[k] = row[k], row[k - 1]
        self.layer_members = members
        self._update()

    @rx.event
    def add_window(self, i: int) -> None:
        index = self._layer_ok(i)
        if index is None:
            return
        windows = [list(w) for w in self.layer_windows]
        windows[index].append(sf.new_restriction())
        self.layer_windows = windows
        self._update()

    def _window(self, i: Any, k: Any) -> tuple[int, int] | None:
        index = self._layer_ok(i)
        if index is None or not 0 <= int(k) < len(self.layer_windows[index]):
            return None
        return index, int(k)

    @rx.event
    def remove_window(self, i: int, k: int) -> None:
        found = self._window(i, k)
        if found is None:
            return
        windows = [list(w) for w in self.layer_windows]
        del windows[found[0]][found[1]]
        self.layer_windows = windows
        self._update()

    @rx.event
    def set_window_field(self, i: int, k: int, name: str, value: str) -> None:
        found = self._window(i, k)
        if found is None or name not in WINDOW_FIELDS:
            return
        windows = [[dict(x) for x in w] for w in self.layer_windows]
        windows[found[0]][found[1]][name] = str(value)
        self.layer_windows = windows
        self._update()

    @rx.event
    def toggle_day(self, i: int, k: int, day: str, on: bool) -> None:
        found = self._window(i, k)
        if found is None or day not in WEEKDAYS:
            return
        windows = [[dict(x) for x in w] for w in self.layer_windows]
        window = windows[found[0]][found[1]]
        days = set(window["days"].split(",")) - {""}
        days = days | {day} if on else days - {day}
        window["days"] = ",".join(d for d in WEEKDAYS if d in days)
        self.layer_windows = windows
        self._update()
