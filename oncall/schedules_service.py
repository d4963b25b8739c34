"""Overrides and swaps made in the app, and the secret iCal feed tokens of schedules and people.

Config overrides live in the Schedule spec; these are the ones people make on the day ("take my
Tuesday"). They are rows in `schedule_overrides`, laid over the config's own overrides by
`effective_schedule`, so every reader (who is on call, escalation, iCal feeds) sees the same
answer. Permissions: a responder may give away or trade only their own shifts of their team's
schedule; an admin of the schedule's team may override anyone. Every change is audited.
Callers own the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Schedule
from oncall.core.schedule import shifts
from oncall.core.schedule.overrides import (
    Cover,
    OverrideError,
    laid_over,
    make_override,
    members,
    swap,
)
from oncall.db.models import ScheduleOverrideRow, SecretTokenRow, UserRow
from oncall.incidents import events
from oncall.incidents.actors import Actor, Forbidden
from oncall.incidents.people import is_active

OVERRIDE_CREATED = "schedule.override_created"
OVERRIDE_CANCELLED = "schedule.override_cancelled"
SWAP_CREATED = "schedule.swap_created"
FEED_CREATED = "feed.token_created"
FEED_REVOKED = "feed.token_revoked"
ICAL = "ical"
MAX_OVERRIDE = timedelta(days=90)


class Invalid(ValueError):
    pass


@dataclass(frozen=True)
class AppOverride:
    id: int
    schedule: str
    who: str
    replaces: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str | None
    created_by: str | None


def _schedule(config: ConfigSet, name: str) -> Schedule:
    found = config.schedules.get(name)
    if found is None:
        raise Invalid(f"unknown schedule {name!r}")
    return found


def _user(session: Session, email: str) -> UserRow:
    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None or user.disabled_at is not None:
        raise Invalid(f"unknown user {email!r}")
    return user


def _audit(
    session: Session, actor: Actor, type: str, schedule: str, now: datetime, data: dict[str, object]
) -> None:
    row = events.record(session, at=now, actor=actor, type=type, data=dict(data))
    row.subject_kind = "schedule"
    row.subject_name = schedule


def active_overrides(
    session: Session, schedule: str | None, start: datetime, end: datetime
) -> list[AppOverride]:
    """App overrides that overlap [start, end), oldest first (later ones win)."""
    query = (
        select(ScheduleOverrideRow)
        .where(
            ScheduleOverrideRow.cancelled_at.is_(None),
            ScheduleOverrideRow.ends_at > start,
            ScheduleOverrideRow.starts_at < end,
        )
        .order_by(ScheduleOverrideRow.id)
    )
    if schedule is not None:
        query = query.where(ScheduleOverrideRow.schedule_name == schedule)
    rows = list(session.scalars(query))
    ids = {r.user_id for r in rows} | {r.replaces_user_id for r in rows if r.replaces_user_id}
    ids |= {r.created_by_id for r in rows if r.created_by_id}
    emails = {
        uid: email
        for uid, email in session.execute(
            select(UserRow.id, UserRow.email).where(UserRow.id.in_(ids))
        )
    }
    return [
        AppOverride(
            id=r.id,
            schedule=r.schedule_name,
            who=emails.get(r.user_id, "?"),
            replaces=emails.get(r.replaces_user_id) if r.replaces_user_id else None,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            reason=r.reason,
            created_by=emails.get(r.created_by_id) if r.created_by_id else None,
        )
        for r in rows
    ]


def effective_schedule(
    session: Session, schedule: Schedule, start: datetime, end: datetime
) -> Schedule:
    """The schedule with the app's overrides for [start, end) listed after the config's."""
    found = active_overrides(session, schedule.name, start, end)
    return laid_over(schedule, ((o.who, o.starts_at, o.ends_at) for o in found))


def _may_override(actor: Actor, schedule: Schedule) -> bool:
    """Admin of the schedule's team: anyone's shifts. Anyone else: only their own."""
    return actor.roles.get(schedule.team) == "admin"


def _require_member(actor: Actor, schedule: Schedule, action: str) -> None:
    actor.require_responder(action)
    if actor.roles.get(schedule.team) not in ("admin", "responder"):
        raise Forbidden(
            f"{actor.name} is not a responder of team {schedule.team} and cannot {action}"
        )


def _check_window(start: datetime, end: datetime, now: datetime) -> None:
    if end <= start:
        raise Invalid("an override must end after it starts")
    if end <= now:
        raise Invalid("an override must end in the future")
    if end - start > MAX_OVERRIDE:
        raise Invalid("an override is limited to 90 days: change the schedule in config instead")
    if start.microsecond or end.microsecond:
        raise Invalid("override times must be whole seconds")


def create_override(
    session: Session,
    config: ConfigSet,
    actor: Actor,
    *,
    schedule_name: str,
    who: str,
    start: datetime,
    end: datetime,
    reason: str | None,
    now: datetime,
) -> AppOverride:
    """Give [start, end) of a schedule to `who`."""
    schedule = _schedule(config, schedule_name)
    _require_member(actor, schedule, "override schedules")
    _check_window(start, end, now)
    cover = _user(session, who)
    if cover.email not in members(schedule) and cover.email not in config.users:
        raise Invalid(f"{who} is not a user of any team")
    current = shifts(effective_schedule(session, schedule, start, end), start, end)
    holders = {s.who for s in current}
    if not _may_override(actor, schedule) and holders != {actor.name}:
        others = ", ".join(sorted(h or "no one" for h in holders - {actor.name})) or "no one"
        raise Forbidden(
            f"{actor.name} may only override their own shifts ({others} on call in that window)"
        )
    replaces = holders.pop() if len(holders) == 1 else None
    try:
        make_override(schedule, cover.email, start, end)
    except OverrideError as exc:
        raise Invalid(str(exc)) from None
    replaced = _user(session, replaces) if replaces else None
    row = ScheduleOverrideRow(
        schedule_name=schedule.name,
        user_id=cover.id,
        replaces_user_id=replaced.id if replaced else None,
        starts_at=start,
        ends_at=end,
        reason=(reason or "").strip()[:2000] or None,
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        actor,
        OVERRIDE_CREATED,
        schedule.name,
        now,
        {
            "id": row.id,
            "who": cover.email,
            "replaces": replaces,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "reason": row.reason,
        },
    )
    return AppOverride(
        row.id, schedule.name, cover.email, replaces, start, end, row.reason, actor.name
    )


def create_swap(
    session: Session,
    config: ConfigSet,
    actor: Actor,
    *,
    schedule_name: str,
    first: Cover,
    second: Cover,
    now: datetime,
) -> tuple[AppOverride, AppOverride]:
    """Trade two people's shifts; a responder must be one of the two."""
    schedule = _schedule(config, schedule_name)
    _require_member(actor, schedule, "swap shifts")
    if not _may_override(actor, schedule) and actor.name not in (first.who, second.who):
        raise Forbidden(f"{actor.name} may only swap their own shifts")
    for cover in (first, second):
        _check_window(cover.start, cover.end, now)
    lo, hi = min(first.start, second.start), max(first.end, second.end)
    try:
        swap(effective_schedule(session, schedule, lo, hi), first, second)
    except OverrideError as exc:
        raise Invalid(str(exc)) from None
    made = []
    for given, taker in ((first, second.who), (second, first.who)):
        taker_row, giver_row = _user(session, taker), _user(session, given.who)
        row = ScheduleOverrideRow(
            schedule_name=schedule.name,
            user_id=taker_row.id,
            replaces_user_id=giver_row.id,
            starts_at=given.start,
            ends_at=given.end,
            reason=f"swap between {first.who} and {second.who}",
            created_by_id=actor.user_id,
            created_at=now,
        )
        session.add(row)
        session.flush()
        made.append(
            AppOverride(
                row.id,
                schedule.name,
                taker_row.email,
                giver_row.email,
                given.start,
                given.end,
                row.reason,
                actor.name,
            )
        )
    _audit(
        session,
        actor,
        SWAP_CREATED,
        schedule.name,
        now,
        {
            "ids": [m.id for m in made],
            "first": {
                "who": first.who,
                "from": first.start.isoformat(),
                "to": first.end.isoformat(),
            },
            "second": {
                "who": second.who,
                "from": second.start.isoformat(),
                "to": second.end.isoformat(),
            },
        },
    )
    return made[0], made[1]


def cancel_override(
    session: Session, config: ConfigSet, actor: Actor, override_id: int, now: datetime
) -> None:
    row = session.get(ScheduleOverrideRow, override_id)
    if row is None or row.cancelled_at is not None:
        raise Invalid(f"override {override_id} does not exist or is already cancelled")
    schedule = _schedule(config, row.schedule_name)
    _require_member(actor, schedule, "cancel overrides")
    own = actor.user_id in (row.user_id, row.replaces_user_id, row.created_by_id)
    if not _may_override(actor, schedule) and not own:
        raise Forbidden(f"{actor.name} may only cancel overrides of their own shifts")
    row.cancelled_at = now
    _audit(session, actor, OVERRIDE_CANCELLED, row.schedule_name, now, {"id": row.id})


# --- iCal feed tokens ----------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Feed:
    id: int
    subject: str
    """`schedule:NAME` or `person:EMAIL`."""
    created_at: datetime


def create_feed_token(
    session: Session, config: ConfigSet, actor: Actor, subject: str, now: datetime
) -> str:
    """A new secret feed URL token for a schedule or for the actor themselves."""
    kind, _, name = subject.partition(":")
    if kind == "schedule":
        _schedule(config, name)
    elif kind == "person":
        if name != actor.name and "admin" not in actor.roles.values():
            raise Forbidden(f"{actor.name} may only make a feed of their own shifts")
    else:
        raise Invalid(f"unknown feed subject {subject!r}")
    token = secrets.token_urlsafe(32)
    row = SecretTokenRow(
        token_hash=_hash(token),
        purpose=ICAL,
        user_id=actor.user_id,
        subject=subject,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit = events.record(
        session, at=now, actor=actor, type=FEED_CREATED, data={"id": row.id, "subject": subject}
    )
    audit.subject_kind, audit.subject_name = "feed", subject
    return token


def feeds_of(session: Session, actor: Actor) -> list[Feed]:
    rows = session.scalars(
        select(SecretTokenRow)
        .where(
            SecretTokenRow.purpose == ICAL,
            SecretTokenRow.user_id == actor.user_id,
            SecretTokenRow.revoked_at.is_(None),
        )
        .order_by(SecretTokenRow.id)
    )
    return [Feed(r.id, r.subject or "", r.created_at) for r in rows]


def revoke_feed_token(session: Session, actor: Actor, feed_id: int, now: datetime) -> None:
    row = session.get(SecretTokenRow, feed_id)
    if row is None or row.purpose != ICAL or row.revoked_at is not None:
        raise Invalid(f"feed {feed_id} does not exist or is already revoked")
    if row.user_id != actor.user_id and "admin" not in actor.roles.values():
        raise Forbidden(f"{actor.name} may only revoke their own feeds")
    row.revoked_at = now
    audit = events.record(
        session, at=now, actor=actor, type=FEED_REVOKED, data={"id": row.id, "subject": row.subject}
    )
    audit.subject_kind, audit.subject_name = "feed", row.subject


def feed_subject(session: Session, token: str, now: datetime) -> str | None:
    """The subject of a live feed token, or None (unknown, revoked, expired, or made by someone
    no longer in the applied config or disabled)."""
    row = session.scalar(
        select(SecretTokenRow).where(
            SecretTokenRow.token_hash == _hash(token), SecretTokenRow.purpose == ICAL
        )
    )
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    owner = session.get(UserRow, row.user_id) if row.user_id is not None else None
    if owner is None or not is_active(owner):
        return None
    return row.subject
