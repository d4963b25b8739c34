"""The dashboard's selection and its bulk acknowledge and resolve.

Every chosen incident goes through the single action's call (`actions.acknowledge`,
`actions.resolve`) under `_act`, which reads the session and the person's roles again and lets
the service layer refuse: a bulk action is the single action repeated, with the outcomes
gathered into one line (`oncall.web.bulk.summary`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import reflex as rx

from oncall.incidents.actors import Actor
from oncall.web import actions, bulk

T = TypeVar("T")


def _swap(change: Callable[[Actor, int], bool], incident_id: int, actor: Actor) -> bool:
    return change(actor, incident_id)


class BulkMixin(rx.State, mixin=True):
    selected: list[str] = []  # noqa: RUF012 - Reflex state var default
    bulk_resolving: bool = False
    bulk_note: str = ""

    if TYPE_CHECKING:  # provided by SessionState and IncidentsState
        error: str
        notice: str
        items: list[dict[str, str]]

        def _act(self, action: Callable[[Actor], T]) -> T | None: ...
        def _after_change(self) -> None: ...

    def _shown(self) -> list[str]:
        return [item["id"] for item in self.items]

    @rx.var
    def all_shown_selected(self) -> bool:
        return bulk.all_chosen(self.selected, self._shown())

    @rx.event
    def toggle_selected(self, incident_id: str) -> None:
        self.selected = bulk.toggle(self.selected, str(incident_id), self._shown())

    @rx.event
    def toggle_all_shown(self, _checked: Any = None) -> None:
        self.selected = bulk.toggle_all(self.selected, self._shown())

    @rx.event
    def clear_selection(self) -> None:
        self.selected = []

    def _run(self, verb: str, change: Callable[[Actor, int], bool]) -> None:
        outcomes: list[bulk.Outcome] = []
        for incident_id in [int(i) for i in self.selected]:
            result = self._act(partial(_swap, change, incident_id))
            if self.error:
                outcomes.append(bulk.Outcome(incident_id, bulk.Result.REFUSED, self.error))
            elif result is False:
                outcomes.append(bulk.Outcome(incident_id, bulk.Result.UNCHANGED))
            else:
                outcomes.append(bulk.Outcome(incident_id, bulk.Result.DONE))
        if not outcomes:
            self.error, self.notice = "Select one or more incidents first.", ""
            return
        line = bulk.summary(verb, outcomes)
        self.error, self.notice = (line, "") if bulk.any_refused(outcomes) else ("", line)
        self.selected = []
        self._after_change()

    @rx.event
    def bulk_acknowledge(self) -> None:
        self._run("acknowledged", actions.acknowledge)

    @rx.event
    def open_bulk_resolve(self) -> None:
        self.bulk_resolving, self.bulk_note = bool(self.selected), ""
        if not self.selected:
            self.error, self.notice = "Select one or more incidents first.", ""

    @rx.event
    def close_bulk_resolve(self) -> None:
        self.bulk_resolving, self.bulk_note = False, ""

    @rx.event
    def set_bulk_note(self, text: str) -> None:
        self.bulk_note = text

    @rx.event
    def bulk_resolve(self) -> None:
        note = self.bulk_note
        self.bulk_resolving, self.bulk_note = False, ""
        self._run("resolved", lambda actor, iid: actions.resolve(actor, iid, note))
