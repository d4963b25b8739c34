"""`GET /metrics`: Prometheus text exposition, computed from the database at scrape time.

Every figure comes from rows, not from one process's counters, so any web or API process
answers for the whole deployment and nothing is lost when a process restarts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

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

    metric("oncall_incidents", "gauge", "Incidents by status (resolved: all time).")
    counts = {
        status: n
        for status, n in session.execute(
            select(IncidentRow.status, func.count()).group_by(IncidentRow.status)
        )
    }
    for status in ("triggered", "acknowledged", "resolved"):
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

    metric("oncall_notifications", "gauge", "Outbox rows by channel and status.")
    rows = session.execute(
        select(NotificationRow.channel, NotificationRow.status, func.count()).group_by(
            NotificationRow.channel, NotificationRow.status
        )
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

    metric("oncall_reconcile_runs", "counter", "Reconcile runs by result.")
    for result, n in sorted(
        session.execute(
            select(ReconcileRunRow.result, func.count()).group_by(ReconcileRunRow.result)
        ).all()
    ):
        out.append(_line("oncall_reconcile_runs", n, result=result))

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


def routes(ctx: ApiContext) -> list[BaseRoute]:
    async def metrics(request: Request) -> Response:
        with Session(ctx.engine) as session:
            text = render(session, ctx.clock())
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return [Route(PATH, metrics, methods=["GET"], name="metrics")]
