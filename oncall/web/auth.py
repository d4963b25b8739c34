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
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.core.tokens import hash_token
from oncall.db.models import (
    LocalAccountRow,
    SessionRow,
    SignInThrottleRow,
    TeamMembershipRow,
    UserRow,
)
from oncall.incidents import events
from oncall.incidents.actors import Actor

SESSION_COOKIE = "oncall_session"
LOCAL_SIGN_IN = "auth.local_sign_in"
LOCAL_SIGN_IN_FAILED = "auth.local_sign_in_failed"
OIDC_SIGN_IN = "auth.oidc_sign_in"
SIGN_OUT = "auth.sign_out"
ACCOUNT_CREATED = "auth.local_account_created"
OIDC_BOUND = "auth.oidc_identity_bound"
OIDC_SIGN_IN_FAILED = "auth.oidc_sign_in_failed"
OIDC_UNBOUND = "auth.oidc_identity_unbound"

# Wrong break-glass passwords are throttled, never punished with a permanent disable (which anyone
# could trigger exactly when single sign-on is down). Two counters live in `sign_in_throttle`,
# shared by every web process: one per (account, client address) and one per client address.
# Past its free attempts a counter locks for LOCK_BASE, doubling with each further failure up to
# LOCK_MAX; a counter quiet for FAILURE_WINDOW (since its first failure, or since its last lock
# ended) starts again. A
# locked counter is refused before any password hash is computed, and other addresses are not
# affected: the right password from another address still signs in.
ACCOUNT_ADDRESS_FREE = 5
"""Wrong passwords for one account from one address before it is locked there."""
ADDRESS_FREE = 20
"""Wrong passwords (any accounts, known or not) from one address before it is locked."""
LOCK_BASE = timedelta(minutes=1)
LOCK_MAX = timedelta(hours=1)
FAILURE_WINDOW = timedelta(hours=24)
MIN_PASSWORD_LENGTH = 12
LAST_SEEN_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password anyone has")


class SignInError(Exception):
    """Sign-in refused; the message is safe to show (it never says which part was wrong)."""


class Throttled(SignInError):
    """Too many wrong passwords from this address (for this account): try again later."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after} seconds")
        self.retry_after = retry_after


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
    platform_admin: bool = False

    def actor(self, via: str = "web") -> Actor:
        return Actor(
            "user", self.email, dict(self.roles), self.user_id, via, self.platform_admin
        )

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
        platform_admin=user.platform_admin,
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
    if "admin" not in roles_of(session, user.id).values() and not user.platform_admin:
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
    session.execute(  # a reset password starts with clean counters
        delete(SignInThrottleRow).where(
            SignInThrottleRow.key.startswith(f"acct:{user.email}|", autoescape=True)
        )
    )
    events.record(
        session,
        at=now,
        actor="system:oncall-cli",
        type=ACCOUNT_CREATED,
        data={"email": user.email, "reset": account is not None},
    )
    session.flush()
    return user


def throttle_keys(email: str, client: str | None) -> tuple[str, str]:
    """The (account, address) and the address counters of an attempt."""
    address = (client or "unknown")[:64]
    return f"acct:{_label(email)}|addr:{address}", f"addr:{address}"


def _label(email: str) -> str:
    return email.strip().lower()[:320]


def _lock_for(failures: int, free: int) -> timedelta | None:
    if failures < free:
        return None
    doubled: timedelta = LOCK_BASE * (1 << min(failures - free, 20))
    return min(doubled, LOCK_MAX)


def throttled(session: Session, email: str, client: str | None, now: datetime) -> int | None:
    """Seconds until an attempt of `email` from `client` may be tried, or None if it may now.

    One indexed read and no hashing: a throttled attempt costs (almost) nothing."""
    rows = session.scalars(
        select(SignInThrottleRow).where(SignInThrottleRow.key.in_(throttle_keys(email, client)))
    )
    waits = [r.locked_until - now for r in rows if r.locked_until and r.locked_until > now]
    if not waits:
        return None
    return max(1, math.ceil(max(waits).total_seconds()))


def _count_failure(session: Session, key: str, free: int, now: datetime) -> None:
    """One more failure on `key`: an UPDATE, or an INSERT if it is the first (races retried)."""
    for _ in range(3):
        row = session.scalar(
            select(SignInThrottleRow).where(SignInThrottleRow.key == key).with_for_update()
        )
        if row is None:
            row = SignInThrottleRow(key=key, failures=0, window_started_at=now)
            try:
                with session.begin_nested():
                    session.add(row)
                    session.flush()
            except IntegrityError:
                continue  # another process counted the first failure: count on that row
        # Quiet for FAILURE_WINDOW (since the first failure, or since the last lock ended):
        # start again. Someone who keeps trying after each lock never gets back to zero.
        quiet_since = row.locked_until or row.window_started_at
        if now - quiet_since >= FAILURE_WINDOW:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        lock = _lock_for(row.failures, free)
        row.locked_until = now + lock if lock is not None else row.locked_until
        return


def local_sign_in(
    session: Session, email: str, password: str, now: datetime, *, client: str | None
) -> UserRow:
    """Check a break-glass password; every attempt, good or bad, is in the audit log.

    A throttled attempt (see ACCOUNT_ADDRESS_FREE) raises `Throttled` before any hashing and
    without writing; wrong passwords never disable the account."""
    retry = throttled(session, email, client, now)
    if retry is not None:
        raise Throttled(retry)
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
    label = _label(email)
    pair, address = throttle_keys(email, client)
    if not ok or user is None or account is None:
        if account is not None and account.disabled_at is None:
            account.failed_attempts += 1
        _count_failure(session, pair, ACCOUNT_ADDRESS_FREE, now)
        _count_failure(session, address, ADDRESS_FREE, now)
        events.record(
            session,
            at=now,
            actor=f"user:{label}",
            type=LOCAL_SIGN_IN_FAILED,
            data={"client": client},
        )
        raise SignInError("wrong email or password, or the account is disabled")
    session.execute(delete(SignInThrottleRow).where(SignInThrottleRow.key == pair))
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
    """The user an SSO identity signs in as: identity is (issuer, subject), not the email.

    The first sign-in of a user binds the (issuer, subject) of the ID token to the user whose
    (provider-verified) email it carries; from then on only that (issuer, subject) signs in as
    them: a token with the same email and another subject is refused. The caller has checked
    that the email is verified (`oncall.web.oidc.verify_id_token`).
    """
    bound = session.scalar(
        select(UserRow).where(UserRow.oidc_issuer == issuer, UserRow.oidc_subject == subject)
    )
    if bound is not None:
        if bound.disabled_at is not None or not bound.in_config:
            raise SignInError(
                f"{bound.email} is not a member of any team in the applied config"
            )
        user = bound
    else:
        found = find_user(session, email)
        if found is None:
            raise SignInError(f"{email} is not a member of any team in the applied config")
        if found.oidc_subject is not None:
            events.record(
                session,
                at=now,
                actor=f"user:{found.email}",
                type=OIDC_SIGN_IN_FAILED,
                data={"issuer": issuer, "subject": subject, "reason": "identity mismatch"},
            )
            raise SignInError(
                f"{found.email} signs in with another identity of the sign-in provider: "
                "ask an administrator"
            )
        # Bind only if still unbound: of two first sign-ins racing, one binds, one is refused.
        bound_now = session.execute(
            update(UserRow)
            .where(UserRow.id == found.id, UserRow.oidc_subject.is_(None))
            .values(oidc_issuer=issuer, oidc_subject=subject)
            .execution_options(synchronize_session=False)
        )
        if not bound_now.rowcount:  # type: ignore[attr-defined]
            raise SignInError(f"{found.email} was just bound to another identity: try again")
        session.refresh(found)
        events.record(
            session,
            at=now,
            actor=f"user:{found.email}",
            type=OIDC_BOUND,
            data={"issuer": issuer, "subject": subject},
        )
        user = found
    events.record(
        session,
        at=now,
        actor=f"user:{user.email}",
        type=OIDC_SIGN_IN,
        data={"issuer": issuer, "subject": subject, "email": email},
    )
    return user


def unbind_oidc(session: Session, email: str, now: datetime, *, actor: str) -> bool:
    """Forget the SSO identity bound to a user (the provider was replaced, or the account at the
    provider was re-created): their next SSO sign-in binds afresh. Their sessions end."""
    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None:
        raise ValueError(f"unknown user {email!r}")
    if user.oidc_subject is None:
        return False
    before = {"issuer": user.oidc_issuer, "subject": user.oidc_subject}
    user.oidc_issuer = user.oidc_subject = None
    session.execute(
        update(SessionRow)
        .where(SessionRow.user_id == user.id, SessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    row = events.record(session, at=now, actor=actor, type=OIDC_UNBOUND, before=before)
    row.subject_kind, row.subject_name = "user", user.email
    return True


def cookie_token(cookie_header: str) -> str | None:
    """The session token from a Cookie header, as the websocket handshake carried it."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == SESSION_COOKIE and value:
            return value
    return None
