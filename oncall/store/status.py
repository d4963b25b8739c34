"""Status page rows: components, notices and their updates, subscribers.

The one writer of `status_page_components`, `status_page_notices`,
`status_page_notice_updates` and `status_page_subscribers`. One definition serves both
databases: every statement is plain Core, run on the caller's connection inside the caller's
transaction. Any number of worker processes may sync the pages at once, so a change is
compare-and-set: a component is updated only while it still holds what the caller read, and an
automatic notice is inserted under the partial unique index of open automatic notices, a
conflict meaning that another process opened it first. Callers learn whether their write
happened and record (or tell) only what did. A subscription is unique per page, kind and
address; a request that loses a race reads the row again and decides anew.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Row, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from oncall.db.models import (
    StatusPageComponentRow,
    StatusPageNoticeRow,
    StatusPageNoticeUpdateRow,
    StatusPageSubscriberRow,
)

_C = cast(Table, StatusPageComponentRow.__table__)
_N = cast(Table, StatusPageNoticeRow.__table__)
_U = cast(Table, StatusPageNoticeUpdateRow.__table__)
_S = cast(Table, StatusPageSubscriberRow.__table__)

RESOLVED = "resolved"
"""core.status.NoticeStatus.RESOLVED, spelled here so the store needs nothing of the core."""


@dataclass(frozen=True)
class ComponentState:
    """A component row as read: what a compare-and-set compares against."""

    page: str
    component: str
    status: str
    computed: str
    manual: str | None
    manual_set_at: datetime | None
    manual_expires_at: datetime | None
    updated_by: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Notice:
    page: str
    id: int
    title: str
    body: str
    status: str
    impact: str
    components: tuple[str, ...]
    auto_component: str | None
    incident_id: int | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class NoticeUpdate:
    notice_id: int
    status: str
    body: str
    created_by: str | None
    created_at: datetime
    id: int = 0


# --- components --------------------------------------------------------------------------


def _component(row: Row[Any]) -> ComponentState:
    return ComponentState(row.page_name, row.component_name, row.status, row.computed_status,
                          row.manual_status, row.manual_set_at, row.manual_expires_at,
                          row.updated_by, row.updated_at)


def components(conn: Connection, pages: Iterable[str] | None = None) -> list[ComponentState]:
    """Every component row (of `pages`, when given), by page and name."""
    query = select(_C).order_by(_C.c.page_name, _C.c.component_name)
    if pages is not None:
        query = query.where(_C.c.page_name.in_(list(pages)))
    return [_component(r) for r in conn.execute(query)]


def component(conn: Connection, page: str, name: str) -> ComponentState | None:
    row = conn.execute(select(_C).where(_C.c.page_name == page,
                                        _C.c.component_name == name)).first()
    return None if row is None else _component(row)


def insert_component(conn: Connection, page: str, name: str, *, status: str, computed: str,
                     now: datetime) -> bool:
    """Add a component; False when another process added it first."""
    try:
        with conn.begin_nested():
            conn.execute(insert(_C).values(page_name=page, component_name=name, status=status,
                                           computed_status=computed, updated_at=now))
    except IntegrityError:
        return False
    return True


def _unchanged(old: ComponentState) -> list[Any]:
    """The compare of compare-and-set: the row still holds what `old` read."""
    return [_C.c.page_name == old.page, _C.c.component_name == old.component,
            _C.c.status == old.status, _C.c.computed_status == old.computed,
            _C.c.manual_status.is_not_distinct_from(old.manual),
            _C.c.manual_set_at.is_not_distinct_from(old.manual_set_at)]


def record_computed(conn: Connection, old: ComponentState, *, computed: str, shown: str,
                    clear_manual: bool, now: datetime) -> bool:
    """Store what the services earn and what the page shows (dropping an expired manual
    status); False when the row changed since `old` was read, or is gone."""
    values: dict[str, Any] = {"computed_status": computed, "status": shown, "updated_at": now}
    if clear_manual:
        values.update(manual_status=None, manual_set_at=None, manual_expires_at=None,
                      updated_by=None)
    return conn.execute(update(_C).where(*_unchanged(old)).values(**values)).rowcount > 0


def delete_component(conn: Connection, old: ComponentState) -> bool:
    """Remove a component no longer in its page's config; False if already gone or changed."""
    return conn.execute(delete(_C).where(*_unchanged(old))).rowcount > 0


def set_manual(conn: Connection, page: str, name: str, *, status: str, by: str,
               expires_at: datetime | None, now: datetime) -> str | None:
    """Show `status` until `expires_at` (None: until cleared); the status shown before, None
    when the component had no row yet (its computed status is filled by the next sync)."""
    values = {"manual_status": status, "manual_set_at": now, "manual_expires_at": expires_at,
              "status": status, "updated_by": by, "updated_at": now}
    for _ in range(3):
        old = component(conn, page, name)
        if old is None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(_C).values(page_name=page, component_name=name,
                                                   computed_status="operational", **values))
            except IntegrityError:
                continue
            return None
        if conn.execute(update(_C).where(*_unchanged(old)).values(**values)).rowcount:
            return old.status
    raise RuntimeError(f"status page {page!r} component {name!r} keeps changing")


def clear_manual(conn: Connection, page: str, name: str, *, now: datetime
                 ) -> tuple[str, str] | None:
    """Drop the manual status and show the computed one again: (shown before, shown now);
    None when no manual status was set."""
    old = component(conn, page, name)
    if old is None or old.manual is None:
        return None
    changed = conn.execute(update(_C).where(*_unchanged(old)).values(
        manual_status=None, manual_set_at=None, manual_expires_at=None, updated_by=None,
        status=old.computed, updated_at=now)).rowcount
    return (old.status, old.computed) if changed else None


# --- notices -----------------------------------------------------------------------------


def _notice(row: Row[Any]) -> Notice:
    return Notice(row.page_name, row.id, row.title, row.body, row.status, row.impact,
                  tuple(row.components or ()), row.auto_component, row.incident_id,
                  row.created_by, row.created_at, row.updated_at, row.resolved_at)


def _add_update(conn: Connection, notice_id: int, status: str, body: str, by: str | None,
                now: datetime) -> None:
    conn.execute(insert(_U).values(notice_id=notice_id, status=status, body=body,
                                   created_by=by, created_at=now))


def notice(conn: Connection, notice_id: int) -> Notice | None:
    row = conn.execute(select(_N).where(_N.c.id == notice_id)).first()
    return None if row is None else _notice(row)


def open_notices(conn: Connection, pages: Iterable[str], *, automatic: bool | None = None,
                 incident_id: int | None = None) -> list[Notice]:
    """Unresolved notices of `pages`, oldest first; `automatic` True/False keeps only the
    sync's or only the responders' ones; `incident_id` only those about that incident."""
    query = select(_N).where(_N.c.page_name.in_(list(pages)), _N.c.resolved_at.is_(None))
    if automatic is True:
        query = query.where(_N.c.auto_component.is_not(None))
    elif automatic is False:
        query = query.where(_N.c.auto_component.is_(None))
    if incident_id is not None:
        query = query.where(_N.c.incident_id == incident_id)
    return [_notice(r) for r in conn.execute(query.order_by(_N.c.id))]


def updates(conn: Connection, notice_id: int) -> list[NoticeUpdate]:
    """A notice's messages, oldest first."""
    rows = conn.execute(select(_U).where(_U.c.notice_id == notice_id).order_by(_U.c.id))
    return [NoticeUpdate(r.notice_id, r.status, r.body, r.created_by, r.created_at, r.id)
            for r in rows]


def latest_update(conn: Connection, notice_id: int) -> NoticeUpdate | None:
    """A notice's newest message (the one just written, inside the writer's transaction)."""
    row = conn.execute(select(_U).where(_U.c.notice_id == notice_id)
                       .order_by(_U.c.id.desc()).limit(1)).first()
    return None if row is None else NoticeUpdate(row.notice_id, row.status, row.body,
                                                 row.created_by, row.created_at, row.id)


def post_notice(conn: Connection, page: str, *, title: str, body: str, status: str,
                impact: str, components: Sequence[str], by: str | None, now: datetime,
                incident_id: int | None = None) -> int:
    """A responder's notice with its opening message; its id."""
    result = conn.execute(insert(_N).values(
        page_name=page, incident_id=incident_id, title=title, body=body, status=status,
        impact=impact, components=list(components), auto_component=None, created_by=by,
        created_at=now, updated_at=now, resolved_at=now if status == RESOLVED else None,
    ).returning(_N.c.id))
    notice_id = int(result.scalar_one())
    _add_update(conn, notice_id, status, body, by, now)
    return notice_id


def open_auto_notice(conn: Connection, page: str, component: str, *, title: str, body: str,
                     status: str, impact: str, now: datetime) -> int | None:
    """The sync's notice for a component gone away from operational, with its opening
    message; None when one is already open (another process got there first)."""
    try:
        with conn.begin_nested():
            result = conn.execute(insert(_N).values(
                page_name=page, incident_id=None, title=title, body=body, status=status,
                impact=impact, components=[component], auto_component=component,
                created_by=None, created_at=now, updated_at=now, resolved_at=None,
            ).returning(_N.c.id))
            notice_id = int(result.scalar_one())
    except IntegrityError:
        return None
    _add_update(conn, notice_id, status, body, None, now)
    return notice_id


def update_notice(conn: Connection, notice_id: int, *, status: str, body: str,
                  by: str | None, now: datetime, impact: str | None = None) -> bool:
    """A new message on an unresolved notice (status resolved resolves it); False when the
    notice is resolved already, or gone."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == RESOLVED:
        values["resolved_at"] = now
    if impact is not None:
        values["impact"] = impact
    changed = conn.execute(update(_N).where(_N.c.id == notice_id, _N.c.resolved_at.is_(None))
                           .values(**values)).rowcount
    if changed:
        _add_update(conn, notice_id, status, body, by, now)
    return bool(changed)


def set_impact(conn: Connection, notice_id: int, impact: str, now: datetime) -> bool:
    """An open notice's impact follows its component's status (no new message)."""
    return conn.execute(update(_N).where(
        _N.c.id == notice_id, _N.c.resolved_at.is_(None), _N.c.impact != impact,
    ).values(impact=impact, updated_at=now)).rowcount > 0


# --- subscribers -------------------------------------------------------------------------

EMAIL = "email"
WEBHOOK = "webhook"


@dataclass(frozen=True)
class Subscriber:
    id: int
    page: str
    kind: str
    address: str
    components: tuple[str, ...]
    token: str
    secret: str | None
    created_by: str | None
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None

    @property
    def active(self) -> bool:
        """Confirmed and not ended: only such a subscriber is told anything."""
        return self.confirmed_at is not None and self.unsubscribed_at is None

    def follows(self, components: Sequence[str]) -> bool:
        """Whether a notice about `components` concerns this subscriber: one following the
        whole page hears of everything, and a notice naming no component concerns everyone."""
        return not self.components or not components or bool(
            set(self.components) & set(components))


def _subscriber(row: Row[Any]) -> Subscriber:
    return Subscriber(row.id, row.page_name, row.kind, row.address,
                      tuple(row.components or ()), row.token, row.secret, row.created_by,
                      row.created_at, row.confirmed_at, row.unsubscribed_at)


def subscriber(conn: Connection, page: str, kind: str, address: str) -> Subscriber | None:
    row = conn.execute(select(_S).where(_S.c.page_name == page, _S.c.kind == kind,
                                        _S.c.address == address)).first()
    return None if row is None else _subscriber(row)


def subscriber_by_token(conn: Connection, token: str) -> Subscriber | None:
    row = conn.execute(select(_S).where(_S.c.token == token)).first()
    return None if row is None else _subscriber(row)


def add_subscriber(conn: Connection, page: str, *, kind: str, address: str,
                   components: Sequence[str], token: str, secret: str | None,
                   by: str | None, now: datetime, confirmed: bool) -> Subscriber | None:
    """A new subscription; None when the address is on the page already (another request
    may have added it a moment ago): read it and decide again."""
    try:
        with conn.begin_nested():
            conn.execute(insert(_S).values(
                page_name=page, kind=kind, address=address, components=list(components),
                token=token, secret=secret, created_by=by, created_at=now,
                confirmed_at=now if confirmed else None, unsubscribed_at=None))
    except IntegrityError:
        return None
    return subscriber(conn, page, kind, address)


def renew_subscriber(conn: Connection, old: Subscriber, *, components: Sequence[str],
                     token: str, secret: str | None, by: str | None, now: datetime,
                     confirmed: bool) -> bool:
    """Start an ended subscription (or a webhook's) afresh, with a new token, so links of
    the old one stop working; False when the row changed since `old` was read."""
    return conn.execute(update(_S).where(
        _S.c.id == old.id, _S.c.token == old.token,
        _S.c.unsubscribed_at.is_not_distinct_from(old.unsubscribed_at),
    ).values(components=list(components), token=token, secret=secret, created_by=by,
             created_at=now, confirmed_at=now if confirmed else None,
             unsubscribed_at=None)).rowcount > 0


def ask_again(conn: Connection, old: Subscriber, *, components: Sequence[str], now: datetime,
              every: timedelta) -> bool:
    """An unconfirmed subscription asked for again: True (and `created_at` moved to now, the
    latest asking) when its last asking is at least `every` ago, so a confirmation mail goes
    out at most that often whoever submits the form, however many workers race."""
    return conn.execute(update(_S).where(
        _S.c.id == old.id, _S.c.confirmed_at.is_(None), _S.c.unsubscribed_at.is_(None),
        _S.c.created_at <= now - every,
    ).values(components=list(components), created_at=now)).rowcount > 0


def confirm_subscriber(conn: Connection, token: str, now: datetime) -> Subscriber | None:
    """Confirm the subscription of `token` (no change when it was already, or has ended);
    the subscription as it is now, None for an unknown token."""
    conn.execute(update(_S).where(_S.c.token == token, _S.c.confirmed_at.is_(None),
                                  _S.c.unsubscribed_at.is_(None)).values(confirmed_at=now))
    return subscriber_by_token(conn, token)


def end_subscriber(conn: Connection, token: str, now: datetime) -> Subscriber | None:
    """End the subscription of `token` (no change when already ended); the subscription as
    it is now, None for an unknown token."""
    conn.execute(update(_S).where(_S.c.token == token, _S.c.unsubscribed_at.is_(None))
                 .values(unsubscribed_at=now))
    return subscriber_by_token(conn, token)


def recipients(conn: Connection, page: str, components: Sequence[str] | None = None, *,
               kinds: Iterable[str] = (EMAIL, WEBHOOK)) -> list[Subscriber]:
    """The confirmed, current subscribers of `page` of `kinds`, by id; with `components`,
    only those a notice about them concerns (`Subscriber.follows`)."""
    rows = conn.execute(select(_S).where(
        _S.c.page_name == page, _S.c.kind.in_(list(kinds)), _S.c.confirmed_at.is_not(None),
        _S.c.unsubscribed_at.is_(None)).order_by(_S.c.id))
    found = [_subscriber(r) for r in rows]
    if components is None:
        return found
    return [s for s in found if s.follows(components)]
