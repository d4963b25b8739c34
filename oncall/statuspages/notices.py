"""What responders do on a status page: post and update notices, set a component's status by
hand and clear it. Every action is checked against the applied config, written through
`oncall.store.status` and recorded on the audit log in the caller's transaction; a notice's
every message is queued to the page's subscribers in that same transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import StatusPage
from oncall.core import status as core
from oncall.core.status import ComponentStatus, NoticeStatus
from oncall.statuspages import audit, subscribers
from oncall.store import status as store
from oncall.store.status import Notice


class StatusPageError(ValueError):
    """A request a status page cannot take, said so that the person can fix it."""


class UnknownName(StatusPageError, LookupError):
    """A page, component or notice that does not exist."""


class NoticeResolved(StatusPageError):
    """An update to a notice that is already resolved."""


TITLE_SHOWN = 120
"""The most of a one-text notice (from Slack or a workflow step) its title takes."""


def title_of(text: str) -> str:
    """A notice's title from its only text: the first `TITLE_SHOWN` characters, on one line."""
    line = " ".join(text.split())
    return line if len(line) <= TITLE_SHOWN else line[:TITLE_SHOWN - 1] + "…"


def _known(names: Iterable[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def page_of(config: ConfigSet, name: str) -> StatusPage:
    page = config.status_pages.get(name)
    if page is None:
        raise UnknownName(f"unknown status page {name!r}; known pages: "
                          f"{_known(config.status_pages)}")
    return page


def _component(page: StatusPage, name: str) -> str:
    names = [c.name for c in page.components]
    if name not in names:
        raise UnknownName(f"status page {page.name!r} has no component {name!r}; its "
                          f"components: {_known(names)}")
    return name


def _notice_status(value: str) -> NoticeStatus:
    try:
        return NoticeStatus(value)
    except ValueError:
        raise StatusPageError(f"unknown notice status {value!r}; one of: "
                              f"{', '.join(s.value for s in NoticeStatus)}") from None


def _component_status(value: str) -> ComponentStatus:
    try:
        return ComponentStatus(value)
    except ValueError:
        raise StatusPageError(f"unknown component status {value!r}; one of: "
                              f"{', '.join(s.value for s in ComponentStatus)}") from None


def _text(what: str, value: str) -> str:
    text = value.strip()
    if not text:
        raise StatusPageError(f"a notice's {what} must not be empty")
    return text


def _impact(conn: Connection, page: str, components: Sequence[str]) -> str:
    """A notice's impact: the worst status its components show now ("none" without any)."""
    shown = {c.component: ComponentStatus(c.status) for c in store.components(conn, [page])}
    return core.notice_impact(shown.get(c, ComponentStatus.OPERATIONAL) for c in components)


def post_notice(session: Session, config: ConfigSet, actor: str, now: datetime, page: str,
                title: str, body: str, status: str = NoticeStatus.INVESTIGATING.value,
                components: Sequence[str] = (), *, incident_id: int | None = None,
                public_url: str | None = None) -> int:
    """Publish a notice on `page` about `components` (none: the page as a whole); its id.
    `public_url` roots the links mailed to subscribers (None: ONCALL_PUBLIC_URL)."""
    found = page_of(config, page)
    parts = list(dict.fromkeys(_component(found, c) for c in components))
    stage = _notice_status(status)
    conn = session.connection()
    notice_id = store.post_notice(
        conn, page, title=_text("title", title), body=_text("text", body), status=stage.value,
        impact=_impact(conn, page, parts), components=parts, by=actor, now=now,
        incident_id=incident_id)
    audit.record(conn, page, audit.NOTICE_POSTED, actor=actor, at=now, after=stage.value,
                 data={"notice_id": notice_id, "components": parts}, incident_id=incident_id)
    subscribers.tell_notice(conn, config, notice_id, now, subscribers.public_url(public_url))
    return notice_id


def get_notice(session: Session, notice_id: int) -> Notice:
    found = store.notice(session.connection(), notice_id)
    if found is None:
        raise UnknownName(f"no status page notice {notice_id}")
    return found


def update_notice(session: Session, config: ConfigSet, actor: str, now: datetime,
                  notice_id: int, status: str, body: str, *,
                  public_url: str | None = None) -> Notice:
    """Add an update to an open notice (`resolved` resolves it); the notice as it is now.
    A resolved notice takes no more updates: post a new one. The update is queued to the
    page's subscribers (links rooted at `public_url`, None: ONCALL_PUBLIC_URL)."""
    stage = _notice_status(status)
    text = _text("text", body)
    before = get_notice(session, notice_id)
    conn = session.connection()
    if not store.update_notice(conn, notice_id, status=stage.value, body=text, by=actor,
                               now=now):
        raise NoticeResolved(f"notice {notice_id} ({before.title!r}) is resolved already; "
                             "post a new notice instead")
    audit.record(conn, before.page, audit.NOTICE_UPDATED, actor=actor, at=now,
                 before=before.status, after=stage.value, data={"notice_id": notice_id},
                 incident_id=before.incident_id)
    subscribers.tell_notice(conn, config, notice_id, now, subscribers.public_url(public_url))
    return get_notice(session, notice_id)


def open_notices(session: Session, config: ConfigSet, page: str, *,
                 incident_id: int | None = None) -> list[Notice]:
    """The responders' unresolved notices of `page` (not the automatic ones), oldest first;
    only those about `incident_id` when given."""
    page_of(config, page)
    return store.open_notices(session.connection(), [page], automatic=False,
                              incident_id=incident_id)


def set_manual(session: Session, config: ConfigSet, actor: str, now: datetime, page: str,
               component: str, status: str, expires_at: datetime | None = None
               ) -> ComponentStatus | None:
    """Show `status` on the component until `expires_at` (None: until cleared), whatever its
    services earn; the status shown before (None: the component was not synced yet)."""
    name = _component(page_of(config, page), component)
    shown = _component_status(status)
    if expires_at is not None and expires_at <= now:
        raise StatusPageError(f"a manual status must expire in the future, not at "
                              f"{expires_at.isoformat()}")
    conn = session.connection()
    before = store.set_manual(conn, page, name, status=shown.value, by=actor,
                              expires_at=expires_at, now=now)
    audit.record(conn, page, audit.MANUAL_SET, actor=actor, at=now, before=before,
                 after=shown.value, data={"component": name, "expires_at": (
                     expires_at.isoformat() if expires_at is not None else None)})
    return None if before is None else ComponentStatus(before)


def clear_manual(session: Session, config: ConfigSet, actor: str, now: datetime, page: str,
                 component: str) -> ComponentStatus | None:
    """Show what the component's services earn again; that status, or None when no manual
    status was set."""
    name = _component(page_of(config, page), component)
    conn = session.connection()
    cleared = store.clear_manual(conn, page, name, now=now)
    if cleared is None:
        return None
    before, after = cleared
    audit.record(conn, page, audit.MANUAL_CLEARED, actor=actor, at=now, before=before,
                 after=after, data={"component": name})
    return ComponentStatus(after)
