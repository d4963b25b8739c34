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
from oncall.web import catalog, context, format, graph, queries, service_view
from oncall.web.components import changes
from oncall.web.graph_render import GraphUnavailable, cached, render_async
from oncall.web.state.session import SessionState
from oncall.web.state.zoned import ZonedPage

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


ZOOM_STEPS = (25, 50, 75, 100, 150, 200, 300, 400)
"""The graph's scales, in percent of the size dot laid it out at."""
WIDE = 40
"""Above this many services the graph runs left to right: a long page to scroll down, not a
strip many screens wide."""


def parse_incident_id(raw: object) -> int | None:
    """`?incident=` as an incident id, or None when it is not one."""
    text = str(raw or "").strip().lstrip("#")
    return int(text) if text.isdigit() and len(text) < 12 else None


def next_zoom(current: int, step: int) -> int:
    """The zoom one step in (`step` 1) or out (-1) from `current`, within `ZOOM_STEPS`."""
    if step > 0:
        return next((z for z in ZOOM_STEPS if z > current), ZOOM_STEPS[-1])
    return next((z for z in reversed(ZOOM_STEPS) if z < current), ZOOM_STEPS[0])


class ServicesState(SessionState):
    cards: list[dict[str, Any]] = []  # noqa: RUF012
    selected: str = ""
    graph_svg: str = ""
    """The drawing, sanitised (`oncall.web.svg`), inserted as markup."""
    graph_error: str = ""
    graph_width: float = 0.0
    graph_count: int = 0
    zoom: int = 100
    teams: list[str] = []  # noqa: RUF012
    team_filter: str = "all"
    legend: list[dict[str, str]] = []  # noqa: RUF012
    focus_text: str = ""
    focus_services: list[str] = []  # noqa: RUF012
    focus_error: str = ""
    _dot: str = ""

    @rx.var
    def svg_width(self) -> str:
        return f"{self.graph_width * self.zoom / 100:.1f}pt"

    def _graph_source(self) -> None:
        """The DOT of the graph as the page asks for it: team filter, an incident's blast
        radius from `?incident=`; drawn by `draw`."""
        raw = self.router.page.params.get("incident")
        wanted = parse_incident_id(raw)
        with context.read_session() as session:
            config = context.config(session)
            found = service_view.graph_services(session, config)
            focus = service_view.incident_focus(session, wanted) if wanted else None
        self.teams = ["all", *sorted({s.team for s in found})]
        if self.team_filter not in self.teams:
            self.team_filter = "all"
        radius: frozenset[str] | None = None
        self.focus_text, self.focus_services, self.focus_error = "", [], ""
        if focus is not None:
            radius = graph.blast_radius(found, focus.service)
            self.focus_text = (f"Blast radius of incident #{focus.incident_id} "
                               f"({focus.status}) on {focus.service}: {focus.title}")
            self.focus_services = sorted(radius)
        elif raw:
            self.focus_error = f"No incident {str(raw)[:40]!r}: showing the whole graph."
        team = None if self.team_filter == "all" else self.team_filter
        shown = [s for s in found if team is None or s.team == team]
        self.graph_count = len(shown)
        self.legend = [
            {"status": e.status, "fill": e.fill, "font": e.font, "words": e.words}
            for e in graph.legend()
        ]
        self._dot = graph.dot_source(found, team=team, focus=radius,
                                     rankdir="LR" if len(shown) > WIDE else "TB")

    def _refresh(self) -> None:
        self._graph_source()
        self._cards()

    def _cards(self) -> None:
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
                    for n in c.upstream if n.depth == 1  # the rest: the graph, its page
                ],
                "downstream": [
                    {"name": n.name, "indent": f"{(n.depth - 1) * 1.25}em", "open": str(n.open)}
                    for n in c.downstream if n.depth == 1
                ],
                "heartbeats": beats.get(c.name, []),
                "limited": limited.get(c.name, []),
                "changes": changes.rows(recent.get(c.name, []), self.tz),
            }
            for c in cards
        ]

    @rx.event
    def load(self) -> Any:
        """The graph first, the cards of every service in a second answer: the page's top
        (a drawing this process made before, sent with the first answer) does not wait for
        the browser to lay out two hundred cards."""
        guard = self._require()
        if guard is not None:
            return guard
        self._graph_source()
        drawn = cached(self._dot, self._graph_label()) if self._dot else None
        if drawn is not None:
            self.graph_svg, self.graph_width, self.graph_error = (
                drawn.markup, drawn.width_pt, "")
        elif self._dot:
            return [ServicesState.draw, ServicesState.show_cards]
        return ServicesState.show_cards

    @rx.event
    def show_cards(self) -> None:
        self._cards()

    def _graph_label(self) -> str:
        return f"Dependency graph of {self.graph_count} services"

    @rx.event
    def select(self, name: str) -> None:
        self.selected = "" if self.selected == name else name

    @rx.event
    async def draw(self) -> None:
        """Lay the graph out (`dot`, in a thread; cached by its source)."""
        if not self._dot:
            return
        try:
            drawn = await render_async(self._dot, self._graph_label())
        except GraphUnavailable as exc:
            self.graph_svg, self.graph_width, self.graph_error = "", 0.0, str(exc)
            return
        self.graph_svg, self.graph_width, self.graph_error = drawn.markup, drawn.width_pt, ""

    @rx.event
    def set_team_filter(self, team: str) -> Any:
        self.team_filter = team if team in self.teams else "all"
        self._graph_source()
        return ServicesState.draw

    @rx.event
    def zoom_in(self) -> None:
        self.zoom = next_zoom(self.zoom, 1)

    @rx.event
    def zoom_out(self) -> None:
        self.zoom = next_zoom(self.zoom, -1)

    @rx.event
    def zoom_reset(self) -> None:
        self.zoom = 100


class ConfigState(ZonedPage, SessionState):
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
    def set_kind_filter(self, kind: str) -> None:
        self.kind_filter = kind
        self._refresh()
