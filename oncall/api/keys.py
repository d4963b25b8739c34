"""API keys: `Authorization: Bearer oncall_<prefix>_<secret>`, acting as the user who owns them.

Only a SHA-256 of the key is stored (keys are 256 random bits, so a slow hash adds nothing);
the prefix finds the row without scanning. A key carries its user's roles at the time of each
request, so removing someone from a team takes effect on their keys at once; a key of a person
no longer listed by any Team (or disabled) authenticates no one, and the reconciler revokes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall.db.models import ApiKeyRow, TeamMembershipRow, UserRow
from oncall.incidents.actors import Actor
from oncall.incidents.people import is_active

KEY_PREFIX = "oncall_"
TOUCH_INTERVAL = timedelta(minutes=5)
"""`last_used_at` is refreshed at most this often, so reads stay reads."""


class ApiKeyError(LookupError):
    """Creating a key failed; the message says why."""


@dataclass(frozen=True)
class NewKey:
    key: str
    """Shown once; only its hash is stored."""
    row_id: int
    name: str
    user: str


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _parse(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, sep, secret = key[len(KEY_PREFIX):].partition("_")
    if not sep or len(prefix) != 12 or not secret:
        return None
    return prefix


def create_key(session: Session, name: str, email: str, now: datetime,
               expires_at: datetime | None = None) -> NewKey:
    if not name.strip():
        raise ApiKeyError("a key needs a name")
    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None or not is_active(user):
        raise ApiKeyError(f"unknown user {email!r}: users come from Teams in the applied config")
    prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(
        name=name.strip()[:255], prefix=prefix, key_hash=_hash(key), scopes=["incidents"],
        created_by_id=user.id, created_at=now, expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return NewKey(key, row.id, row.name, user.email)


def revoke_key(session: Session, name: str, now: datetime) -> int:
    result = session.execute(
        update(ApiKeyRow)
        .where(ApiKeyRow.name == name, ApiKeyRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def key_prefix(key: str) -> str | None:
    """The public part of a well-formed key, which names it (in lists, in rate limits)."""
    return _parse(key.strip())


def actor_for_key(session: Session, key: str, now: datetime) -> Actor | None:
    """The user a valid key acts as, with their current roles; None for any invalid key."""
    prefix = _parse(key.strip())
    if prefix is None:
        return None
    row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key.strip())):
        return None
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.created_by_id is None:
        return None
    user = session.get(UserRow, row.created_by_id)
    if user is None or not is_active(user):
        return None  # removed from the config or disabled: their keys stop at once
    roles = {
        m.team_name: m.role
        for m in session.scalars(
            select(TeamMembershipRow).where(TeamMembershipRow.user_id == user.id)
        )
    }
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_INTERVAL:
        row.last_used_at = now
    return Actor(
        "user", user.email, roles, user_id=user.id, via="api", platform_admin=user.platform_admin
    )
