"""Status page changes on the audit log: one event per change, about the page."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert

from oncall.db.models import AuditEventRow
from oncall.incidents.events import row_values

SUBJECT = "status_page"
SYSTEM = "system"
"""The actor of what the sync does on its own."""

COMPONENT_ADDED = "status_page.component_added"
COMPONENT_REMOVED = "status_page.component_removed"
COMPONENT_CHANGED = "status_page.component_changed"
NOTICE_POSTED = "status_page.notice_posted"
NOTICE_UPDATED = "status_page.notice_updated"
MANUAL_SET = "status_page.manual_set"
MANUAL_CLEARED = "status_page.manual_cleared"

_EVENTS = cast(Table, AuditEventRow.__table__)


def record(conn: Connection, page: str, type: str, *, actor: str, at: datetime,
           before: Any = None, after: Any = None, data: dict[str, Any] | None = None,
           incident_id: int | None = None) -> None:
    """Append one event about `page`, in the caller's transaction. An incident's id goes in
    the data, not the incident column: a page's change is not a step of the incident's
    timeline, and must not start the incident's workflows."""
    if incident_id is not None:
        data = {**(data or {}), "incident_id": incident_id}
    values = row_values(at=at, actor=actor, type=type, before=before, after=after, data=data)
    values.update(subject_kind=SUBJECT, subject_name=page)
    conn.execute(insert(_EVENTS).values(**values))
