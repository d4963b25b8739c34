"""Who hears of a status page's notices and maintenance, and telling them.

Email subscribers opt in twice: the form's address gets one confirmation mail and nothing else
until its link is followed. Asking again for an unconfirmed address re-sends that mail at most
every `RESEND_AFTER`; asking for a confirmed one sends nothing and answers the same, so the
form does not tell a stranger who subscribes. Webhook subscribers are added by a signed-in
person (the route checks the session), confirmed at once, and given a signing secret once.

Telling is queued in the outbox in the transaction of the change itself, one row per
subscriber with an idempotency key per (message, subscriber), many rows per statement: a
notice goes out only if it commits, and never twice. A subscriber following some components
hears only of notices and windows touching them (a notice naming none touches everyone).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import StatusPage
from oncall.config.types import EMAIL_PATTERN
from oncall.core.status import ComponentStatus, Maintenance
from oncall.db.models import AuditEventRow
from oncall.notify.mail import Mail
from oncall.statuspages import audit, messages, render_json
from oncall.statuspages.messages import NoticeText, PageRef
from oncall.statuspages.view import PageView, load_page, maintenances_of
from oncall.store import outbox
from oncall.store import status as store
from oncall.store.status import EMAIL, WEBHOOK, Subscriber

RESEND_AFTER = timedelta(minutes=10)
"""The least time between two confirmation mails to one unconfirmed address."""
MAINTENANCE_GRACE = timedelta(hours=1)
"""A window that ended longer ago than this is not announced: a first deploy, or a worker
back after a long stop, must not mail about old windows."""
MAINTENANCE_TOLD = "status_page.maintenance_told"
"""The audit event that marks a window's stage as announced, so later syncs skip it."""
BATCH = 500
"""Outbox rows per statement."""
DEFAULT_PUBLIC_URL = "http://localhost:3000"
MAX_URL = 2048
_EMAIL = re.compile(EMAIL_PATTERN)


class SubscriptionError(ValueError):
    """A subscription the page cannot take, said so that the person can fix it."""


class NotTaken(SubscriptionError):
    """The page does not take subscribers of this kind."""


@dataclass(frozen=True)
class Subscribed:
    """The answer to a subscription request."""

    subscriber: Subscriber
    mailed: bool
    """Whether a confirmation mail was queued now."""
    secret: str | None = None
    """A webhook's fresh signing secret: shown in this answer and never again."""


def public_url(explicit: str | None = None) -> str:
    """Where links in messages point: the caller's ONCALL_PUBLIC_URL (from its settings),
    else the default of a machine running everything locally."""
    return ((explicit or "").strip() or DEFAULT_PUBLIC_URL).rstrip("/")


def page_ref(page: StatusPage, base_url: str) -> PageRef:
    return PageRef(page.name, page.title, base_url)


def _components(page: StatusPage, names: Iterable[str]) -> list[str]:
    known = [c.name for c in page.components]
    wanted = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SubscriptionError(f"status page {page.name!r} has no component "
                                f"{', '.join(map(repr, unknown))}; its components: "
                                f"{', '.join(known)}")
    return [n for n in known if n in wanted]  # in the page's order


def normal_email(value: str) -> str:
    """The address as stored, lower case, so one person subscribes once; or SubscriptionError."""
    email = value.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise SubscriptionError(f"{value.strip()[:80]!r} is not an email address")
    return email


def webhook_url(value: str) -> str:
    """A URL a webhook may be posted to: absolute http(s) with a host; or SubscriptionError."""
    url = value.strip()
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host, parts = None, None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise SubscriptionError(f"{url[:80]!r} is not an http(s) URL with a host")
    if len(url) > MAX_URL or any(c.isspace() for c in url):
        raise SubscriptionError(f"a webhook URL must be one line of at most {MAX_URL} "
                                "characters")
    return url


def subscribe_email(conn: Connection, page: StatusPage, email: str,
                    components: Sequence[str], now: datetime, base_url: str) -> Subscribed:
    """Subscribe `email` to `page` pending confirmation; the confirmation mail is queued in
    this transaction when the address is new, ended before, or last asked RESEND_AFTER ago."""
    if not page.subscribers.email:
        raise NotTaken(f"status page {page.name!r} does not take email subscribers")
    address = normal_email(email)
    parts = _components(page, components)
    for _ in range(3):
        old = store.subscriber(conn, page.name, EMAIL, address)
        if old is None:
            new = store.add_subscriber(conn, page.name, kind=EMAIL, address=address,
                                       components=parts, token=_token(), secret=None, by=None,
                                       now=now, confirmed=False)
            if new is None:
                continue
            return Subscribed(new, _ask(conn, page, new, base_url, now))
        if old.unsubscribed_at is not None:
            if not store.renew_subscriber(conn, old, components=parts, token=_token(),
                                          secret=None, by=None, now=now, confirmed=False):
                continue
            new = store.subscriber(conn, page.name, EMAIL, address)
            assert new is not None
            return Subscribed(new, _ask(conn, page, new, base_url, now))
        if old.confirmed_at is None and store.ask_again(
                conn, old, components=parts, now=now, every=RESEND_AFTER):
            new = store.subscriber(conn, page.name, EMAIL, address)
            assert new is not None
            return Subscribed(new, _ask(conn, page, new, base_url, now))
        return Subscribed(old, False)  # confirmed, or asked a moment ago: nothing to send
    raise RuntimeError(f"status page {page.name!r}: subscription keeps changing")


def _token() -> str:
    return secrets.token_urlsafe(32)


def _ask(conn: Connection, page: StatusPage, sub: Subscriber, base_url: str,
         now: datetime) -> bool:
    mail = messages.confirmation(page_ref(page, base_url), sub.token, sub.components)
    key = f"status-confirm:{sub.id}:{int(now.timestamp())}"
    return outbox.queue_mail(conn, key=key, address=sub.address, mail=mail, now=now) is not None


def subscribe_webhook(conn: Connection, page: StatusPage, url: str,
                      components: Sequence[str], by: str, now: datetime) -> Subscribed:
    """Subscribe `url` to `page` on behalf of the signed-in `by`, confirmed at once, with a
    fresh signing secret (a URL subscribed before gets a new one: the old stops verifying)."""
    if not page.subscribers.webhooks:
        raise NotTaken(f"status page {page.name!r} does not take webhook subscribers")
    address = webhook_url(url)
    parts = _components(page, components)
    secret = secrets.token_hex(32)
    for _ in range(3):
        old = store.subscriber(conn, page.name, WEBHOOK, address)
        if old is None:
            new = store.add_subscriber(conn, page.name, kind=WEBHOOK, address=address,
                                       components=parts, token=_token(), secret=secret, by=by,
                                       now=now, confirmed=True)
            if new is None:
                continue
        else:
            if not store.renew_subscriber(conn, old, components=parts, token=_token(),
                                          secret=secret, by=by, now=now, confirmed=True):
                continue
            new = store.subscriber(conn, page.name, WEBHOOK, address)
            assert new is not None
        return Subscribed(new, False, secret)
    raise RuntimeError(f"status page {page.name!r}: subscription keeps changing")


def confirm(conn: Connection, page: str, token: str, now: datetime) -> Subscriber | None:
    """Confirm the subscription of `token` on `page`; None for a token not of this page."""
    found = store.subscriber_by_token(conn, token)
    if found is None or found.page != page:
        return None
    return store.confirm_subscriber(conn, token, now)


def unsubscribe(conn: Connection, page: str, token: str, now: datetime) -> Subscriber | None:
    """End the subscription of `token` on `page`; None for a token not of this page."""
    found = store.subscriber_by_token(conn, token)
    if found is None or found.page != page:
        return None
    return store.end_subscriber(conn, token, now)


def lookup(conn: Connection, page: str, token: str) -> Subscriber | None:
    """The subscription of `token` on `page`, changing nothing."""
    found = store.subscriber_by_token(conn, token)
    return found if found is not None and found.page == page else None


# --- telling -----------------------------------------------------------------------------------


def _kinds(page: StatusPage) -> list[str]:
    """The kinds of subscriber the page still takes: turning one off in config stops it."""
    return [k for k, on in ((EMAIL, page.subscribers.email),
                            (WEBHOOK, page.subscribers.webhooks)) if on]


def _view(conn: Connection, config: ConfigSet, page: str, now: datetime) -> PageView | None:
    """The page as the change leaves it, read in the change's transaction."""
    with Session(bind=conn) as session:
        return load_page(session, config, page, now)


def _queue(conn: Connection, mails: list[tuple[str, str, Mail]],
           hooks: list[tuple[str, str, str, dict[str, str]]], now: datetime) -> int:
    queued = 0
    for start in range(0, len(mails), BATCH):
        queued += len(outbox.queue_mails(conn, mails[start:start + BATCH], now))
    for start in range(0, len(hooks), BATCH):
        queued += len(outbox.queue_hooks(conn, list(hooks[start:start + BATCH]), now))
    return queued


def _key(kind: str, sub: Subscriber, *names: str) -> str:
    """An idempotency key per (message, subscriber), short whatever the names' length."""
    return f"{kind}:{sub.id}:{render_json.stable_id(*names)}"


def _hook(sub: Subscriber, key: str, content: str,
          now: datetime) -> tuple[str, str, str, dict[str, str]]:
    return key, sub.address, content, messages.signed_headers(sub.secret or "", content, now)


def tell_notice(conn: Connection, config: ConfigSet, notice_id: int, now: datetime,
                base_url: str) -> int:
    """Queue the notice's newest message to every subscriber it concerns, in the caller's
    transaction; how many rows were queued."""
    notice = store.notice(conn, notice_id)
    update = store.latest_update(conn, notice_id)
    page = None if notice is None else config.status_pages.get(notice.page)
    if notice is None or update is None or page is None:
        return 0
    who = store.recipients(conn, page.name, notice.components, kinds=_kinds(page))
    if not who:
        return 0
    ref = page_ref(page, base_url)
    text = NoticeText(notice.id, notice.title, update.status, update.body, notice.components,
                      update.created_at)
    mails: list[tuple[str, str, Mail]] = []
    hooks: list[tuple[str, str, str, dict[str, str]]] = []
    view: PageView | None = None
    for sub in who:
        key = f"status-update:{update.id}:{sub.id}"
        if sub.kind == EMAIL:
            mails.append((key, sub.address,
                          messages.notice_mail(ref, sub.token, text, sub.components)))
            continue
        view = view or _view(conn, config, page.name, now)
        content = None if view is None else messages.incident_payload(
            view, notice.id, ref.subscription(sub.token, "unsubscribe"), base_url)
        if content is not None:
            hooks.append(_hook(sub, key, content, now))
    return _queue(conn, mails, hooks, now)


def tell_component_changes(conn: Connection, config: ConfigSet,
                           changes: Iterable[tuple[str, str, ComponentStatus | None,
                                                   ComponentStatus | None]],
                           now: datetime, base_url: str) -> int:
    """Queue a `component_update` to the webhook subscribers of each (page, component, old,
    new) that moved from one status to another (mail subscribers hear of notices only)."""
    hooks: list[tuple[str, str, str, dict[str, str]]] = []
    views: dict[str, PageView | None] = {}
    for page_name, component, old, new in changes:
        page = config.status_pages.get(page_name)
        if page is None or old is None or new is None or old == new or (
                not page.subscribers.webhooks):
            continue
        who = store.recipients(conn, page_name, [component], kinds=[WEBHOOK])
        if not who:
            continue
        if page_name not in views:
            views[page_name] = _view(conn, config, page_name, now)
        view = views[page_name]
        if view is None:
            continue
        ref = page_ref(page, base_url)
        for sub in who:
            content = messages.component_payload(
                view, component, old, new, now, ref.subscription(sub.token, "unsubscribe"))
            key = _key("status-component", sub, page_name, component, now.isoformat())
            hooks.append(_hook(sub, key, content, now))
    return _queue(conn, [], hooks, now)


@dataclass(frozen=True)
class DueWindow:
    """A maintenance window's stage a page's subscribers are owed."""

    page: str
    window: Maintenance
    stage: str
    """started | completed"""
    components: tuple[str, ...]


def due_windows(config: ConfigSet, now: datetime) -> list[DueWindow]:
    """Windows active now (started) or ended within MAINTENANCE_GRACE (completed), per page
    that takes subscribers. Pure: no query."""
    due: list[DueWindow] = []
    for name, page in sorted(config.status_pages.items()):
        if not _kinds(page):
            continue
        services = {s for c in page.components for s in c.services}
        for window in maintenances_of(config, services):
            if window.active(now):
                stage = "started"
            elif window.ends_at <= now < window.ends_at + MAINTENANCE_GRACE:
                stage = "completed"
            else:
                continue
            parts = tuple(c.name for c in page.components
                          if set(c.services) & window.services)
            due.append(DueWindow(name, window, stage, parts))
    return due


def untold(conn: Connection, due: Sequence[DueWindow]) -> list[DueWindow]:
    """The due windows not yet announced (no MAINTENANCE_TOLD event), in one query."""
    if not due:
        return []
    rows = conn.execute(select(AuditEventRow.subject_name, AuditEventRow.data).where(
        AuditEventRow.subject_kind == audit.SUBJECT, AuditEventRow.type == MAINTENANCE_TOLD,
        AuditEventRow.subject_name.in_(sorted({d.page for d in due}))))
    told = {(page, (data or {}).get("window"), (data or {}).get("stage"),
             (data or {}).get("starts_at")) for page, data in rows}
    return [d for d in due if (d.page, d.window.name, d.stage,
                               d.window.starts_at.isoformat()) not in told]


def tell_maintenances(conn: Connection, config: ConfigSet, due: Sequence[DueWindow],
                      now: datetime, base_url: str) -> int:
    """Announce each due window's stage to the subscribers it concerns and mark it told, in
    the caller's transaction. Two workers racing here queue nothing twice (the keys are per
    window, stage and subscriber); at worst the mark is written twice."""
    queued = 0
    for d in untold(conn, due):
        page = config.status_pages.get(d.page)
        if page is None:
            continue
        ref = page_ref(page, base_url)
        who = store.recipients(conn, d.page, d.components, kinds=_kinds(page))
        mails: list[tuple[str, str, Mail]] = []
        hooks: list[tuple[str, str, str, dict[str, str]]] = []
        view: PageView | None = None
        stamp = d.window.starts_at.isoformat()
        for sub in who:
            key = _key("status-maintenance", sub, d.page, d.window.name, stamp, d.stage)
            if sub.kind == EMAIL:
                mails.append((key, sub.address, messages.maintenance_mail(
                    ref, sub.token, d.window, d.stage, d.components, sub.components)))
                continue
            view = view or _view(conn, config, d.page, now)
            content = None if view is None else messages.maintenance_payload(
                view, d.window.name, ref.subscription(sub.token, "unsubscribe"), base_url)
            if content is not None:
                hooks.append(_hook(sub, key, content, now))
        queued += _queue(conn, mails, hooks, now)
        audit.record(conn, d.page, MAINTENANCE_TOLD, actor=audit.SYSTEM, at=now,
                     data={"window": d.window.name, "stage": d.stage, "starts_at": stamp,
                           "subscribers": len(who)})
    return queued
