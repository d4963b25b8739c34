"""The services catalog and where every config object came from."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import reflex as rx
from sqlalchemy.orm import Session

from oncall.api import throttle
from oncall.config.configset import ConfigSet
from oncall.core.heartbeats import State
from oncall.core.heartbeats import status as heartbeat_status
from oncall.store import heartbeats as heartbeat_store
from oncall.store.ratelimit import Limiter
from oncall.web import catalog, context, format, queries
from oncall.web.components import changes
from oncall.web.state.session import SessionState

log = logging.getLogger(__name__)

HEARTBEAT_STATE_TEXT = {State.NEVER: "never pinged", State.UP: "up", State.LATE: "late",
                        State.DOWN: "down"}


def heartbeat_rows(session: Session, config: ConfigSet, now: datetime
                   ) -> dict[str, list[dict[str, str]]]:
    """Each service's heartbeats: name, state (`core.heartbeats.status`) and last ping."""
    beats = config.heartbeats
    if not beats:
        return {}
    stored = heartbeat_store.states(session.connection(), sorted(beats))
    out: dict[str, list[dict[str, str]]] = {}
    for name, beat in sorted(beats.items()):
        last = stored[name].last_ping_at if name in stored else None
        st = heartbeat_status(beat, last, now)
        out.setdefault(beat.service, []).append({
            "name": name, "state": HEARTBEAT_STATE_TEXT[st.state],
            "last": f"last ping {format.age(last, now)} ago" if last is not None else "",
            "every": f"every {beat.interval.text}"})
    return out


def rate_limited_rows(config: ConfigSet, limiter: Limiter) -> dict[str, list[dict[str, str]]]:
    """Each service's integrations that had deliveries refused for their rate limit."""
    keys = {throttle.integration_key(name): i for name, i in sorted(config.integrations.items())}
    try:
        counts = limiter.refused(keys)
    except Exception:
        log.warning("rate limit counts unavailable", exc_info=True)
        return {}
    out: dict[str, list[dict[str, str]]] = {}
    for key, integration in keys.items():
        refused = counts.get(key, 0)
        if refused:
            out.setdefault(integration.service, []).append({
                "integration": integration.name,
                "refused": f"{refused:,} {'delivery' if refused == 1 else 'deliveries'} "
                           "refused (rate limit)"})
    return out


class ServicesState(SessionState):
    cards: list[dict[str, Any]] = []  # noqa: RUF012
    selected: str = ""

    def _refresh(self) -> None:
        with context.read_session() as session:
            config = context.config(session)
            cards = catalog.services(session, config)
            beats = heartbeat_rows(session, config, context.now())
            limited = rate_limited_rows(config, context.current().limits())
            recent = queries.recent_changes(session, [c.name for c in cards], context.now())
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
                "heartbeats": beats.get(c.name, []),
                "limited": limited.get(c.name, []),
                "changes": changes.rows(recent.get(c.name, []), self.tz),
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
