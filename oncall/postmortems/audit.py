"""Postmortem changes on the audit log: one event per change, about the postmortem (never on
an incident's own timeline, so editing a review starts no incident workflow)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert

from oncall.db.models import AuditEventRow
from oncall.incidents.events import row_values

SUBJECT = "postmortem"
CREATED = "postmortem.created"
UPDATED = "postmortem.updated"
STATUS_CHANGED = "postmortem.status_changed"
INCIDENT_LINKED = "postmortem.incident_linked"
INCIDENT_UNLINKED = "postmortem.incident_unlinked"
TIMELINE_CHOSEN = "postmortem.timeline_chosen"
ITEM_ADDED = "postmortem.action_item_added"
ITEM_UPDATED = "postmortem.action_item_updated"
ITEM_DELETED = "postmortem.action_item_deleted"
ITEM_REMINDED = "postmortem.action_item_reminded"

_EVENTS = cast(Table, AuditEventRow.__table__)


def record(conn: Connection, postmortem_id: int, type: str, *, actor: str, at: datetime,
           before: Any = None, after: Any = None, data: dict[str, Any] | None = None) -> None:
    values = row_values(at=at, actor=actor, type=type, before=before, after=after, data=data)
    values.update(subject_kind=SUBJECT, subject_name=str(postmortem_id))
    conn.execute(insert(_EVENTS).values(**values))
