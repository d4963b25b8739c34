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
from datetime import datetime, timedelta

import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.db.models import (
    EscalationTimerRow,
    IncidentRow,
    NotificationRow,
    ProviderCircuitRow,
    ReconcileRunRow,
)

PATH = "/metrics"
OVERDUE = timedelta(seconds=30)
RECENT = timedelta(hours=24)
CACHE_SECONDS = 5.0
OPEN_INCIDENT_STATUSES = ("triggered", "acknowledged")
UNDELIVERED_STATUSES = ("pending", "sending")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _line(name: str, value: float, **labels: str) -> str:
    if labels:
        inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value:g}"
    return f"{name} {value:g}"


def render(session: Session, now: datetime) -> str:
    out: list[str] = []

    def metric(name: str, kind: str, help_text: str) -> None:
        out.append(f"# HELP {name} {help_text}")
        out.append(f"# TYPE {name} {kind}")

    metric("oncall_incidents", "gauge", "Open incidents by status.")
    counts = {
        status: n
        for status, n in session.execute(
            select(IncidentRow.status, func.count())
            .where(IncidentRow.status.in_(OPEN_INCIDENT_STATUSES))
            .group_by(IncidentRow.status)
        )
    }
    for status in OPEN_INCIDENT_STATUSES:
        out.append(_line("oncall_incidents", counts.get(status, 0), status=status))

    metric(
        "oncall_escalation_timers_overdue",
        "gauge",
        "Pending escalation steps more than 30 s past due: non-zero means no worker is running.",
    )
    overdue = session.scalar(
        select(func.count())
        .select_from(EscalationTimerRow)
        .where(EscalationTimerRow.status == "pending", EscalationTimerRow.due_at < now - OVERDUE)
    )
    out.append(_line("oncall_escalation_timers_overdue", overdue or 0))

    metric("oncall_notifications", "gauge", "Undelivered outbox rows by channel and status.")
    rows = session.execute(
        select(NotificationRow.channel, NotificationRow.status, func.count())
        .where(NotificationRow.status.in_(UNDELIVERED_STATUSES))
        .group_by(NotificationRow.channel, NotificationRow.status)
    ).all()
    for channel, status, n in sorted(rows):
        out.append(_line("oncall_notifications", n, channel=channel, status=status))

    metric(
        "oncall_provider_circuit_open",
        "gauge",
        "1 while a provider's circuit breaker is open or half-open.",
    )
    for provider, circuit in session.execute(
        select(ProviderCircuitRow.provider, ProviderCircuitRow.circuit)
    ).all():
        out.append(_line("oncall_provider_circuit_open", circuit != "closed", provider=provider))

    metric("oncall_reconcile_runs_24h", "gauge", "Reconcile runs started in the last 24 h.")
    for result, n in sorted(
        session.execute(
            select(ReconcileRunRow.result, func.count())
            .where(ReconcileRunRow.started_at >= now - RECENT)
            .group_by(ReconcileRunRow.result)
        ).all()
    ):
        out.append(_line("oncall_reconcile_runs_24h", n, result=result))

    metric(
        "oncall_reconcile_last_run_ok",
        "gauge",
        "1 if the latest reconcile run applied (or found nothing to do), 0 if it failed.",
    )
    last = session.execute(
        select(ReconcileRunRow.result, ReconcileRunRow.finished_at)
        .order_by(ReconcileRunRow.id.desc())
        .limit(1)
    ).first()
    if last is not None:
        out.append(_line("oncall_reconcile_last_run_ok", last.result == "applied"))
        metric(
            "oncall_reconcile_last_run_timestamp_seconds",
            "gauge",
            "When the latest reconcile run finished.",
        )
        out.append(
            _line("oncall_reconcile_last_run_timestamp_seconds", last.finished_at.timestamp())
        )
    return "\n".join(out) + "\n"


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


def routes(ctx: ApiContext) -> list[BaseRoute]:
    cache = _Cache(CACHE_SECONDS)

    def compute() -> str:
        with Session(ctx.engine) as session:
            return render(session, ctx.clock())

    async def metrics(request: Request) -> Response:
        token = ctx.settings.metrics_token
        if not token:
            return problems.problem(404, f"no such resource: {PATH}", instance=PATH)
        if not authorized(request, token):
            return problems.problem(
                401,
                "a metrics scrape needs Authorization: Bearer <ONCALL_METRICS_TOKEN>",
                instance=PATH,
                headers={"WWW-Authenticate": 'Bearer realm="oncall metrics"'},
            )
        text = await anyio.to_thread.run_sync(cache.get, compute)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return [Route(PATH, metrics, methods=["GET"], name="metrics")]
