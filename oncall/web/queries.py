"""Read-side queries of the web app: incident lists and filters, one incident's story, change
detection for live updates. Reads only; every change goes through the service layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from oncall.db.models import (
    AlertRow,
    AuditEventRow,
    DeliveryAttemptRow,
    IncidentRow,
    NotificationRow,
    ServiceRow,
    UserRow,
)

STATUSES = ("triggered", "acknowledged", "resolved")
OPEN = "open"
MAX_PAGE_SIZE = 200
Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class IncidentFilter:
    status: str = OPEN  # open, triggered, acknowledged, resolved, all
    service: str = ""
    team: str = ""
    priority: str = ""
    text: str = ""
    page: int = 1
    page_size: int = 25


@dataclass(frozen=True)
class IncidentSummary:
    id: int
    title: str
    status: str
    priority: str | None
    urgency: str
    service: str
    team: str
    assignee: str | None
    alert_count: int
    triggered_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class IncidentPage:
    items: list[IncidentSummary]
    total: int
    counts: dict[str, int]
    """Incidents per status matching every filter but the status one."""


def _filtered(query: Q, f: IncidentFilter, *, with_status: bool) -> Q:
    if with_status:
        if f.status == OPEN:
            query = query.where(IncidentRow.status != "resolved")
        elif f.status in STATUSES:
            query = query.where(IncidentRow.status == f.status)
    if f.service:
        query = query.where(ServiceRow.name == f.service)
    if f.team:
        query = query.where(ServiceRow.team_name == f.team)
    if f.priority:
        query = query.where(IncidentRow.priority == f.priority)
    text = f.text.strip()
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses: list[ColumnElement[bool]] = [IncidentRow.title.ilike(pattern, escape="\\")]
        if text.lstrip("#").isdigit():
            clauses.append(IncidentRow.id == int(text.lstrip("#")))
        query = query.where(or_(*clauses))
    return query


def list_incidents(session: Session, f: IncidentFilter) -> IncidentPage:
    size = max(1, min(f.page_size, MAX_PAGE_SIZE))
    page = max(1, f.page)
    assignee = aliased(UserRow)
    base = (
        select(
            IncidentRow.id,
            IncidentRow.title,
            IncidentRow.status,
            IncidentRow.priority,
            IncidentRow.urgency,
            ServiceRow.name,
            ServiceRow.team_name,
            assignee.email,
            IncidentRow.alert_count,
            IncidentRow.triggered_at,
            IncidentRow.updated_at,
        )
        .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
        .outerjoin(assignee, assignee.id == IncidentRow.assignee_id)
    )
    query = (
        _filtered(base, f, with_status=True)
        .order_by(IncidentRow.triggered_at.desc(), IncidentRow.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    items = [IncidentSummary(*row) for row in session.execute(query)]
    count_query = _filtered(
        select(IncidentRow.status, func.count())
        .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
        .group_by(IncidentRow.status),
        f,
        with_status=False,
    )
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: n for status, n in session.execute(count_query)})
    counts[OPEN] = counts["triggered"] + counts["acknowledged"]
    counts["all"] = counts[OPEN] + counts["resolved"]
    total = counts.get(f.status, counts[OPEN])
    return IncidentPage(items, total, counts)


def last_change(session: Session) -> str:
    """A value that changes whenever an incident or its timeline changes: cheap to poll."""
    events_max = session.scalar(select(func.max(AuditEventRow.id)))
    updated_max = session.scalar(select(func.max(IncidentRow.updated_at)))
    return f"{events_max or 0}|{updated_max.isoformat() if updated_max else ''}"


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    actor: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertSummary:
    id: int
    integration: str
    status: str
    severity: str | None
    summary: str
    source: str | None
    received_at: datetime
    labels: dict[str, Any]


@dataclass(frozen=True)
class IncidentDetail:
    incident: IncidentSummary
    description: str | None
    labels: dict[str, Any]
    escalation_policy: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    alerts: list[AlertSummary]
    timeline: list[TimelineEntry]


def _describe(event: AuditEventRow) -> str:
    data = event.data or {}
    after = event.after if isinstance(event.after, dict) else {}
    before = event.before if isinstance(event.before, dict) else {}
    kind = event.type
    if kind == "incident.triggered":
        return f"Triggered: {data.get('title', '')}".strip()
    if kind == "incident.acknowledged":
        return "Acknowledged"
    if kind == "incident.resolved":
        note = data.get("note")
        return f"Resolved: {note}" if note else "Resolved"
    if kind == "incident.reassigned":
        return f"Reassigned to {after.get('assignee', '?')}"
    if kind == "incident.priority_changed":
        return f"Priority {before.get('priority') or 'none'} → {after.get('priority')}"
    if kind == "incident.note":
        return str(data.get("text", ""))
    if kind == "incident.escalated":
        return "Escalated" + (f" to step {data['step'] + 1}" if "step" in data else "")
    parts = [
        f"{k}={v}"
        for k, v in data.items()
        if k != "via" and v is not None and not isinstance(v, dict | list)
    ]
    return ", ".join(parts)


def incident_detail(session: Session, incident_id: int) -> IncidentDetail | None:
    assignee = aliased(UserRow)
    row = session.execute(
        select(IncidentRow, ServiceRow.name, ServiceRow.team_name, assignee.email)
        .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
        .outerjoin(assignee, assignee.id == IncidentRow.assignee_id)
        .where(IncidentRow.id == incident_id)
    ).first()
    if row is None:
        return None
    incident, service, team, assignee_email = row
    summary = IncidentSummary(
        incident.id,
        incident.title,
        incident.status,
        incident.priority,
        incident.urgency,
        service,
        team,
        assignee_email,
        incident.alert_count,
        incident.triggered_at,
        incident.updated_at,
    )
    alerts = [
        AlertSummary(
            a.id,
            a.integration_name,
            a.status,
            a.severity,
            a.summary,
            a.source,
            a.received_at,
            dict(a.labels or {}),
        )
        for a in session.scalars(
            select(AlertRow).where(AlertRow.incident_id == incident_id).order_by(AlertRow.id)
        )
    ]
    timeline = [
        TimelineEntry(e.at, e.type, e.actor, _describe(e), dict(e.data or {}))
        for e in session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.incident_id == incident_id)
            .order_by(AuditEventRow.at, AuditEventRow.id)
        )
    ]
    timeline.extend(_notification_entries(session, incident_id))
    timeline.sort(key=lambda t: t.at)
    return IncidentDetail(
        summary,
        incident.description,
        dict(incident.labels or {}),
        incident.escalation_policy_name,
        incident.acknowledged_at,
        incident.resolved_at,
        alerts,
        timeline,
    )


def _notification_entries(session: Session, incident_id: int) -> list[TimelineEntry]:
    """Every notification attempt and its outcome, as timeline entries."""
    found: list[TimelineEntry] = []
    rows = session.execute(
        select(NotificationRow, UserRow.email)
        .outerjoin(UserRow, UserRow.id == NotificationRow.user_id)
        .where(NotificationRow.incident_id == incident_id)
        .order_by(NotificationRow.id)
    ).all()
    if not rows:
        return found
    attempts: dict[int, list[DeliveryAttemptRow]] = {}
    for attempt in session.scalars(
        select(DeliveryAttemptRow)
        .where(DeliveryAttemptRow.notification_id.in_([n.id for n, _ in rows]))
        .order_by(DeliveryAttemptRow.attempt)
    ):
        attempts.setdefault(attempt.notification_id, []).append(attempt)
    for notification, email in rows:
        who = email or notification.address
        found.append(
            TimelineEntry(
                notification.created_at,
                "notification.queued",
                "system:oncall",
                f"{notification.kind.capitalize()} to {who} by {notification.channel} "
                f"({notification.status})",
            )
        )
        for a in attempts.get(notification.id, []):
            detail = f": {a.error}" if a.error else ""
            found.append(
                TimelineEntry(
                    a.finished_at or a.started_at,
                    "notification.attempt",
                    f"provider:{a.provider}",
                    f"{notification.channel} to {who}, attempt {a.attempt}: {a.outcome}{detail}",
                )
            )
    return found
