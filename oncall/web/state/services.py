"""The services catalog and where every config object came from."""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web import catalog, context, format
from oncall.web.state.session import SessionState


class ServicesState(SessionState):
    cards: list[dict[str, Any]] = []  # noqa: RUF012
    selected: str = ""

    def _refresh(self) -> None:
        with context.read_session() as session:
            cards = catalog.services(session, context.config(session))
        self.cards = [
            {
                "name": c.name,
                "description": c.description,
                "team": c.team,
                "policy": c.policy,
                "urgency": c.urgency,
                "open": str(c.open),
                "triggered": str(c.triggered),
                "status": "critical" if c.triggered else ("degraded" if c.open else "ok"),
                "upstream": [
                    {"name": n.name, "indent": f"{(n.depth - 1) * 1.25}em", "open": str(n.open)}
                    for n in c.upstream
                ],
                "downstream": [
                    {"name": n.name, "indent": f"{(n.depth - 1) * 1.25}em", "open": str(n.open)}
                    for n in c.downstream
                ],
            }
            for c in cards
        ]

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._refresh()
        return None

    @rx.event
    def select(self, name: str) -> None:
        self.selected = "" if self.selected == name else name


class ConfigState(SessionState):
    objects: list[dict[str, str]] = []  # noqa: RUF012
    run: dict[str, str] = {}  # noqa: RUF012
    run_errors: list[str] = []  # noqa: RUF012
    drift_count: int = 0
    kind_filter: str = "all"
    kinds: list[str] = []  # noqa: RUF012

    def _refresh(self) -> None:
        with context.read_session() as session:
            objects, last = catalog.provenance(session)
        self.kinds = ["all", *sorted({o.kind for o in objects})]
        self.drift_count = sum(1 for o in objects if o.drift)
        self.objects = [
            {
                "kind": o.kind,
                "name": o.name,
                "source": o.source,
                "revision": o.revision[:12],
                "applied": format.when(o.applied_at, self.tz),
                "by": o.applied_by,
                "drift": "drift" if o.drift else "",
            }
            for o in objects
            if self.kind_filter in ("all", o.kind)
        ]
        if last is None:
            self.run, self.run_errors = {}, []
        else:
            self.run = {
                "at": format.when(last.at, self.tz),
                "result": last.result,
                "revision": last.revision[:12],
                "actor": last.actor,
                "source": last.source,
                "changes": (
                    f"{last.created} created, {last.updated} updated, {last.deleted} deleted"
                ),
            }
            self.run_errors = [str(e) for e in last.errors][:50]

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._refresh()
        return self._ask_tz(ConfigState.apply_tz)

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()

    @rx.event
    def set_kind_filter(self, kind: str) -> None:
        self.kind_filter = kind
        self._refresh()
