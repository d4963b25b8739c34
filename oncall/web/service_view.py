"""What the dependency graph and a service's page read from the database and the config."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.models import IncidentRow, ServiceRow
from oncall.web.graph import GraphService, status_of

RECENT = 10
"""Resolved incidents shown on a service's page."""


def graph_services(session: Session, config: ConfigSet) -> list[GraphService]:
    """Every service of the config with its dependencies and status (from its unresolved
    incidents: one query for all services)."""
    rows = session.execute(
        select(ServiceRow.name, IncidentRow.status, IncidentRow.priority)
        .join(IncidentRow, IncidentRow.service_id == ServiceRow.id)
        .where(IncidentRow.status != "resolved")
    )
    unresolved: dict[str, list[tuple[str, str | None]]] = {}
    for name, status, priority in rows:
        unresolved.setdefault(name, []).append((status, priority))
    return [
        GraphService(s.name, s.team, tuple(s.depends_on), status_of(unresolved.get(s.name, [])))
        for s in sorted(config.services.values(), key=lambda s: s.name)
    ]


@dataclass(frozen=True)
class Focus:
    """The incident whose blast radius is shown."""

    incident_id: int
    title: str
    status: str
    service: str


def incident_focus(session: Session, incident_id: int) -> Focus | None:
    row = session.execute(
        select(IncidentRow.id, IncidentRow.title, IncidentRow.status, ServiceRow.name)
        .join(ServiceRow, IncidentRow.service_id == ServiceRow.id)
        .where(IncidentRow.id == incident_id)
    ).first()
    return None if row is None else Focus(row[0], row[1], row[2], row[3])


@dataclass(frozen=True)
class IncidentLine:
    id: int
    title: str
    status: str
    priority: str
    at: datetime
    """When it was triggered (open ones) or resolved (recent ones)."""


def incidents_of(session: Session, service: str) -> tuple[list[IncidentLine], list[IncidentLine]]:
    """The service's unresolved incidents (newest first) and its last `RECENT` resolved ones."""
    base = (
        select(IncidentRow)
        .join(ServiceRow, IncidentRow.service_id == ServiceRow.id)
        .where(ServiceRow.name == service)
    )
    open_rows = session.scalars(
        base.where(IncidentRow.status != "resolved").order_by(IncidentRow.triggered_at.desc())
    )
    opened = [IncidentLine(r.id, r.title, r.status, r.priority or "", r.triggered_at)
              for r in open_rows]
    done_rows = session.scalars(
        base.where(IncidentRow.status == "resolved")
        .order_by(IncidentRow.resolved_at.desc(), IncidentRow.id.desc())
        .limit(RECENT)
    )
    resolved = [IncidentLine(r.id, r.title, r.status, r.priority or "",
                             r.resolved_at or r.triggered_at) for r in done_rows]
    return opened, resolved
