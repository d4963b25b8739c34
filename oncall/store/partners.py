"""Partner tokens of `partners` status pages: mailed sign-in links and the sessions they open.

The one writer of `status_page_partner_tokens`. Plain Core on the caller's connection, inside
the caller's transaction, one definition for both databases. Only a token's hash is ever
passed in or stored. A link is used by a compare-and-set on `used_at`: of two clicks at once,
one statement updates the row and the other finds nothing, so one link opens one session.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import ColumnElement, Connection, Table, func, insert, select, update

from oncall.db.models import StatusPagePartnerTokenRow

_T = cast(Table, StatusPagePartnerTokenRow.__table__)

LINK = "link"
SESSION = "session"


@dataclass(frozen=True)
class Token:
    """A live link or session as read: whose, for which page, until when."""

    id: int
    page: str
    email: str
    expires_at: datetime


@dataclass(frozen=True)
class Described:
    page: str
    email: str
    purpose: str
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


def _add(conn: Connection, *, purpose: str, page: str, email: str, token_hash: str,
         now: datetime, expires_at: datetime, link_id: int | None = None) -> int:
    row_id = conn.execute(insert(_T).values(
        page_name=page, email=email, purpose=purpose, token_hash=token_hash, link_id=link_id,
        created_at=now, expires_at=expires_at).returning(_T.c.id)).scalar_one()
    return int(row_id)


def add_link(conn: Connection, *, page: str, email: str, token_hash: str, now: datetime,
             expires_at: datetime) -> int:
    """A new single-use sign-in link; its row id."""
    return _add(conn, purpose=LINK, page=page, email=email, token_hash=token_hash, now=now,
                expires_at=expires_at)


def links_since(conn: Connection, email: str, since: datetime) -> int:
    """How many links were made for `email` (on any page) since `since`: the throttle."""
    count = conn.execute(select(func.count()).select_from(_T).where(
        _T.c.purpose == LINK, _T.c.email == email, _T.c.created_at > since)).scalar_one()
    return int(count)


def _live(purpose: str, token_hash: str, page: str,
          now: datetime) -> list[ColumnElement[bool]]:
    return [_T.c.purpose == purpose, _T.c.token_hash == token_hash, _T.c.page_name == page,
            _T.c.revoked_at.is_(None), _T.c.expires_at > now]


def find_link(conn: Connection, *, token_hash: str, page: str, now: datetime) -> Token | None:
    """The link of `token_hash` for `page` if it may still be used (unused, unexpired,
    unrevoked); reading it changes nothing."""
    row = conn.execute(select(_T.c.id, _T.c.page_name, _T.c.email, _T.c.expires_at).where(
        *_live(LINK, token_hash, page, now), _T.c.used_at.is_(None))).first()
    return Token(row.id, row.page_name, row.email, row.expires_at) if row else None


def consume_link(conn: Connection, *, token_hash: str, page: str,
                 now: datetime) -> Token | None:
    """Mark the link used if it still may be; None if another request used it first, or if
    it is expired, revoked, unknown or another page's (which then stays usable there)."""
    row = conn.execute(
        update(_T).where(*_live(LINK, token_hash, page, now), _T.c.used_at.is_(None))
        .values(used_at=now)
        .returning(_T.c.id, _T.c.page_name, _T.c.email, _T.c.expires_at)).first()
    return Token(row.id, row.page_name, row.email, row.expires_at) if row else None


def add_session(conn: Connection, *, page: str, email: str, token_hash: str, link_id: int,
                now: datetime, expires_at: datetime) -> int:
    """A read-only session for `page`, opened by link `link_id`; its row id."""
    return _add(conn, purpose=SESSION, page=page, email=email, token_hash=token_hash, now=now,
                expires_at=expires_at, link_id=link_id)


def describe(conn: Connection, token_hash: str) -> Described | None:
    """Any row of `token_hash`, live or not: why a link was refused, for the audit log."""
    row = conn.execute(select(_T.c.page_name, _T.c.email, _T.c.purpose, _T.c.expires_at,
                              _T.c.used_at, _T.c.revoked_at)
                       .where(_T.c.token_hash == token_hash)).first()
    return Described(*row) if row else None


def live_session(conn: Connection, *, token_hash: str, page: str,
                 now: datetime) -> Token | None:
    """The session of `token_hash` on `page`, if unexpired and unrevoked."""
    row = conn.execute(select(_T.c.id, _T.c.page_name, _T.c.email, _T.c.expires_at).where(
        *_live(SESSION, token_hash, page, now))).first()
    return Token(row.id, row.page_name, row.email, row.expires_at) if row else None


def revoke_session(conn: Connection, session_id: int, now: datetime) -> bool:
    """End one session; False if it had already ended."""
    done = conn.execute(update(_T).where(
        _T.c.id == session_id, _T.c.purpose == SESSION, _T.c.revoked_at.is_(None))
        .values(revoked_at=now))
    return bool(done.rowcount)


def revoke(conn: Connection, email: str, now: datetime,
           page: str | None = None) -> dict[str, int]:
    """Revoke every unexpired link and session of `email` (on `page`, or on every page);
    how many were revoked, by page."""
    where = [_T.c.email == email, _T.c.revoked_at.is_(None), _T.c.expires_at > now]
    if page is not None:
        where.append(_T.c.page_name == page)
    pages = conn.execute(update(_T).where(*where).values(revoked_at=now)
                         .returning(_T.c.page_name)).scalars()
    return dict(Counter(pages))
