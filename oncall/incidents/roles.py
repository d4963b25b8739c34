"""Incident roles (commander, scribe, communications): the one writer of `incident_roles`.

A role is held by one person at a time, or by nobody (no row). Who may change a role, and the
audit event that tells the timeline, are `oncall.incidents.service`'s (`assign_role`,
`clear_role`, `declare`); this module stores the holders, reads them back, and says an event
in words. Callers own the transaction and hold the incident's row lock while they write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from oncall.core import timeline
from oncall.db.models import INCIDENT_ROLES, IncidentRoleRow, UserRow

ROLES: tuple[str, ...] = INCIDENT_ROLES
ASSIGNED = "incident.role_assigned"
"""A person took a role or was given it; data: role, user (email), previous (email or None)."""
CLEARED = "incident.role_cleared"
"""Nobody holds the role any more; data: role, previous (email)."""
DECLARED = "incident.declared"
"""A person opened the incident by hand; data: service, title, priority."""


@dataclass(frozen=True)
class Holder:
    role: str
    user_id: int
    email: str
    name: str
    assigned_by: str
    assigned_at: datetime


def holders(session: Session, incident_id: int) -> dict[str, Holder]:
    """The incident's roles that someone holds, by role, in `ROLES` order."""
    rows = session.execute(
        select(IncidentRoleRow, UserRow.email, UserRow.name)
        .join(UserRow, UserRow.id == IncidentRoleRow.user_id)
        .where(IncidentRoleRow.incident_id == incident_id)
    )
    found = {
        row.role: Holder(row.role, row.user_id, email, name or email, row.assigned_by,
                         row.assigned_at)
        for row, email, name in rows
    }
    return {role: found[role] for role in ROLES if role in found}


def put(session: Session, incident_id: int, role: str, user_id: int, by: str,
        now: datetime) -> None:
    """`user_id` holds `role` from now on (replacing whoever held it)."""
    row = session.get(IncidentRoleRow, (incident_id, role), populate_existing=True)
    if row is None:
        session.add(IncidentRoleRow(incident_id=incident_id, role=role, user_id=user_id,
                                    assigned_by=by, assigned_at=now))
    else:
        row.user_id, row.assigned_by, row.assigned_at = user_id, by, now
    session.flush()


def remove(session: Session, incident_id: int, role: str) -> None:
    session.execute(
        delete(IncidentRoleRow)
        .where(IncidentRoleRow.incident_id == incident_id, IncidentRoleRow.role == role)
        .execution_options(synchronize_session=False)
    )


def as_json(found: Mapping[str, Holder]) -> dict[str, dict[str, Any] | None]:
    """Every role, held (who, by whom, since when) or null: the incident JSON's `roles`."""
    out: dict[str, dict[str, Any] | None] = {}
    for role in ROLES:
        h = found.get(role)
        out[role] = None if h is None else {
            "user": h.email, "name": h.name, "assigned_by": h.assigned_by,
            "assigned_at": h.assigned_at.isoformat()}
    return out


def sentence(type: str, actor: str, data: Mapping[str, Any] | None) -> str | None:
    """A role or declaration event in words ("ana@example.com took commander"), as every
    timeline says it (`core.timeline`); None for other events."""
    if type not in (ASSIGNED, CLEARED, DECLARED):
        return None
    return timeline.sentence(type, actor, data, None, None, {})
