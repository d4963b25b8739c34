"""Partners on `partners` status pages: who may read one, mailed sign-in links, and the
read-only sessions those links open.

Who may read is the page's YAML and nothing else: an exact email or an `@domain` of the
page's `partners:` list, checked again at every request, so removing someone in git locks
them out on their next click. A link goes only to an address that may read the page, but the
person asking is told the same either way, so the form confirms no address. Links and sessions
are random tokens of which only the hash is stored (`oncall.store.partners`); a link works
once and briefly, a session reads one page. Every request, sign-in, refusal and revocation is
on the audit log, about the page.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from oncall.config.models import StatusPage
from oncall.core.tokens import hash_token
from oncall.notify.mail import Mail
from oncall.statuspages import audit
from oncall.store import partners as store
from oncall.store.outbox import queue_mail

LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
LINKS_PER_WINDOW = 3
"""Links mailed to one address per THROTTLE_WINDOW; more requests are silently dropped, so
the form cannot be used to flood someone's mailbox."""
THROTTLE_WINDOW = timedelta(minutes=10)
COOKIE = "oncall_partner"
MAX_EMAIL = 320
CLI_ACTOR = "system:oncall-cli"
CONFIG_ACTOR = "system:config"
"""The actor of a lock-out: the page's config no longer lists the address."""
ANONYMOUS = "anonymous"

LINK_SENT = "status_page.partner_link_sent"
LINK_REFUSED = "status_page.partner_link_refused"
SIGNED_IN = "status_page.partner_signed_in"
SIGN_IN_REFUSED = "status_page.partner_sign_in_refused"
SIGNED_OUT = "status_page.partner_signed_out"
LOCKED_OUT = "status_page.partner_locked_out"
REVOKED = "status_page.partner_revoked"

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
"""What `secrets.token_urlsafe(32)` makes: anything else is refused before a lookup."""


def normalise(email: str) -> str:
    return email.strip().lower()[:MAX_EMAIL]


def may_partner(page: StatusPage, email: str) -> bool:
    """Whether `email` may read `page`: the page is a `partners` page listing the address or
    its domain (`@acme.com` is acme.com only, not its subdomains); case-insensitive."""
    address = normalise(email)
    local, at, domain = address.rpartition("@")
    if page.visibility != "partners" or not local or not at or not domain:
        return False
    listed = {p.lower() for p in page.partners}
    return address in listed or f"@{domain}" in listed


def sign_in_path(page: str) -> str:
    return f"/status/{page}/partners/sign-in"


def link_path(page: str, token: str) -> str:
    return f"/status/{page}/partners/link/{token}"


def well_formed(token: str) -> bool:
    return bool(_TOKEN.match(token))


def _actor(email: str) -> str:
    return f"partner:{email}"


def _mail(page: StatusPage, url: str) -> Mail:
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    text = (f"Someone, probably you, asked to sign in to {page.title}.\n\n"
            f"Open this link within {minutes} minutes to sign in; it works once:\n\n{url}\n\n"
            "If you did not ask, ignore this message: nothing happens without the link.\n")
    link = html.escape(url, quote=True)
    body = (f"<p>Someone, probably you, asked to sign in to {html.escape(page.title)}.</p>"
            f"<p><a href=\"{link}\">Sign in</a> within {minutes} minutes; the link works "
            f"once.</p><p>{link}</p><p>If you did not ask, ignore this message: nothing "
            "happens without the link.</p>")
    return Mail(f"Sign in to {page.title}", text, body, {"Auto-Submitted": "auto-generated"})


def request_link(conn: Connection, page: StatusPage, email: str, *, base_url: str,
                 now: datetime, client: str | None = None) -> bool:
    """Mail a sign-in link for `page` to `email` if that address may read it and is not
    throttled; whether one was queued. The caller must answer the same either way."""
    address = normalise(email)
    if not may_partner(page, address):
        audit.record(conn, page.name, LINK_REFUSED, actor=_actor(address), at=now,
                     data={"reason": "not listed", "client": client})
        return False
    if store.links_since(conn, address, now - THROTTLE_WINDOW) >= LINKS_PER_WINDOW:
        audit.record(conn, page.name, LINK_REFUSED, actor=_actor(address), at=now,
                     data={"reason": "throttled", "client": client})
        return False
    token = secrets.token_urlsafe(32)
    link_id = store.add_link(conn, page=page.name, email=address, token_hash=hash_token(token),
                             now=now, expires_at=now + LINK_LIFETIME)
    url = base_url.rstrip("/") + link_path(page.name, token)
    queue_mail(conn, key=f"status-partner-link:{link_id}", address=address,
               mail=_mail(page, url), now=now)
    audit.record(conn, page.name, LINK_SENT, actor=_actor(address), at=now,
                 data={"link_id": link_id, "client": client})
    return True


def usable_link(conn: Connection, page: StatusPage, token: str, now: datetime) -> bool:
    """Whether `token` would open a session on `page` now (showing the button uses nothing)."""
    if page.visibility != "partners" or not well_formed(token):
        return False
    link = store.find_link(conn, token_hash=hash_token(token), page=page.name, now=now)
    return link is not None and may_partner(page, link.email)


@dataclass(frozen=True)
class Opened:
    """A session just opened: `token` goes in the cookie and nowhere else."""

    email: str
    token: str
    expires_at: datetime


def _refusal(conn: Connection, page: str, token_hash: str | None,
             now: datetime) -> tuple[str, str]:
    """(actor, reason) of a link that did not open a session, for the audit log."""
    row = store.describe(conn, token_hash) if token_hash else None
    if row is None or row.purpose != store.LINK:
        return ANONYMOUS, "unknown" if token_hash else "malformed"
    if row.page != page:
        reason = "another page's link"
    elif row.revoked_at is not None:
        reason = "revoked"
    elif row.used_at is not None:
        reason = "already used"
    elif row.expires_at <= now:
        reason = "expired"
    else:
        reason = "refused"
    return _actor(row.email), reason


def open_session(conn: Connection, page: StatusPage, token: str, *, now: datetime,
                 client: str | None = None) -> Opened | None:
    """Use the link `token` (once: of two requests at once, one wins) and open a read-only
    session on `page`; None if the link may not be used, or its address no longer may read
    the page. Audited either way."""
    token_hash = hash_token(token) if well_formed(token) else None
    link = (store.consume_link(conn, token_hash=token_hash, page=page.name, now=now)
            if token_hash and page.visibility == "partners" else None)
    if link is None:
        actor, reason = _refusal(conn, page.name, token_hash, now)
        audit.record(conn, page.name, SIGN_IN_REFUSED, actor=actor, at=now,
                     data={"reason": reason, "client": client})
        return None
    if not may_partner(page, link.email):
        audit.record(conn, page.name, SIGN_IN_REFUSED, actor=_actor(link.email), at=now,
                     data={"reason": "not listed", "link_id": link.id, "client": client})
        return None
    session_token = secrets.token_urlsafe(32)
    expires_at = now + SESSION_LIFETIME
    session_id = store.add_session(conn, page=page.name, email=link.email,
                                   token_hash=hash_token(session_token), link_id=link.id,
                                   now=now, expires_at=expires_at)
    audit.record(conn, page.name, SIGNED_IN, actor=_actor(link.email), at=now,
                 data={"link_id": link.id, "session_id": session_id, "client": client})
    return Opened(link.email, session_token, expires_at)


def session_of(conn: Connection, page: StatusPage,
               token: str | None, now: datetime) -> store.Token | None:
    """The live session of cookie `token` on `page`, whether or not its address is still
    listed (`reader` decides that)."""
    if not token or page.visibility != "partners" or not well_formed(token):
        return None
    return store.live_session(conn, token_hash=hash_token(token), page=page.name, now=now)


def reader(conn: Connection, page: StatusPage, token: str | None,
           now: datetime) -> str | None:
    """The partner reading `page` with session cookie `token`: their email if the session is
    live, for this page, unrevoked, and the address still listed in the page's config. A
    session whose address was removed is ended here (on the caller's connection, which must
    then be able to write) and the lock-out audited once."""
    found = session_of(conn, page, token, now)
    if found is None:
        return None
    if may_partner(page, found.email):
        return found.email
    if store.revoke_session(conn, found.id, now):
        audit.record(conn, page.name, LOCKED_OUT, actor=CONFIG_ACTOR, at=now,
                     data={"email": found.email, "session_id": found.id,
                           "reason": "no longer listed"})
    return None


def sign_out(conn: Connection, page: StatusPage, token: str | None, now: datetime) -> bool:
    """End the session of cookie `token` on `page`; False if there was no live one."""
    found = session_of(conn, page, token, now)
    if found is None or not store.revoke_session(conn, found.id, now):
        return False
    audit.record(conn, page.name, SIGNED_OUT, actor=_actor(found.email), at=now,
                 data={"session_id": found.id})
    return True


ALL_PAGES = "*"
"""The audit subject of a revocation on every page that found nothing to revoke."""


def revoke(conn: Connection, email: str, *, now: datetime, actor: str = CLI_ACTOR,
           page: str | None = None) -> dict[str, int]:
    """End every unexpired link and session of `email` (on `page`, or on every page): how
    many, by page. One audit event per page touched (or one, if none was). It does not
    stop a listed address from asking for a new link: to keep someone out, remove them
    from the page's `partners:`."""
    address = normalise(email)
    revoked = store.revoke(conn, address, now, page)
    for name, count in sorted(revoked.items()) or [(page or ALL_PAGES, 0)]:
        audit.record(conn, name, REVOKED, actor=actor, at=now,
                     data={"email": address, "revoked": count})
    return revoked
