"""The workflow inbox: audit events a workflow may fire on, waiting to be planned.

A trigger on `audit_events` (migration 0005) writes the rows, in the transaction of the event,
whatever wrote it; the worker claims a batch, plans it and deletes it in one transaction of its
own, so an event is planned exactly once: a worker killed before the commit leaves the rows for
the next sweep, and one that committed has queued the runs and removed the rows together.

One definition serves both databases but for `hold`: the claim's `FOR UPDATE SKIP LOCKED`
lets PostgreSQL workers take disjoint batches; SQLite's compiler leaves it out, and there the
caller's write transaction (`BEGIN IMMEDIATE`) already makes it the one writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, delete, exists, select

from oncall.db.engine import read_connection
from oncall.db.models import AuditEventRow, WorkflowInboxRow

_W = cast(Table, WorkflowInboxRow.__table__)
_E = cast(Table, AuditEventRow.__table__)

_ANY = select(exists().where(_W.c.event_id.is_not(None)))
_CLAIM = (
    select(_W.c.event_id, _W.c.incident_id, _W.c.type)
    .order_by(_W.c.event_id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_EVENTS = (
    select(_E.c.id, _E.c.actor, _E.c.data, _E.c.at)
    .where(_E.c.id.in_(bindparam("ids", expanding=True)))
)
_DELETE = delete(_W).where(_W.c.event_id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class InboxEvent:
    """One claimed inbox row with its audit event's actor and data."""

    event_id: int
    incident_id: int
    type: str
    actor: str
    data: dict[str, Any]
    at: datetime


class WorkflowInbox:
    """The one reader and deleter of `workflow_inbox` (the trigger is its one writer)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def any(self) -> bool:
        """Whether anything waits: a cheap read, so an idle sweep opens no write transaction."""
        with read_connection(self.engine) as conn:
            return bool(conn.scalar(_ANY))

    def claim(self, conn: Connection, limit: int = 100) -> list[InboxEvent]:
        """The oldest `limit` rows no other worker holds, locked until the caller's
        transaction ends, with their events' actor and data."""
        rows = conn.execute(_CLAIM, {"limit": limit}).all()
        if not rows:
            return []
        found = {e.id: e for e in conn.execute(_EVENTS, {"ids": [r.event_id for r in rows]})}
        out = []
        for row in rows:
            event = found.get(row.event_id)
            if event is None:
                continue
            out.append(InboxEvent(row.event_id, row.incident_id, row.type, event.actor,
                                  dict(event.data or {}), event.at))
        return out

    def hold(self, conn: Connection, incident_ids: Sequence[int]) -> None:
        """Plan these incidents alone until the caller's transaction ends, so that planners
        of several workers count an incident's runs one after the other (the loop guard's
        cap is exact). SQLite: the caller's write transaction is already the only writer."""

    def delete(self, conn: Connection, event_ids: Sequence[int]) -> None:
        if event_ids:
            conn.execute(_DELETE, {"ids": list(event_ids)})
