"""The audit log: every state change appends an event; an incident's timeline is its events."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, Unpack, cast

from sqlalchemy import Table, bindparam, insert
from sqlalchemy.orm import Session

from oncall.core.incident import Event
from oncall.db.aio import Compiled
from oncall.db.models import AuditEventRow
from oncall.incidents.actors import Actor

if TYPE_CHECKING:
    import psycopg

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
RUNBOOK_REQUESTED = "runbook.requested"
"""A person asked for a runbook run (who, which, the parameters after validation)."""


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


_INSERT = insert(cast(Table, AuditEventRow.__table__))


def write(session: Session, **event: Unpack[EventFields]) -> None:
    """`record` for a caller that never reads the row back (state changes on the hot paths):
    one plain insert, without the object and the flush that reads its id."""
    session.execute(_INSERT, row_values(**event))


_JSON = ("before", "after", "data")
_INSERT_AIO = Compiled(_INSERT.values({
    name: bindparam(name) for name in row_values(at=datetime.min, actor="", type="")}))


async def write_async(conn: psycopg.AsyncConnection, **event: Unpack[EventFields]) -> None:
    """`write` on the ingest endpoint's asyncio connection (PostgreSQL)."""
    values = row_values(**event)
    await _INSERT_AIO.execute(conn, {
        name: json.dumps(value) if name in _JSON and value is not None else value
        for name, value in values.items()})


DETAIL_SHOWN = 200
"""The most of a workflow step's response or error shown on one timeline line."""


def params_text(params: dict[str, Any]) -> str:
    """Runbook parameters on one line, by name: `hard=true, paths=["/a"]`."""
    return ", ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}"
                     for k, v in sorted(params.items()))


def is_run_event(type: str) -> bool:
    """A workflow's or a runbook run's event: `workflow_summary` describes it."""
    return type.startswith("workflow.") or type == RUNBOOK_REQUESTED


def workflow_summary(type: str, data: dict[str, Any]) -> str:
    """A workflow event on one line: the run, or the step with its outcome, HTTP status,
    duration and attempt. Built from the event's data, which holds no secret."""
    name = data.get("workflow", "?")
    if type == "workflow.started":
        return f"{name} on {data.get('event', '?')}: {data.get('steps', '?')} step(s)"
    if type == RUNBOOK_REQUESTED:
        params = params_text(data.get("params") or {})
        return f"runbook {data.get('runbook', '?')} ({params or 'no parameters'})"
    if "step" not in data:
        return ", ".join(f"{k}={v}" for k, v in data.items())
    parts = [str(data.get("outcome", type.rsplit("_", 1)[-1]))]
    if data.get("status_code") is not None:
        parts.append(f"HTTP {data['status_code']}")
    if data.get("duration_ms"):
        parts.append(f"{data['duration_ms']} ms")
    if data.get("attempt"):
        parts.append(f"attempt {data['attempt']}")
    if data.get("retry_at"):
        parts.append(f"next at {str(data['retry_at'])[11:19]}")
    if name:
        line = (f"{name} step {data.get('step')} ({data.get('path', '?')}) "
                f"{data.get('kind', '?')}: " + ", ".join(parts))
    else:  # a runbook run by hand: one step, the runbook
        line = f"runbook {data.get('runbook', '?')}: " + ", ".join(parts)
    detail = " ".join(str(data.get("detail") or "").split())
    if detail:
        line += " — " + (detail if len(detail) <= DETAIL_SHOWN else detail[:DETAIL_SHOWN - 1] + "…")
    return line
