"""The audit log: every state change appends an event; an incident's timeline is its events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NotRequired, TypedDict, Unpack

from sqlalchemy.orm import Session

from oncall.core.incident import Event
from oncall.db.models import AuditEventRow
from oncall.incidents.actors import Actor

TRIGGERED = "incident.triggered"
ALERT = "incident.alert"
ACKNOWLEDGED = Event.ACKNOWLEDGED.value
RESOLVED = Event.RESOLVED.value
REASSIGNED = Event.REASSIGNED.value
NOTE = "incident.note"
PRIORITY = Event.PRIORITY.value
ESCALATED = "incident.escalated"
STEP_SKIPPED = "escalation.step_skipped"
EXHAUSTED = "escalation.exhausted"
SUPPRESSED = "alert.suppressed"


class EventFields(TypedDict):
    """What describes one audit event; `at`, `actor` and `type` are required."""

    at: datetime
    actor: Actor | str
    type: str
    incident_id: NotRequired[int | None]
    before: NotRequired[Any]
    after: NotRequired[Any]
    data: NotRequired[dict[str, Any] | None]


def row_values(**event: Unpack[EventFields]) -> dict[str, Any]:
    """The columns of one audit event, for `record` and for Core inserts on hot paths."""
    actor, incident_id, data = event["actor"], event.get("incident_id"), event.get("data")
    if isinstance(actor, Actor) and actor.via:
        data = {"via": actor.via, **(data or {})}
    return {
        "at": event["at"],
        "actor": actor.label if isinstance(actor, Actor) else actor,
        "type": event["type"],
        "incident_id": incident_id,
        "subject_kind": "incident" if incident_id is not None else None,
        "subject_name": str(incident_id) if incident_id is not None else None,
        "before": event.get("before"),
        "after": event.get("after"),
        "data": data,
    }


def record(session: Session, **event: Unpack[EventFields]) -> AuditEventRow:
    row = AuditEventRow(**row_values(**event))
    session.add(row)
    return row
