"""Read-side queries of the web app: the dashboard's filters and status counts, one incident's
story told as a timeline, change detection for live updates. Built on the incident queries the
REST API uses too; reads only, every change goes through the service layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.db.models import AuditEventRow, ChangeEventRow, IncidentRow, ServiceRow
from oncall.incidents import queries
from oncall.incidents.queries import OPEN_STATUSES, STATUSES, IncidentItem

OPEN = "open"
ALL = "all"


@dataclass(frozen=True)
class IncidentFilter:
    """The dashboard's form: one value per field, "" for any."""

    status: str = OPEN  # open, triggered, acknowledged, resolved, all
    service: str = ""
    team: str = ""
    priority: str = ""
    text: str = ""
    page: int = 1
    page_size: int = 25

    def query(self) -> queries.IncidentFilter:
        status = OPEN_STATUSES if self.status == OPEN else (
            (self.status,) if self.status in STATUSES else ())
        return queries.IncidentFilter(
            status=status,
            service=(self.service,) if self.service else (),
            team=(self.team,) if self.team else (),
            priority=(self.priority,) if self.priority else (),
            q=self.text,
        )


@dataclass(frozen=True)
class IncidentPage:
    items: list[IncidentItem]
    total: int
    counts: dict[str, int]
    """Incidents per status (and open, all) matching every filter but the status one."""


def list_incidents(session: Session, f: IncidentFilter) -> IncidentPage:
    flt = f.query()
    found = queries.list_incidents(session, flt, limit=f.page_size, page=max(1, f.page),
                                   count=False)
    counts = queries.status_counts(session, flt)
    counts[OPEN] = sum(counts[s] for s in OPEN_STATUSES)
    counts[ALL] = sum(counts[s] for s in STATUSES)
    return IncidentPage(found.items, counts.get(f.status, counts[OPEN]), counts)


def last_change(session: Session) -> str:
    """A value that changes whenever an incident or its timeline changes: cheap to poll."""
    events_max = session.scalar(select(func.max(AuditEventRow.id)))
    updated_max = session.scalar(select(func.max(IncidentRow.updated_at)))
    return f"{events_max or 0}|{updated_max.isoformat() if updated_max else ''}"


CHANGES_WINDOW = timedelta(hours=24)
"""How far back the service and incident pages look for change events."""
CHANGES_PER_SERVICE = 5


@dataclass(frozen=True)
class RecentChange:
    service: str
    summary: str
    source: str | None
    integration: str
    links: list[dict[str, Any]]
    occurred_at: datetime


def recent_changes(session: Session, services: Sequence[str], until: datetime,
                   window: timedelta = CHANGES_WINDOW, per_service: int = CHANGES_PER_SERVICE
                   ) -> dict[str, list[RecentChange]]:
    """Each service's change events in `(until - window, until]`, newest first, at most
    `per_service` each: what changed before an incident, or lately on a service."""
    if not services:
        return {}
    rank = func.row_number().over(
        partition_by=ChangeEventRow.service_id,
        order_by=(ChangeEventRow.occurred_at.desc(), ChangeEventRow.id.desc())).label("rank")
    ranked = (
        select(ChangeEventRow.summary, ChangeEventRow.source, ChangeEventRow.links,
               ChangeEventRow.integration_name, ChangeEventRow.occurred_at,
               ChangeEventRow.id, ServiceRow.name, rank)
        .join(ServiceRow, ServiceRow.id == ChangeEventRow.service_id)
        .where(ServiceRow.name.in_(sorted(set(services))),
               ChangeEventRow.occurred_at > until - window,
               ChangeEventRow.occurred_at <= until)
        .subquery())
    rows = session.execute(
        select(ranked).where(ranked.c.rank <= per_service)
        .order_by(ranked.c.occurred_at.desc(), ranked.c.id.desc()))
    out: dict[str, list[RecentChange]] = {}
    for r in rows:
        out.setdefault(r.name, []).append(RecentChange(
            r.name, r.summary, r.source, r.integration_name,
            [dict(link) for link in r.links or [] if isinstance(link, dict)], r.occurred_at))
    return out
