"""The audit log: every state change appends an event; an incident's timeline is its events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from oncall.db.models import AuditEventRow
from oncall.incidents.actors import Actor

TRIGGERED = "incident.triggered"
ALERT = "incident.alert"
ACKNOWLEDGED = "incident.acknowledged"
RESOLVED = "incident.resolved"
REASSIGNED = "incident.reassigned"
NOTE = "incident.note"
PRIORITY = "incident.priority_changed"
ESCALATED = "incident.escalated"
STEP_SKIPPED = "escalation.step_skipped"
EXHAUSTED = "escalation.exhausted"
SUPPRESSED = "alert.suppressed"


def row_values(
    *,
    at: datetime,
    actor: Actor | str,
    type: str,
    incident_id: int | None = None,
    before: Any = None,
    after: Any = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one audit event, for `record` and for Core inserts on hot paths."""
    label = actor.label if isinstance(actor, Actor) else actor
    if isinstance(actor, Actor) and actor.via:
        data = {"via": actor.via, **(data or {})}
    return {
        "at": at,
        "actor": label,
        "type": type,
        "incident_id": incident_id,
        "subject_kind": "incident" if incident_id is not None else None,
        "subject_name": str(incident_id) if incident_id is not None else None,
        "before": before,
        "after": after,
        "data": data,
    }


def record(
    session: Session,
    *,
    at: datetime,
    actor: Actor | str,
    type: str,
    incident_id: int | None = None,
    before: Any = None,
    after: Any = None,
    data: dict[str, Any] | None = None,
) -> AuditEventRow:
    row = AuditEventRow(**row_values(at=at, actor=actor, type=type, incident_id=incident_id,
                                     before=before, after=after, data=data))
    session.add(row)
    return row
