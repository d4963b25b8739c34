"""Postmortem rows: the postmortem, the incidents it reviews, the author's timeline choices,
action items.

The one writer of `postmortems`, `postmortem_incidents`, `postmortem_timeline` and
`postmortem_action_items`. Plain Core on the caller's connection, inside the caller's
transaction, one definition for both databases. Two people may edit one postmortem at once:
a save names the version it was made on and is written only if that is still the version
(compare-and-set), so the second writer learns of the first instead of overwriting it. An
overdue item's reminder is claimed the same way, once per day, however many workers look.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from oncall.db.models import (
    ActionItemRow,
    PostmortemEntryRow,
    PostmortemIncidentRow,
    PostmortemRow,
    fit,
    fit_optional,
)

_P = cast(Table, PostmortemRow.__table__)
_L = cast(Table, PostmortemIncidentRow.__table__)
_T = cast(Table, PostmortemEntryRow.__table__)
_A = cast(Table, ActionItemRow.__table__)

EDITABLE = frozenset({"title", "severity", "owner_id", "body", "status", "published_at"})
ITEM_FIELDS = frozenset({"title", "owner_id", "status", "due_on", "url", "completed_at"})


def create(conn: Connection, *, title: str, severity: str | None, owner_id: int | None,
           template: str | None, body: str, actor: str, now: datetime) -> int:
    return int(conn.scalar(insert(_P).values(
        title=fit(_P.c.title, title), status="draft", severity=severity, owner_id=owner_id,
        template=template, body=body, version=1, created_by=fit(_P.c.created_by, actor),
        created_at=now, updated_by=fit(_P.c.updated_by, actor), updated_at=now,
        published_at=None).returning(_P.c.id)))


def link(conn: Connection, postmortem_id: int, incident_ids: Iterable[int],
         now: datetime) -> list[int]:
    """Add incidents to the postmortem; the ids newly linked (a repeat is no change)."""
    wanted = sorted(set(incident_ids))
    if not wanted:
        return []
    have = set(conn.scalars(select(_L.c.incident_id).where(
        _L.c.postmortem_id == postmortem_id, _L.c.incident_id.in_(wanted))))
    fresh = [i for i in wanted if i not in have]
    added = []
    for incident_id in fresh:
        try:
            with conn.begin_nested():
                conn.execute(insert(_L).values(postmortem_id=postmortem_id,
                                               incident_id=incident_id, added_at=now))
            added.append(incident_id)
        except IntegrityError:  # linked by someone else meanwhile
            continue
    return added


def unlink(conn: Connection, postmortem_id: int, incident_id: int) -> bool:
    return bool(conn.execute(delete(_L).where(
        _L.c.postmortem_id == postmortem_id, _L.c.incident_id == incident_id)).rowcount)


def touch(conn: Connection, postmortem_id: int, actor: str, now: datetime) -> None:
    """Record who changed the postmortem last (a link, a choice, an item) without a version
    bump: those edits never conflict with the body's."""
    conn.execute(update(_P).where(_P.c.id == postmortem_id).values(
        updated_by=fit(_P.c.updated_by, actor), updated_at=now))


def save(conn: Connection, postmortem_id: int, version: int, changes: Mapping[str, Any],
         actor: str, now: datetime) -> int | None:
    """Write `changes` if the postmortem is still at `version`; the new version, or None when
    someone saved in between (nothing written)."""
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    values = dict(changes)
    if "title" in values:
        values["title"] = fit(_P.c.title, values["title"])
    found = conn.scalar(
        update(_P)
        .where(_P.c.id == postmortem_id, _P.c.version == version)
        .values(**values, version=version + 1, updated_by=fit(_P.c.updated_by, actor),
                updated_at=now)
        .returning(_P.c.version))
    return None if found is None else int(found)


def choose(conn: Connection, postmortem_id: int, entry_key: str, kept: bool,
           note: str | None, actor: str, now: datetime) -> None:
    """Save the author's choice about one timeline entry (the last choice wins)."""
    values = {"kept": kept, "note": note or None, "updated_by": fit(_T.c.updated_by, actor),
              "updated_at": now}
    where = and_(_T.c.postmortem_id == postmortem_id, _T.c.entry_key == entry_key)
    if conn.execute(update(_T).where(where).values(**values)).rowcount:
        return
    try:
        with conn.begin_nested():
            conn.execute(insert(_T).values(postmortem_id=postmortem_id,
                                           entry_key=fit(_T.c.entry_key, entry_key), **values))
    except IntegrityError:  # chosen by someone else at the same moment: ours is later
        conn.execute(update(_T).where(where).values(**values))


def add_item(conn: Connection, postmortem_id: int, *, title: str, owner_id: int | None,
             due_on: date | None, url: str | None, actor: str, now: datetime) -> int:
    return int(conn.scalar(insert(_A).values(
        postmortem_id=postmortem_id, title=fit(_A.c.title, title), owner_id=owner_id,
        status="open", due_on=due_on, url=fit_optional(_A.c.url, url),
        created_by=fit(_A.c.created_by, actor), created_at=now, updated_at=now,
        completed_at=None, reminded_on=None).returning(_A.c.id)))


def update_item(conn: Connection, item_id: int, changes: Mapping[str, Any],
                now: datetime) -> bool:
    unknown = set(changes) - ITEM_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    values = dict(changes)
    if "title" in values:
        values["title"] = fit(_A.c.title, values["title"])
    if "url" in values:
        values["url"] = fit_optional(_A.c.url, values["url"])
    if "due_on" in values:
        values["reminded_on"] = None  # a new due date earns a new reminder
    return bool(conn.execute(update(_A).where(_A.c.id == item_id)
                             .values(**values, updated_at=now)).rowcount)


def delete_item(conn: Connection, item_id: int) -> bool:
    return bool(conn.execute(delete(_A).where(_A.c.id == item_id)).rowcount)


def claim_reminder(conn: Connection, item_id: int, today: date) -> bool:
    """Take today's reminder of an open item; False if it was taken already (by this worker
    earlier, or another one now) or the item is no longer open."""
    return bool(conn.execute(
        update(_A)
        .where(_A.c.id == item_id, _A.c.status == "open",
               or_(_A.c.reminded_on.is_(None), _A.c.reminded_on < today))
        .values(reminded_on=today)).rowcount)
