"""`GET /metrics`: Prometheus text exposition, computed from the database at scrape time.

Every figure comes from rows, not from one process's counters, so any web or API process
answers for the whole deployment and nothing is lost when a process restarts.

Access: a bearer token (`ONCALL_METRICS_TOKEN`), compared in constant time. Without the setting
the route answers 404, as if it did not exist; with it, a request without the right token gets
401. Cost: each figure is read through an index on a status column (open incidents, the
undelivered outbox, overdue timers, recent reconcile runs), never by counting a whole table, and
a process answers repeated scrapes from the text it rendered within the last `CACHE_SECONDS`.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems, throttle
from oncall.api.app import ApiContext
from oncall.api.openapi import UNAVAILABLE, problem
from oncall.api.routing import Operation, bind
from oncall.config.configset import ConfigSet
from oncall.core.heartbeats import State as HeartbeatState
from oncall.core.heartbeats import status as heartbeat_status
from oncall.db.models import (
    EscalationTimerRow,
    IncidentRow,
    NotificationRow,
    ProviderCircuitRow,
    ReconcileRunRow,
)
from oncall.store import heartbeats as heartbeat_store
from oncall.store import timers
from oncall.store.outbox_status import NotificationStatus
from oncall.store.ratelimit import Limiter

PATH = "/metrics"
OVERDUE = timedelta(seconds=30)
RECENT = timedelta(hours=24)
CACHE_SECONDS = 5.0
OPEN_INCIDENT_STATUSES = ("triggered", "acknowledged")
UNDELIVERED_STATUSES = (NotificationStatus.PENDING.value, NotificationStatus.SENDING.value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, value: float, **labels: str) -> str:
    if labels:
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value:g}"
    return f"{name} {value:g}"


def _header(name: str, help_text: str, kind: str = "gauge") -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _incidents(session: Session, _now: datetime) -> list[str]:
    out = _header("oncall_incidents", "Open incidents by status.")
    counts: dict[str, int] = {status: count for status, count in session.execute(
        select(IncidentRow.status, func.count())
        .where(IncidentRow.status.in_(OPEN_INCIDENT_STATUSES))
        .group_by(IncidentRow.status)
    )}
    for status in OPEN_INCIDENT_STATUSES:
        out.append(_line("oncall_incidents", counts.get(status, 0), status=status))
    return out


def _overdue_timers(session: Session, now: datetime) -> list[str]:
    name = "oncall_escalation_timers_overdue"
    overdue = session.scalar(
        select(func.count())
        .select_from(EscalationTimerRow)
        .where(EscalationTimerRow.status == timers.PENDING,
               EscalationTimerRow.due_at < now - OVERDUE)
    )
    return [*_header(name, "Pending escalation steps more than 30 s past due: non-zero means "
                           "no worker is running."),
            _line(name, overdue or 0)]


def _notifications(session: Session, _now: datetime) -> list[str]:
    out = _header("oncall_notifications", "Undelivered outbox rows by channel and status.")
    rows = session.execute(
        select(NotificationRow.channel, NotificationRow.status, func.count())
        .where(NotificationRow.status.in_(UNDELIVERED_STATUSES))
        .group_by(NotificationRow.channel, NotificationRow.status)
    ).all()
    for channel, status, n in sorted(rows):
        out.append(_line("oncall_notifications", n, channel=channel, status=status))
    return out


def _circuits(session: Session, _now: datetime) -> list[str]:
    name = "oncall_provider_circuit_open"
    out = _header(name, "1 while a provider's circuit breaker is open or half-open.")
    for provider, circuit in session.execute(
        select(ProviderCircuitRow.provider, ProviderCircuitRow.circuit)
    ).all():
        out.append(_line(name, circuit != "closed", provider=provider))
    return out


def _reconcile(session: Session, now: datetime) -> list[str]:
    out = _header("oncall_reconcile_runs_24h", "Reconcile runs started in the last 24 h.")
    for result, n in sorted(session.execute(
        select(ReconcileRunRow.result, func.count())
        .where(ReconcileRunRow.started_at >= now - RECENT)
        .group_by(ReconcileRunRow.result)
    ).all()):
        out.append(_line("oncall_reconcile_runs_24h", n, result=result))
    out += _header("oncall_reconcile_last_run_ok", "1 if the latest reconcile run applied (or "
                   "found nothing to do), 0 if it failed.")
    last = session.execute(
        select(ReconcileRunRow.result, ReconcileRunRow.finished_at)
        .order_by(ReconcileRunRow.id.desc())
        .limit(1)
    ).first()
    if last is not None:
        name = "oncall_reconcile_last_run_timestamp_seconds"
        out += [_line("oncall_reconcile_last_run_ok", last.result == "applied"),
                *_header(name, "When the latest reconcile run finished."),
                _line(name, last.finished_at.timestamp())]
    return out


def _oldest_due_page(session: Session, now: datetime) -> list[str]:
    name = "oncall_oldest_due_page_seconds"
    oldest = session.scalar(
        select(func.min(NotificationRow.next_attempt_at))
        .where(NotificationRow.status == NotificationStatus.PENDING.value,
               NotificationRow.next_attempt_at <= now, NotificationRow.kind == "page")
    )
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return [*_header(name, "How long the most overdue pending page has waited past its due "
                           "time (0: none waiting): pages are due but not being sent."),
            _line(name, round(age, 3))]


FAMILIES = (_incidents, _overdue_timers, _notifications, _oldest_due_page, _circuits,
            _reconcile)
"""Each metric family's lines, in the order they are exposed."""


def _heartbeats(session: Session, now: datetime, config: ConfigSet) -> list[str]:
    """Each applied Heartbeat's state from its last ping (`core.heartbeats.status`)."""
    beats = config.heartbeats
    up, state_name, last_name = ("oncall_heartbeat_up", "oncall_heartbeat_state",
                                 "oncall_heartbeat_last_ping_timestamp_seconds")
    out = [*_header(up, "0 while a heartbeat is down (no ping for interval + grace), else 1 "
                        "(never pinged counts as up: it pages no one).")]
    stored = heartbeat_store.states(session.connection(), sorted(beats))
    statuses = {name: heartbeat_status(beat, stored[name].last_ping_at if name in stored
                                       else None, now) for name, beat in sorted(beats.items())}
    for name, st in statuses.items():
        out.append(_line(up, st.state != HeartbeatState.DOWN, heartbeat=name,
                         service=beats[name].service))
    out += _header(state_name, "1 for the heartbeat's current state: never, up, late, down.")
    for name, st in statuses.items():
        for state in HeartbeatState:
            out.append(_line(state_name, st.state == state, heartbeat=name, state=state.value))
    out += _header(last_name, "When the heartbeat was last pinged.")
    for name, st in statuses.items():
        if st.last_ping_at is not None:
            out.append(_line(last_name, st.last_ping_at.timestamp(), heartbeat=name))
    return out


def _rate_limited(config: ConfigSet, limiter: Limiter) -> list[str]:
    """Alerts each integration had refused for being over its rate limit (every process's)."""
    name = "oncall_rate_limited_total"
    keys = {throttle.integration_key(i): i for i in sorted(config.integrations)}
    counts = limiter.refused(keys)
    return [*_header(name, "Deliveries an integration had refused (429) for being over its "
                           "rate limit.", "counter"),
            *(_line(name, counts.get(key, 0), integration=integration)
              for key, integration in keys.items())]


def render(session: Session, now: datetime, config: ConfigSet | None = None,
           limiter: Limiter | None = None) -> str:
    """The exposition text: every family, read in the caller's session (the heartbeats' and
    the rate limits' too, given the applied config and the buckets)."""
    lines = [line for family in FAMILIES for line in family(session, now)]
    if config is not None and config.heartbeats:
        lines += _heartbeats(session, now, config)
    if config is not None and limiter is not None:
        lines += _rate_limited(config, limiter)
    return "\n".join(lines) + "\n"


class _Cache:
    """The text rendered last, for `CACHE_SECONDS`: one process's scrapes share the queries."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._at = 0.0
        self._text: str | None = None

    def get(self, compute: Callable[[], str]) -> str:
        with self._lock:  # concurrent scrapes wait for one render instead of each running it
            now = time.monotonic()
            if self._text is None or now - self._at >= self.seconds:
                self._text = compute()
                self._at = time.monotonic()
            return self._text


def authorized(request: Request, token: str) -> bool:
    """True when the request carries `Authorization: Bearer <token>`; constant-time compare."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


@dataclass(frozen=True)
class Scrapes:
    """What the metrics handler needs: the app's context and this process's rendered text."""

    ctx: ApiContext
    cache: _Cache = field(default_factory=lambda: _Cache(CACHE_SECONDS))

    def compute(self) -> str:
        with Session(self.ctx.engine) as session:
            return render(session, self.ctx.clock(), self.ctx.config(session),
                          self.ctx.process.limits())


OPERATION: Operation = {
    "operationId": "getMetrics",
    "summary": "Prometheus metrics for the whole deployment",
    "tags": ["meta"],
    "security": [{"metricsToken": []}],
    "responses": {
        "200": {"description": "Prometheus text exposition format 0.0.4",
                "content": {"text/plain": {"schema": {"type": "string"}}}},
        "401": problem("Missing or wrong ONCALL_METRICS_TOKEN"),
        "404": problem("ONCALL_METRICS_TOKEN is not set: the route does not exist"),
        "503": UNAVAILABLE,
    },
}


async def metrics(scrapes: Scrapes, request: Request) -> Response:
    """The text, after the token check; rendered off the event loop, at most every few seconds."""
    token = scrapes.ctx.settings.metrics_token
    if not token:
        return problems.problem(404, f"no such resource: {PATH}", instance=PATH)
    if not authorized(request, token):
        return problems.problem(
            401,
            "a metrics scrape needs Authorization: Bearer <ONCALL_METRICS_TOKEN>",
            instance=PATH,
            headers={"WWW-Authenticate": 'Bearer realm="oncall metrics"'},
        )
    text = await anyio.to_thread.run_sync(scrapes.cache.get, scrapes.compute)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")


def openapi_paths() -> dict[str, Any]:
    return {PATH: {"get": OPERATION}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [Route(PATH, bind(metrics, Scrapes(ctx)), methods=["GET"], name="metrics")]
