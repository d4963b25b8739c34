"""`GET /metrics`: the deployment's figures, computed from the database at scrape time, and
the processes' own histograms, through prometheus-client.

The database figures (`DatabaseFigures`, a custom collector) come from rows, not from one
process's counters, so any web or API process answers for the whole deployment and nothing is
lost when a process restarts. The histograms of ingest latency, alert-to-first-page latency,
provider calls and the sweeper (`oncall.observability.metrics`) are per process: merged from
every process sharing `PROMETHEUS_MULTIPROC_DIR` when it is set, else this process's own.

Access: a bearer token (`ONCALL_METRICS_TOKEN`), compared in constant time. Without the setting
the route answers 404, as if it did not exist; with it, a request without the right token gets
401. Cost: each figure is read through an index on a status column (open incidents, the
undelivered outbox, overdue timers, recent reconcile runs), never by counting a whole table, and
a process answers repeated scrapes from the figures it read within the last `CACHE_SECONDS`.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import anyio.to_thread
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
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
from oncall.observability import metrics as process_metrics
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


Families = list[Metric]


def _gauge(name: str, help_text: str, labels: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, help_text, labels=list(labels))


def _incidents(session: Session, _now: datetime) -> Families:
    family = _gauge("oncall_incidents", "Open incidents by status.", ["status"])
    counts: dict[str, int] = {status: count for status, count in session.execute(
        select(IncidentRow.status, func.count())
        .where(IncidentRow.status.in_(OPEN_INCIDENT_STATUSES))
        .group_by(IncidentRow.status)
    )}
    for status in OPEN_INCIDENT_STATUSES:
        family.add_metric([status], counts.get(status, 0))
    return [family]


def _overdue_timers(session: Session, now: datetime) -> Families:
    overdue = session.scalar(
        select(func.count())
        .select_from(EscalationTimerRow)
        .where(EscalationTimerRow.status == timers.PENDING,
               EscalationTimerRow.due_at < now - OVERDUE)
    )
    return [GaugeMetricFamily(
        "oncall_escalation_timers_overdue",
        "Pending escalation steps more than 30 s past due: non-zero means no worker is running.",
        value=overdue or 0)]


def _notifications(session: Session, _now: datetime) -> Families:
    family = _gauge("oncall_notifications", "Undelivered outbox rows by channel and status.",
                    ["channel", "status"])
    rows = session.execute(
        select(NotificationRow.channel, NotificationRow.status, func.count())
        .where(NotificationRow.status.in_(UNDELIVERED_STATUSES))
        .group_by(NotificationRow.channel, NotificationRow.status)
    ).all()
    for channel, status, n in sorted(rows):
        family.add_metric([channel, status], n)
    return [family]


def _circuits(session: Session, _now: datetime) -> Families:
    family = _gauge("oncall_provider_circuit_open",
                    "1 while a provider's circuit breaker is open or half-open.", ["provider"])
    for provider, circuit in session.execute(
        select(ProviderCircuitRow.provider, ProviderCircuitRow.circuit)
    ).all():
        family.add_metric([provider], circuit != "closed")
    return [family]


def _reconcile(session: Session, now: datetime) -> Families:
    runs = _gauge("oncall_reconcile_runs_24h", "Reconcile runs started in the last 24 h.",
                  ["result"])
    for result, n in sorted(session.execute(
        select(ReconcileRunRow.result, func.count())
        .where(ReconcileRunRow.started_at >= now - RECENT)
        .group_by(ReconcileRunRow.result)
    ).all()):
        runs.add_metric([result], n)
    ok = _gauge("oncall_reconcile_last_run_ok", "1 if the latest reconcile run applied (or "
                "found nothing to do), 0 if it failed.")
    out: Families = [runs, ok]
    last = session.execute(
        select(ReconcileRunRow.result, ReconcileRunRow.finished_at)
        .order_by(ReconcileRunRow.id.desc())
        .limit(1)
    ).first()
    if last is not None:
        ok.add_metric([], last.result == "applied")
        out.append(GaugeMetricFamily("oncall_reconcile_last_run_timestamp_seconds",
                                     "When the latest reconcile run finished.",
                                     value=last.finished_at.timestamp()))
    return out


def _oldest_due_page(session: Session, now: datetime) -> Families:
    oldest = session.scalar(
        select(func.min(NotificationRow.next_attempt_at))
        .where(NotificationRow.status == NotificationStatus.PENDING.value,
               NotificationRow.next_attempt_at <= now, NotificationRow.kind == "page")
    )
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return [GaugeMetricFamily(
        "oncall_oldest_due_page_seconds",
        "How long the most overdue pending page has waited past its due time (0: none "
        "waiting): pages are due but not being sent.", value=round(age, 3))]


FAMILIES = (_incidents, _overdue_timers, _notifications, _oldest_due_page, _circuits,
            _reconcile)
"""Each metric family read from the database, in the order they are exposed."""


def _heartbeats(session: Session, now: datetime, config: ConfigSet) -> Families:
    """Each applied Heartbeat's state from its last ping (`core.heartbeats.status`)."""
    beats = config.heartbeats
    up = _gauge("oncall_heartbeat_up", "0 while a heartbeat is down (no ping for interval + "
                "grace), else 1 (never pinged counts as up: it pages no one).",
                ["heartbeat", "service"])
    state_family = _gauge("oncall_heartbeat_state", "1 for the heartbeat's current state: "
                          "never, up, late, down.", ["heartbeat", "state"])
    last = _gauge("oncall_heartbeat_last_ping_timestamp_seconds",
                  "When the heartbeat was last pinged.", ["heartbeat"])
    stored = heartbeat_store.states(session.connection(), sorted(beats))
    statuses = {name: heartbeat_status(beat, stored[name].last_ping_at if name in stored
                                       else None, now) for name, beat in sorted(beats.items())}
    for name, st in statuses.items():
        up.add_metric([name, beats[name].service], st.state != HeartbeatState.DOWN)
        for state in HeartbeatState:
            state_family.add_metric([name, state.value], st.state == state)
        if st.last_ping_at is not None:
            last.add_metric([name], st.last_ping_at.timestamp())
    return [up, state_family, last]


def _rate_limited(config: ConfigSet, limiter: Limiter) -> Families:
    """Alerts each integration had refused for being over its rate limit (every process's)."""
    keys = {throttle.integration_key(i): i for i in sorted(config.integrations)}
    counts = limiter.refused(keys)
    family = CounterMetricFamily("oncall_rate_limited_total", "Deliveries an integration had "
                                 "refused (429) for being over its rate limit.",
                                 labels=["integration"])
    for key, integration in keys.items():
        family.add_metric([integration], counts.get(key, 0))
    return [family]


def families(session: Session, now: datetime, config: ConfigSet | None = None,
             limiter: Limiter | None = None) -> Families:
    """Every database figure, read in the caller's session (the heartbeats' and the rate
    limits' too, given the applied config and the buckets)."""
    out = [family for read in FAMILIES for family in read(session, now)]
    if config is not None and config.heartbeats:
        out += _heartbeats(session, now, config)
    if config is not None and limiter is not None:
        out += _rate_limited(config, limiter)
    return out


class _Listed:
    def __init__(self, found: Families) -> None:
        self.found = found

    def collect(self) -> Iterator[Metric]:
        return iter(self.found)


def render(found: Families) -> str:
    """The families in Prometheus text format (what a scrape of the database figures shows)."""
    return generate_latest(_Listed(found)).decode()


class _Cache:
    """The families read last, for `CACHE_SECONDS`: one process's scrapes share the queries."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._at = 0.0
        self._found: Families | None = None

    def get(self, compute: Callable[[], Families]) -> Families:
        with self._lock:  # concurrent scrapes wait for one read instead of each running it
            now = time.monotonic()
            if self._found is None or now - self._at >= self.seconds:
                self._found = compute()
                self._at = time.monotonic()
            return self._found


class DatabaseFigures(Collector):
    """A prometheus-client collector of the figures read from the database, cached."""

    def __init__(self, read: Callable[[], Families], cache: _Cache) -> None:
        self.read = read
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        return iter(self.cache.get(self.read))


def authorized(request: Request, token: str) -> bool:
    """True when the request carries `Authorization: Bearer <token>`; constant-time compare."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


@dataclass(frozen=True)
class Scrapes:
    """What the metrics handler needs: the app's context and this process's cached figures."""

    ctx: ApiContext
    cache: _Cache = field(default_factory=lambda: _Cache(CACHE_SECONDS))

    def read(self) -> Families:
        with Session(self.ctx.engine) as session:
            return families(session, self.ctx.clock(), self.ctx.config(session),
                            self.ctx.process.limits())

    def compute(self) -> str:
        """The database figures, read now (uncached)."""
        return render(self.read())

    def exposition(self, accept: str) -> tuple[bytes, str]:
        """A scrape's body and content type: the database figures (cached), then every
        process's histograms (`oncall.observability.metrics`), in the format the scraper
        asked for (Prometheus text, or OpenMetrics)."""
        encode, content_type = choose_encoder(accept)
        registry = process_metrics.registry(DatabaseFigures(self.read, self.cache))
        return encode(registry), content_type


OPERATION: Operation = {
    "operationId": "getMetrics",
    "summary": "Prometheus metrics for the whole deployment",
    "tags": ["meta"],
    "security": [{"metricsToken": []}],
    "responses": {
        "200": {"description": "Prometheus text exposition format (OpenMetrics when the "
                               "Accept header asks for application/openmetrics-text)",
                "content": {"text/plain": {"schema": {"type": "string"}},
                            "application/openmetrics-text": {"schema": {"type": "string"}}}},
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
    body, content_type = await anyio.to_thread.run_sync(
        scrapes.exposition, request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type})


def openapi_paths() -> dict[str, Any]:
    return {PATH: {"get": OPERATION}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [Route(PATH, bind(metrics, Scrapes(ctx)), methods=["GET"], name="metrics")]
