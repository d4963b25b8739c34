"""Reading the audit log for the page and the CSV export: one filtered, keyset-paged query,
and each event as a readable line.

Newest first by (time, id). A page is the rows strictly below the cursor in that order, so
reading page 1,000 costs what page 1 does (the `at` index serves the order). The platform-admin
check is the callers' (`may_read`), before anything here runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, func, or_, select
from sqlalchemy.orm import Session

from oncall.db.models import AuditEventRow
from oncall.incidents import events
from oncall.incidents.actors import Actor
from oncall.web.audit_filter import FIELDS, AuditFilter, Cursor

E = AuditEventRow
PAGE = 50
EXPORT_BATCH = 500
SHOWN_DETAIL = 300
"""The most of an event's details one row of the page shows (the CSV has them all)."""


EXPORTED = "audit.exported"
"""A platform admin downloaded the audit log: the filter is the event's data."""


def record_export(session: Session, actor: Actor, f: AuditFilter, now: datetime) -> None:
    """The export is itself audited: who took a copy of the log, and of which part."""
    data = {name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in ((n, getattr(f, n)) for n in FIELDS) if value}
    events.record(session, at=now, actor=actor, type=EXPORTED, data=data)


def may_read(actor: Actor) -> bool:
    """The audit log holds every team's changes: platform admins only, as in the API."""
    return actor.kind == "user" and actor.platform_admin


def conditions(f: AuditFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if f.actor:
        found.append(func.lower(E.actor, type_=String).contains(f.actor.lower(), autoescape=True))
    if f.action:
        found.append(func.lower(E.type, type_=String).startswith(f.action.lower(), autoescape=True))
    if f.object_type:
        found.append(func.lower(E.subject_kind, type_=String) == f.object_type.lower())
    if f.object_name:
        found.append(E.subject_name == f.object_name)
    if f.since is not None:
        found.append(E.at >= f.since)
    if f.until is not None:
        found.append(E.at < f.until)
    return found


def query(f: AuditFilter, after: Cursor | None, limit: int) -> Select[AuditEventRow]:
    """The filtered events strictly older than `after`, newest first, at most `limit`."""
    stmt = select(E).where(*conditions(f))
    if after is not None:
        stmt = stmt.where(or_(E.at < after.at, and_(E.at == after.at, E.id < after.id)))
    return stmt.order_by(E.at.desc(), E.id.desc()).limit(limit)


@dataclass(frozen=True)
class Page:
    rows: list[AuditEventRow]
    next: Cursor | None
    """Where the next (older) page starts; None on the last page."""


def page(session: Session, f: AuditFilter, after: Cursor | None, limit: int = PAGE) -> Page:
    rows = list(session.scalars(query(f, after, limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, Cursor(rows[-1].at, rows[-1].id) if more and rows else None)


def every(session: Session, f: AuditFilter, batch: int = EXPORT_BATCH) -> Iterator[AuditEventRow]:
    """Every filtered event, newest first, read a batch at a time (for the export)."""
    after: Cursor | None = None
    while True:
        rows = list(session.scalars(query(f, after, batch)))
        yield from rows
        if len(rows) < batch:
            return
        after = Cursor(rows[-1].at, rows[-1].id)


# --- one event as people read it ------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    id: int
    at: datetime
    actor: str
    """The audit log's label: `user:alice@…`, `integration:…`, `system:oncall`."""
    who: str
    """The actor as people read it: a user's name from the config, else the label."""
    action: str
    object_type: str
    object: str
    link: str
    """The object's page in the app, or ''."""
    details: str


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def details_of(data: Mapping[str, Any] | None, before: Any, after: Any) -> str:
    """`key=value, …` of the event's data, then what changed (`before → after`)."""
    parts = [f"{k}={_value(v)}" for k, v in sorted((data or {}).items())]
    if before is not None or after is not None:
        parts.append(f"{_value(before)} → {_value(after)}")
    return ", ".join(parts)


def _link(kind: str, name: str, incident_id: int | None) -> str:
    if incident_id is not None:
        return f"/incidents/{incident_id}"
    if kind.lower() == "schedule" and name:
        return f"/schedules/{name}"
    return ""


def line_of(
    *, id: int, at: datetime, actor: str, type: str, incident_id: int | None,
    subject_kind: str | None, subject_name: str | None, data: Mapping[str, Any] | None,
    before: Any, after: Any, names: Mapping[str, str | None],
) -> Line:
    kind, _, rest = actor.partition(":")
    who = (names.get(rest) or rest) if kind == "user" and rest else actor
    object_type = subject_kind or ("incident" if incident_id is not None else "")
    name = subject_name or (str(incident_id) if incident_id is not None else "")
    return Line(id, at, actor, who, type, object_type, name,
                _link(object_type, name, incident_id), details_of(data, before, after))


def line(row: AuditEventRow, names: Mapping[str, str | None]) -> Line:
    return line_of(id=row.id, at=row.at, actor=row.actor, type=row.type,
                   incident_id=row.incident_id, subject_kind=row.subject_kind,
                   subject_name=row.subject_name, data=row.data, before=row.before,
                   after=row.after, names=names)


def shorten(text: str, limit: int = SHOWN_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
