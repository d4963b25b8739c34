"""Read-side queries over incidents for the REST API and the web app: lists with filters and
pagination, and one incident with its alerts and timeline. Nothing here writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

from sqlalchemy import Connection, Select, Table, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from oncall.core.workflows import WorkflowIncident
from oncall.db.models import (
    AlertRow,
    AuditEventRow,
    DeliveryAttemptRow,
    IncidentRow,
    NotificationRow,
    ServiceRow,
    UserRow,
)

MAX_LIMIT = 200
STATUSES = ("triggered", "acknowledged", "resolved")
OPEN_STATUSES = ("triggered", "acknowledged")


@dataclass(frozen=True)
class IncidentFilter:
    """Every field narrows the list; several values within one field mean any of them."""

    status: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    team: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    q: str | None = None
    """Words in the title (case-insensitive), or an incident number."""


@dataclass(frozen=True)
class IncidentItem:
    incident: IncidentRow
    service: str
    team: str
    assignee: str | None


@dataclass(frozen=True)
class IncidentPage:
    items: list[IncidentItem]
    next_before: int | None
    """The id to continue from (newest first), None on the last page."""
    total: int | None = None


@dataclass(frozen=True)
class IncidentDetail:
    item: IncidentItem
    alerts: list[AlertRow]
    timeline: list[AuditEventRow]
    users: dict[int, str] = field(default_factory=dict)
    """Emails of the users the incident refers to (acknowledged by, resolved by)."""


def _filtered(flt: IncidentFilter) -> Select[IncidentRow, ServiceRow]:
    stmt = select(IncidentRow, ServiceRow).join(ServiceRow, IncidentRow.service_id == ServiceRow.id)
    if flt.status:
        stmt = stmt.where(IncidentRow.status.in_(flt.status))
    if flt.service:
        stmt = stmt.where(ServiceRow.name.in_(flt.service))
    if flt.team:
        stmt = stmt.where(ServiceRow.team_name.in_(flt.team))
    if flt.priority:
        stmt = stmt.where(IncidentRow.priority.in_(flt.priority))
    if flt.q and flt.q.strip():
        text = flt.q.strip()
        conditions = [
            func.lower(IncidentRow.title).contains(word.lower(), autoescape=True)
            for word in text.split()
        ]
        title_match = and_(*conditions)
        number = text.lstrip("#")
        if number.isdigit() and len(number) < 18:
            stmt = stmt.where(or_(title_match, IncidentRow.id == int(number)))
        else:
            stmt = stmt.where(title_match)
    return stmt


def _emails(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(UserRow.id, UserRow.email).where(UserRow.id.in_(wanted)))
    return {row.id: row.email for row in rows}


def _items(session: Session, rows: Sequence[tuple[IncidentRow, ServiceRow]]) -> list[IncidentItem]:
    emails = _emails(session, (incident.assignee_id for incident, _ in rows))
    return [
        IncidentItem(
            incident, svc.name, svc.team_name,
            emails.get(incident.assignee_id) if incident.assignee_id is not None else None,
        )
        for incident, svc in rows
    ]


def list_incidents(
    session: Session,
    flt: IncidentFilter,
    *,
    limit: int = 50,
    before: int | None = None,
    page: int | None = None,
    count: bool = True,
) -> IncidentPage:
    """Newest first. Cursor paging (`before`, stable while incidents arrive) or numbered pages
    (`page`, 1-based, with a total count unless `count` is false: a caller that has the
    `status_counts` knows it)."""
    limit = max(1, min(limit, MAX_LIMIT))
    stmt = _filtered(flt)
    total: int | None = None
    if page is not None:
        if count:
            total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        stmt = stmt.order_by(IncidentRow.id.desc()).offset((max(page, 1) - 1) * limit)
    else:
        if before is not None:
            stmt = stmt.where(IncidentRow.id < before)
        stmt = stmt.order_by(IncidentRow.id.desc())
    rows: list[tuple[IncidentRow, ServiceRow]] = [
        (incident, svc) for incident, svc in session.execute(stmt.limit(limit + 1))
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    next_before = rows[-1][0].id if more and rows else None
    return IncidentPage(_items(session, rows), next_before, total)


def status_counts(session: Session, flt: IncidentFilter) -> dict[str, int]:
    """Incidents per status matching every field of `flt` but its status."""
    stmt = (_filtered(replace(flt, status=()))
            .with_only_columns(IncidentRow.status, func.count())
            .group_by(IncidentRow.status))
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: n for status, n in session.execute(stmt)})
    return counts


def incident_detail(session: Session, incident_id: int) -> IncidentDetail | None:
    row = session.execute(
        select(IncidentRow, ServiceRow)
        .join(ServiceRow, IncidentRow.service_id == ServiceRow.id)
        .where(IncidentRow.id == incident_id)
    ).first()
    if row is None:
        return None
    incident, svc = row[0], row[1]
    item = _items(session, [(incident, svc)])[0]
    alerts = list(
        session.scalars(
            select(AlertRow).where(AlertRow.incident_id == incident_id).order_by(AlertRow.id)
        )
    )
    timeline = list(
        session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.incident_id == incident_id)
            .order_by(AuditEventRow.at, AuditEventRow.id)
        )
    )
    users = _emails(session, (incident.acknowledged_by_id, incident.resolved_by_id,
                              incident.assignee_id))
    return IncidentDetail(item, alerts, timeline, users)


@dataclass(frozen=True)
class Delivery:
    """One notification owed on an incident, with every provider attempt made for it."""

    notification: NotificationRow
    person: str | None
    attempts: list[DeliveryAttemptRow]


def delivery_trail(session: Session, incident_id: int) -> list[Delivery]:
    """Who was notified how, when, and what each provider answered, in the order owed."""
    rows = list(
        session.scalars(
            select(NotificationRow)
            .where(NotificationRow.incident_id == incident_id)
            .order_by(NotificationRow.created_at, NotificationRow.id)
        )
    )
    attempts: dict[int, list[DeliveryAttemptRow]] = {}
    if rows:
        for attempt in session.scalars(
            select(DeliveryAttemptRow)
            .where(DeliveryAttemptRow.notification_id.in_([r.id for r in rows]))
            .order_by(DeliveryAttemptRow.notification_id, DeliveryAttemptRow.attempt)
        ):
            attempts.setdefault(attempt.notification_id, []).append(attempt)
    people = _emails(session, (r.user_id for r in rows))
    return [
        Delivery(r, people.get(r.user_id) if r.user_id else None, attempts.get(r.id, []))
        for r in rows
    ]


_I = cast(Table, IncidentRow.__table__)
_S = cast(Table, ServiceRow.__table__)
_WORKFLOW_INCIDENTS = (
    select(_I.c.id, _I.c.title, _I.c.description, _I.c.status, _I.c.priority, _I.c.urgency,
           _I.c.labels, _S.c.name.label("service"), _I.c.triggered_at, _I.c.alert_count)
    .select_from(_I.join(_S, _S.c.id == _I.c.service_id))
    .where(_I.c.id.in_(bindparam("ids", expanding=True)))
)


def workflow_incidents(conn: Connection, ids: Sequence[int]) -> dict[int, WorkflowIncident]:
    """What the workflow planner (and a runbook run by hand) sees of each incident, as it
    is now."""
    return {
        row.id: WorkflowIncident(
            id=row.id, title=row.title, description=row.description, status=row.status,
            priority=row.priority, urgency=row.urgency,
            labels={str(k): str(v) for k, v in (row.labels or {}).items()},
            service=row.service, triggered_at=row.triggered_at,
            alert_count=row.alert_count or 1)
        for row in conn.execute(_WORKFLOW_INCIDENTS, {"ids": list(ids)})
    }
