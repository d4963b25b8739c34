"""Contact methods: phones (SMS, voice), email, Slack and browser push subscriptions.

A method pages nobody until it is verified: a 6-digit code goes out through the outbox (a
`kind='verification'` notification, sent by the worker like any page) and the person types it
back. Only a salted scrypt hash of the code is kept on the method, with an expiry and an
attempt limit; the outbox row holds the code only until it is sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from oncall.contacts.access import Invalid, NotFound, audit, owner
from oncall.contacts.phones import display_phone, normalize_phone
from oncall.core.notification_rules import Channel
from oncall.db.models import ContactMethodRow, NotificationRuleRow, UserRow
from oncall.incidents.actors import Actor
from oncall.store import outbox

CODE_LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
"""Wrong codes before the code is void and a new one must be sent."""
RESEND_INTERVAL = timedelta(seconds=30)
"""A new code no sooner than this after the last: each SMS or call costs money."""
PHONE_TYPES = ("sms", "voice")
TYPES = ("sms", "voice", "email", "slack", "push")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
"""~20 ms a guess: a stolen hash of a 6-digit code cannot be searched before it expires."""


@dataclass(frozen=True)
class ContactMethod:
    id: int
    user_id: int
    type: str
    address: str
    """E.164 number, email, Slack member id or email, push subscription JSON."""
    display: str
    """What to show: a formatted number, an address, a push service's host."""
    label: str | None
    verified: bool
    verified_at: datetime | None
    enabled: bool
    verification_pending: bool
    created_at: datetime


@dataclass(frozen=True)
class Verification:
    """The outcome of typing a code; wrong codes are an outcome, not an error, so the caller
    commits the attempt count."""

    ok: bool
    message: str
    attempts_left: int
    verified: tuple[ContactMethod, ...] = ()


def _view(row: ContactMethodRow, now: datetime | None = None) -> ContactMethod:
    pending = row.verification_code_hash is not None and (
        now is None
        or (row.verification_expires_at is not None and row.verification_expires_at > now)
    )
    return ContactMethod(
        id=row.id,
        user_id=row.user_id,
        type=row.type,
        address=row.address,
        display=_display(row.type, row.address),
        label=row.label,
        verified=row.verified_at is not None,
        verified_at=row.verified_at,
        enabled=row.disabled_at is None,
        verification_pending=pending and row.verified_at is None,
        created_at=row.created_at,
    )


def _display(type_: str, address: str) -> str:
    if type_ in PHONE_TYPES:
        return display_phone(address)
    if type_ == "push":
        try:
            endpoint = json.loads(address).get("endpoint", "")
        except (ValueError, AttributeError):
            return "push subscription"
        return f"push via {urlsplit(endpoint).hostname or 'unknown service'}"
    return address


def _audit_address(type_: str, address: str) -> str:
    """Audit events name the address, but never a push subscription's keys."""
    return _display(type_, address) if type_ == "push" else address


def contact_methods(
    session: Session, actor: Actor, user_id: int, now: datetime | None = None
) -> list[ContactMethod]:
    """A person's contact methods, oldest first."""
    owner(session, actor, user_id, "see the contact methods")
    rows = session.scalars(
        select(ContactMethodRow)
        .where(ContactMethodRow.user_id == user_id)
        .order_by(ContactMethodRow.id)
    )
    return [_view(r, now) for r in rows]


def _add(
    session: Session,
    actor: Actor,
    user: UserRow,
    type_: str,
    address: str,
    label: str | None,
    now: datetime,
    *,
    details: dict[str, Any] | None = None,
    verified: bool = False,
) -> ContactMethodRow:
    existing = session.scalar(
        select(ContactMethodRow).where(
            ContactMethodRow.user_id == user.id,
            ContactMethodRow.type == type_,
            ContactMethodRow.address == address,
        )
    )
    if existing is not None:
        raise Invalid(f"{_display(type_, address)} is already one of your {type_} contacts")
    label = (label or "").strip()[:255] or None
    row = ContactMethodRow(
        user_id=user.id,
        type=type_,
        address=address,
        label=label,
        details=details,
        verified_at=now if verified else None,
        verification_attempts=0,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor=actor,
        user=user,
        type="contact.added",
        now=now,
        after={"id": row.id, "type": type_, "address": _audit_address(type_, address)},
        data={"verified": verified},
    )
    return row


def add_phone(
    session: Session,
    actor: Actor,
    user_id: int,
    number: str,
    now: datetime,
    *,
    sms: bool = True,
    voice: bool = True,
    label: str | None = None,
    default_region: str | None = None,
) -> list[ContactMethod]:
    """Add a phone for SMS and/or voice calls and text (or, voice only: call) it a code.

    One number makes one method per channel, so rules can say "SMS at 1 min, call at 3";
    they share one code, and confirming it verifies both.
    """
    user = owner(session, actor, user_id, "change the contact methods")
    e164 = normalize_phone(number, default_region)
    kinds = [t for t, wanted in (("sms", sms), ("voice", voice)) if wanted]
    if not kinds:
        raise Invalid("choose SMS, voice calls, or both for this number")
    rows = [_add(session, actor, user, t, e164, label, now) for t in kinds]
    _start(session, actor, user, rows, now)
    return [_view(r, now) for r in rows]


def add_email(
    session: Session,
    actor: Actor,
    user_id: int,
    email: str,
    now: datetime,
    *,
    label: str | None = None,
) -> ContactMethod:
    """Add an email address; the person's own sign-in address is verified already."""
    user = owner(session, actor, user_id, "change the contact methods")
    address = email.strip().lower()
    local, at, domain = address.partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in address):
        raise Invalid(f"{email!r} is not an email address")
    own = address == user.email.lower()
    row = _add(session, actor, user, "email", address, label, now, verified=own)
    if not own:
        _start(session, actor, user, [row], now)
    return _view(row, now)


def add_slack(
    session: Session,
    actor: Actor,
    user_id: int,
    member: str,
    now: datetime,
    *,
    label: str | None = None,
) -> ContactMethod:
    """Add a Slack DM target: a member id (`U…`/`W…`) or the email on the Slack profile."""
    user = owner(session, actor, user_id, "change the contact methods")
    address = member.strip()
    is_id = address[:1] in ("U", "W") and address[1:].isalnum() and 8 <= len(address) <= 20
    if not is_id and "@" not in address:
        raise Invalid(f"{member!r}: give a Slack member id (U0123ABCD) or your Slack email")
    row = _add(session, actor, user, "slack", address if is_id else address.lower(), label, now)
    _start(session, actor, user, [row], now)
    return _view(row, now)


def _push_address(subscription: str | dict[str, Any]) -> tuple[str, str]:
    """(address, endpoint) of a browser's `PushSubscription.toJSON()`: the address keeps only
    the endpoint and the p256dh/auth keys, in one canonical JSON form."""
    try:
        info = json.loads(subscription) if isinstance(subscription, str) else dict(subscription)
    except (ValueError, TypeError):
        raise Invalid("the push subscription is not JSON") from None
    if not isinstance(info, dict):
        raise Invalid("the push subscription must be a JSON object")
    endpoint, keys = info.get("endpoint"), info.get("keys")
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("https", "http"):
        raise Invalid("the push subscription has no endpoint URL")
    if not isinstance(keys, dict) or not all(
        isinstance(keys.get(k), str) and keys.get(k) for k in ("p256dh", "auth")
    ):
        raise Invalid("the push subscription lacks its p256dh and auth keys")
    address = json.dumps(
        {"endpoint": endpoint, "keys": {"p256dh": keys["p256dh"], "auth": keys["auth"]}},
        sort_keys=True,
    )
    if len(address) > 2048:
        raise Invalid("the push subscription is too long")
    return address, endpoint


def add_push_subscription(
    session: Session,
    actor: Actor,
    user_id: int,
    subscription: str | dict[str, Any],
    now: datetime,
    *,
    label: str | None = None,
) -> ContactMethod:
    """Store a browser's `PushSubscription.toJSON()` (endpoint and p256dh/auth keys) and push
    it a code, which the browser shows; only https endpoints are accepted."""
    user = owner(session, actor, user_id, "change the contact methods")
    address, endpoint = _push_address(subscription)
    details = {"endpoint": endpoint}
    row = _add(session, actor, user, "push", address, label, now, details=details)
    _start(session, actor, user, [row], now)
    return _view(row, now)


def _push_row(session: Session, user_id: int, endpoint: str) -> ContactMethodRow | None:
    """The person's push method for `endpoint` (one browser profile on one device)."""
    rows = session.scalars(
        select(ContactMethodRow)
        .where(ContactMethodRow.user_id == user_id, ContactMethodRow.type == "push")
        .order_by(ContactMethodRow.id)
        .with_for_update()
    )
    return next((r for r in rows if _endpoint(r.address) == endpoint), None)


def _endpoint(address: str) -> str | None:
    try:
        found = json.loads(address).get("endpoint")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def push_device(
    session: Session, actor: Actor, user_id: int, endpoint: str, now: datetime | None = None
) -> ContactMethod | None:
    """The method of this device's subscription, if the person has one."""
    owner(session, actor, user_id, "see the contact methods")
    row = _push_row(session, user_id, endpoint)
    return _view(row, now) if row is not None else None


def subscribe_push(
    session: Session,
    actor: Actor,
    user_id: int,
    subscription: str | dict[str, Any],
    now: datetime,
    *,
    label: str | None = None,
) -> ContactMethod:
    """"Enable push on this device": one method per endpoint, pushed a code until verified.

    A browser that subscribes again with the same endpoint updates its method instead of
    adding another: it is turned on again (the worker turns it off when the push service says
    it is gone), and new keys must be verified again, since the code proved the old ones.
    """
    user = owner(session, actor, user_id, "change the contact methods")
    address, endpoint = _push_address(subscription)
    row = _push_row(session, user.id, endpoint)
    if row is None:
        return add_push_subscription(session, actor, user_id, subscription, now, label=label)
    before = {"enabled": row.disabled_at is None, "verified": row.verified_at is not None}
    if row.address != address:
        row.address = address
        row.details = {"endpoint": endpoint}
        row.verified_at = None
    row.disabled_at = None
    if label and label.strip():
        row.label = label.strip()[:255]
    after = {"enabled": True, "verified": row.verified_at is not None}
    if after != before:
        audit(session, actor=actor, user=user, type="contact.resubscribed", now=now,
              before=before, after=after, data={"id": row.id, "type": "push"})
    if row.verified_at is None:
        _start(session, actor, user, [row], now)
    session.flush()
    return _view(row, now)


def unsubscribe_push(
    session: Session, actor: Actor, user_id: int, endpoint: str, now: datetime
) -> bool:
    """"Disable push on this device": remove the method of `endpoint`; False if there was
    none (already removed elsewhere)."""
    owner(session, actor, user_id, "change the contact methods")
    row = _push_row(session, user_id, endpoint)
    if row is None:
        return False
    remove(session, actor, row.id, now, user_id=user_id)
    return True


def _row(
    session: Session, actor: Actor, method_id: int, action: str, user_id: int | None
) -> ContactMethodRow:
    """The method, if `actor` may `action` it and (when given) it belongs to `user_id`, the
    person whose page the request comes from: another person's id is refused as unknown."""
    row = session.get(ContactMethodRow, method_id, with_for_update=True)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise NotFound(f"contact method {method_id} does not exist")
    owner(session, actor, row.user_id, action)
    return row


def _siblings(session: Session, row: ContactMethodRow) -> list[ContactMethodRow]:
    """The methods one code verifies: the SMS and voice rows of one number, or just `row`."""
    if row.type not in PHONE_TYPES:
        return [row]
    return list(
        session.scalars(
            select(ContactMethodRow)
            .where(
                ContactMethodRow.user_id == row.user_id,
                ContactMethodRow.address == row.address,
                ContactMethodRow.type.in_(PHONE_TYPES),
            )
            .order_by(ContactMethodRow.id)
            .with_for_update()
        )
    )


def _hash(code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.scrypt(code.encode(), salt=bytes.fromhex(salt), **_SCRYPT).hex()
    return f"scrypt${salt}${digest}"


def _matches(code: str, stored: str) -> bool:
    scheme, _, rest = stored.partition("$")
    salt, _, _digest = rest.partition("$")
    if scheme != "scrypt" or not salt:
        return False
    return hmac.compare_digest(_hash(code, salt), stored)


def _start(
    session: Session, actor: Actor, user: UserRow, rows: list[ContactMethodRow], now: datetime
) -> None:
    code = f"{secrets.randbelow(10**6):06d}"
    hashed = _hash(code)
    for row in rows:
        row.verification_code_hash = hashed
        row.verification_expires_at = now + CODE_LIFETIME
        row.verification_attempts = 0
    carrier = next((r for r in rows if r.type == "sms"), rows[0])
    outbox.queue_verification(
        session, key=f"verify:{carrier.id}:{secrets.token_hex(8)}", user_id=user.id,
        contact_method_id=carrier.id, channel=Channel(carrier.type).value,
        address=carrier.address, code=code, now=now,
    )
    session.flush()
    audit(
        session,
        actor=actor,
        user=user,
        type="contact.verification_sent",
        now=now,
        data={
            "ids": [r.id for r in rows],
            "channel": carrier.type,
            "expires_at": (now + CODE_LIFETIME).isoformat(),
        },
    )


def send_code(
    session: Session, actor: Actor, method_id: int, now: datetime, *, user_id: int | None = None
) -> ContactMethod:
    """Send a new code (the last one expired, was mistyped too often, or never arrived)."""
    row = _row(session, actor, method_id, "verify the contact methods", user_id)
    if row.verified_at is not None:
        raise Invalid(f"{_display(row.type, row.address)} is verified already")
    if row.disabled_at is not None:
        raise Invalid("this contact method is turned off: turn it on first")
    sent_at = (
        row.verification_expires_at - CODE_LIFETIME if row.verification_expires_at else None
    )
    if sent_at is not None and now < sent_at + RESEND_INTERVAL:
        wait = int((sent_at + RESEND_INTERVAL - now).total_seconds()) + 1
        raise Invalid(f"a code was sent moments ago: wait {wait} s before asking for another")
    user = session.get(UserRow, row.user_id)
    assert user is not None
    _start(session, actor, user, [r for r in _siblings(session, row) if not r.verified_at], now)
    return _view(row, now)


def confirm(
    session: Session,
    actor: Actor,
    method_id: int,
    code: str,
    now: datetime,
    *,
    user_id: int | None = None,
) -> Verification:
    """Check a typed code. A right one verifies the method (and its phone sibling); a wrong
    one counts an attempt, and after `MAX_ATTEMPTS` the code is void."""
    row = _row(session, actor, method_id, "verify the contact methods", user_id)
    user = session.get(UserRow, row.user_id)
    assert user is not None
    if row.verified_at is not None:
        return Verification(True, "already verified", 0, (_view(row, now),))
    typed = "".join(code.split())
    if row.verification_code_hash is None or (
        row.verification_expires_at is not None and row.verification_expires_at <= now
    ):
        return Verification(False, "the code has expired: ask for a new one", 0)
    group = [r for r in _siblings(session, row) if r.verification_code_hash is not None]
    if row.verification_attempts >= MAX_ATTEMPTS:
        return Verification(False, "too many wrong codes: ask for a new one", 0)
    if not (typed.isdigit() and len(typed) == 6 and _matches(typed, row.verification_code_hash)):
        for r in group:
            r.verification_attempts += 1
        left = max(MAX_ATTEMPTS - row.verification_attempts, 0)
        if left == 0:
            for r in group:
                r.verification_code_hash = None
        audit(
            session,
            actor=actor,
            user=user,
            type="contact.verification_failed",
            now=now,
            data={"id": row.id, "attempts": row.verification_attempts},
        )
        message = "wrong code" + (f": {left} attempts left" if left else ": ask for a new one")
        return Verification(False, message, left)
    verified = [r for r in group if r.verification_code_hash == row.verification_code_hash]
    for r in verified:
        r.verified_at = now
        r.verification_code_hash = None
        r.verification_expires_at = None
        r.verification_attempts = 0
    audit(
        session,
        actor=actor,
        user=user,
        type="contact.verified",
        now=now,
        data={"ids": [r.id for r in verified], "type": row.type},
    )
    return Verification(True, "verified", 0, tuple(_view(r, now) for r in verified))


def set_enabled(
    session: Session,
    actor: Actor,
    method_id: int,
    enabled: bool,
    now: datetime,
    *,
    user_id: int | None = None,
) -> ContactMethod:
    """Pause or resume paging through a method without losing its verification or rules.

    The worker turns a push subscription off by itself when the push service says it is gone.
    """
    row = _row(session, actor, method_id, "change the contact methods", user_id)
    before = row.disabled_at is None
    if before != enabled:
        row.disabled_at = None if enabled else now
        user = session.get(UserRow, row.user_id)
        assert user is not None
        audit(
            session,
            actor=actor,
            user=user,
            type="contact.enabled" if enabled else "contact.disabled",
            now=now,
            data={"id": row.id, "type": row.type},
        )
    return _view(row, now)


def remove(
    session: Session, actor: Actor, method_id: int, now: datetime, *, user_id: int | None = None
) -> None:
    """Delete a method and the rules that use it; past notifications keep their address.

    `user_id` is the person whose page asks (the web passes the signed-in person): a method of
    anyone else is refused as unknown."""
    row = _row(session, actor, method_id, "change the contact methods", user_id)
    user = session.get(UserRow, row.user_id)
    assert user is not None
    rules = session.execute(
        delete(NotificationRuleRow).where(NotificationRuleRow.contact_method_id == row.id)
    ).rowcount  # type: ignore[attr-defined]
    outbox.forget_contact_method(session, row.id, row.user_id, row.address, now)
    before = {"id": row.id, "type": row.type, "address": _audit_address(row.type, row.address)}
    session.delete(row)
    session.flush()
    audit(
        session,
        actor=actor,
        user=user,
        type="contact.removed",
        now=now,
        before=before,
        data={"rules_removed": int(rules or 0)},
    )
