"""The incident page's runbooks: the "Run runbook" form built from the runbook's parameter
schema, and each run's result, kept live with the rest of the page.

The form only collects text; the server converts and validates it (`oncall.core.runbooks`)
and answers with each problem beside its field. Who may run which runbook is decided by the
service layer on every submit (`oncall.incidents.access.require_runbook`); `can_run_runbooks`
only hides the buttons from those it would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import reflex as rx

from oncall.config.configset import ConfigSet
from oncall.core.runbooks import WHOLE, Rejected, form_fields, runnable
from oncall.incidents.access import may_run_runbooks
from oncall.incidents.actors import Actor
from oncall.incidents.events import params_text
from oncall.incidents.runbooks import Requested, RunView
from oncall.web import actions, context, format

T = TypeVar("T")


def run_row(run: RunView, tz: str) -> dict[str, str]:
    """One run as the page shows it."""
    return {
        "runbook": run.runbook,
        "by": run.by,
        "at": format.when(run.at, tz),
        "params": params_text(run.params),
        "state": run.state,
        "http": str(run.status_code) if run.status_code is not None else "",
        "attempt": str(run.attempt) if run.attempt else "",
        "duration": f"{run.duration_ms} ms" if run.duration_ms else "",
        "detail": run.detail,
    }


class RunbookFormMixin(rx.State, mixin=True):
    runbook_name: str = ""
    """The runbook whose form is open; "" when none is."""
    runbook_fields: list[dict[str, str]] = []  # noqa: RUF012
    runbook_options: dict[str, list[str]] = {}  # noqa: RUF012
    runbook_values: dict[str, str] = {}  # noqa: RUF012
    runbook_errors: dict[str, str] = {}  # noqa: RUF012
    runbook_problem: str = ""
    """A problem of the parameters as a whole, or of the request."""
    runbook_description: str = ""
    runbook_runs: list[dict[str, str]] = []  # noqa: RUF012
    can_run_runbooks: bool = False

    if TYPE_CHECKING:  # provided by IncidentState and SessionState
        incident_id: int
        error: str
        notice: str
        tz: str

        def _actor(self) -> Actor: ...
        def _act(self, action: Callable[[Actor], T]) -> T | None: ...
        def _refresh(self) -> None: ...

    def _show_runs(self, runs: list[RunView], team: str | None, service: str,
                   config: ConfigSet, actor: Actor | None) -> list[str]:
        """Note the runs and whether this person may start one; the runnable names."""
        self.runbook_runs = [run_row(r, self.tz) for r in runs]
        self.can_run_runbooks = actor is not None and may_run_runbooks(actor, team)
        return runnable(config, service)

    @rx.event
    def open_runbook(self, name: str) -> None:
        self.error = self.runbook_problem = ""
        self.runbook_errors = {}
        with context.read_session() as session:
            found = context.config(session).runbooks.get(name)
        if found is None:
            self.error = f"runbook {name!r} is not in the applied config"
            return
        fields = form_fields(found.parameters)
        self.runbook_name = name
        self.runbook_description = found.description or ""
        self.runbook_fields = [
            {"name": f.name, "kind": f.kind, "label": f.label, "description": f.description,
             "required": "yes" if f.required else ""}
            for f in fields
        ]
        self.runbook_options = {f.name: list(f.options) for f in fields}
        self.runbook_values = {f.name: f.default for f in fields}

    @rx.event
    def close_runbook(self) -> None:
        self._close_runbook()

    def _close_runbook(self) -> None:
        self.runbook_name = self.runbook_problem = ""
        self.runbook_fields, self.runbook_values, self.runbook_errors = [], {}, {}
        self.runbook_options = {}

    @rx.event
    def set_runbook_value(self, name: str, value: str | bool) -> None:
        if name not in self.runbook_values:
            return
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        self.runbook_values = {**self.runbook_values, name: text}
        if name in self.runbook_errors:
            self.runbook_errors = {k: v for k, v in self.runbook_errors.items() if k != name}

    @rx.event
    def submit_runbook(self) -> None:
        name, iid = self.runbook_name, self.incident_id
        if not name:
            return
        self.runbook_errors, self.runbook_problem = {}, ""
        values = dict(self.runbook_values)

        def attempt(actor: Actor) -> Requested | Rejected:
            try:
                return actions.run_runbook(actor, iid, name, values)
            except Rejected as exc:  # answered beside the fields, not as the page's error
                return exc

        done = self._act(attempt)
        if isinstance(done, Rejected):
            self.runbook_errors = {k: v for k, v in done.problems.items() if k != WHOLE}
            self.runbook_problem = done.problems.get(WHOLE, "") or (
                "Some parameters are not valid: see the fields above.")
            return
        if done is None:  # refused: `_act` set the page's error; show it in the form too
            self.runbook_problem = self.error
            return
        self._close_runbook()
        self.notice = (f"Runbook {name} queued on incident #{iid}: its result appears under "
                       "Runbook runs as soon as it has run.")
        self._refresh()
