"""Who is signed in: server-side sessions, break-glass local accounts, and the acting `Actor`.

A session is a random token in an HttpOnly cookie; only its SHA-256 is stored, so a copy of the
database signs no one in. The CSRF token of a session is derived from the session token (so the
app can render it without storing it) and only its hash is kept as well. Roles are never stored
with a session: they are read from the team memberships the reconciler wrote, at every action, so
a config change that demotes someone takes effect on their next click.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall.db.models import LocalAccountRow, SessionRow, TeamMembershipRow, UserRow
from oncall.incidents import events
from oncall.incidents.actors import Actor

SESSION_COOKIE = "oncall_session"
LOCAL_SIGN_IN = "auth.local_sign_in"
LOCAL_SIGN_IN_FAILED = "auth.local_sign_in_failed"
OIDC_SIGN_IN = "auth.oidc_sign_in"
SIGN_OUT = "auth.sign_out"
ACCOUNT_CREATED = "auth.local_account_created"
MAX_FAILED_ATTEMPTS = 10
"""Consecutive wrong passwords after which a local account is disabled until reset."""
MIN_PASSWORD_LENGTH = 12
LAST_SEEN_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class SignInError(Exception):
    """Sign-in refused; the message is safe to show (it never says which part was wrong)."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: keyed on the secret session token, so it cannot be guessed."""
    return hmac.new(session_token.encode(), b"oncall-csrf", hashlib.sha256).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    email: str
    name: str | None
    time_zone: str | None
    auth_method: str
    roles: dict[str, str]
    expires_at: datetime

    def actor(self, via: str = "web") -> Actor:
        return Actor("user", self.email, dict(self.roles), self.user_id, via)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles.values()

    @property
    def can_respond(self) -> bool:
        return self.actor().can_respond


def roles_of(session: Session, user_id: int) -> dict[str, str]:
    rows = session.execute(
        select(TeamMembershipRow.team_name, TeamMembershipRow.role).where(
            TeamMembershipRow.user_id == user_id
        )
    )
    return {team: role for team, role in rows}


def find_user(session: Session, email: str) -> UserRow | None:
    """An enabled user listed by a team in the applied config, by email (case-insensitive)."""
    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None or user.disabled_at is not None or not user.in_config:
        return None
    return user


def start_session(session: Session, user: UserRow, method: str, now: datetime, hours: int) -> str:
    """A new session for `user`; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    session.add(
        SessionRow(
            token_hash=hash_token(token),
            user_id=user.id,
            auth_method=method,
            csrf_token_hash=hash_token(csrf_token(token)),
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    session.flush()
    return token


def signed_in(session: Session, token: str | None, now: datetime) -> SignedIn | None:
    """The person a session token belongs to, if the session is live and the user still allowed."""
    if not token:
        return None
    row = session.scalar(select(SessionRow).where(SessionRow.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or user.disabled_at is not None or not user.in_config:
        return None
    if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
        session.execute(update(SessionRow).where(SessionRow.id == row.id).values(last_seen_at=now))
    return SignedIn(
        user_id=user.id,
        email=user.email,
        name=user.name,
        time_zone=user.time_zone,
        auth_method=row.auth_method,
        roles=roles_of(session, user.id),
        expires_at=row.expires_at,
    )


def check_csrf(session: Session, token: str | None, presented: str | None) -> bool:
    if not token or not presented:
        return False
    row = session.scalar(select(SessionRow).where(SessionRow.token_hash == hash_token(token)))
    if row is None or row.csrf_token_hash is None:
        return False
    return hmac.compare_digest(row.csrf_token_hash, hash_token(presented))


def end_session(session: Session, token: str, now: datetime) -> bool:
    row = session.scalar(select(SessionRow).where(SessionRow.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    user = session.get(UserRow, row.user_id)
    events.record(
        session,
        at=now,
        actor=f"user:{user.email if user else row.user_id}",
        type=SIGN_OUT,
        data={"method": row.auth_method},
    )
    return True


# --- break-glass local accounts ------------------------------------------------------------------


def create_local_account(session: Session, email: str, password: str, now: datetime) -> UserRow:
    """Create or reset the break-glass password of an admin listed in the applied config."""
    user = find_user(session, email)
    if user is None:
        raise ValueError(f"{email} is not a user of any team in the applied config")
    if "admin" not in roles_of(session, user.id).values():
        raise ValueError(
            f"{email} is not an admin of any team: break-glass accounts are for admins"
        )
    password_hash = hash_password(password)
    account = session.scalar(select(LocalAccountRow).where(LocalAccountRow.user_id == user.id))
    if account is None:
        session.add(LocalAccountRow(user_id=user.id, password_hash=password_hash, created_at=now))
    else:
        account.password_hash = password_hash
        account.failed_attempts = 0
        account.disabled_at = None
    events.record(
        session,
        at=now,
        actor="system:oncall-cli",
        type=ACCOUNT_CREATED,
        data={"email": user.email, "reset": account is not None},
    )
    session.flush()
    return user


def local_sign_in(
    session: Session, email: str, password: str, now: datetime, *, client: str | None
) -> UserRow:
    """Check a break-glass password; every attempt, good or bad, is in the audit log."""
    user = find_user(session, email)
    account = (
        session.scalar(select(LocalAccountRow).where(LocalAccountRow.user_id == user.id))
        if user is not None
        else None
    )
    ok = False
    if account is None or account.disabled_at is not None:
        _verify(_DUMMY_HASH, password)  # same cost whether or not the account exists
    else:
        ok = _verify(account.password_hash, password)
    label = email.strip().lower()[:320]
    if not ok or user is None or account is None:
        if account is not None and account.disabled_at is None:
            account.failed_attempts += 1
            if account.failed_attempts >= MAX_FAILED_ATTEMPTS:
                account.disabled_at = now
        events.record(
            session,
            at=now,
            actor=f"user:{label}",
            type=LOCAL_SIGN_IN_FAILED,
            data={"client": client},
        )
        raise SignInError("wrong email or password, or the account is disabled")
    account.failed_attempts = 0
    account.last_used_at = now
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    events.record(
        session,
        at=now,
        actor=f"user:{user.email}",
        type=LOCAL_SIGN_IN,
        data={"client": client, "break_glass": True},
    )
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def oidc_sign_in(
    session: Session, email: str, now: datetime, *, issuer: str, subject: str
) -> UserRow:
    user = find_user(session, email)
    if user is None:
        raise SignInError(f"{email} is not a member of any team in the applied config")
    events.record(
        session,
        at=now,
        actor=f"user:{user.email}",
        type=OIDC_SIGN_IN,
        data={"issuer": issuer, "subject": subject},
    )
    return user


def cookie_token(cookie_header: str) -> str | None:
    """The session token from a Cookie header, as the websocket handshake carried it."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None
