"""Overrides and swaps made in the app, and the secret iCal feed tokens of schedules and people.

Config overrides live in the Schedule spec; these are the ones people make on the day ("take my
Tuesday"). They are rows in `schedule_overrides`, laid over the config's own overrides by
`effective_schedule`, so every reader (who is on call, escalation, iCal feeds) sees the same
answer. Permissions (`may_override`, the one rule for the web app and the API): a responder may
give away or trade only their own shifts of their team's schedule; an admin of the schedule's
team, or a platform admin, may override anyone. Every change is audited. Callers own the
transaction.
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
from oncall.config.types import Target
from oncall.core.schedule import Shift, on_call, shifts
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
from oncall.paging.targets import TargetResolver

OVERRIDE_CREATED = "schedule.override_created"
OVERRIDE_CANCELLED = "schedule.override_cancelled"
SWAP_CREATED = "schedule.swap_created"
FEED_CREATED = "feed.token_created"
FEED_REVOKED = "feed.token_revoked"
ICAL = "ical"
MAX_OVERRIDE = timedelta(days=90)
ON_CALL_HORIZON = timedelta(days=31)
"""How far before and after an instant `on_call_at` looks for the start and end of a shift."""


class Invalid(ValueError):
    """A request the service refuses; `field` names the input at fault when one is."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(Invalid):
    """No such override (or one already cancelled, or of another schedule)."""


class Conflict(Invalid):
    """The schedule is not in the state the caller said it expected (`replaces`)."""


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


def _user(session: Session, email: str, field: str | None = None) -> UserRow:
    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None or user.disabled_at is not None:
        raise Invalid(f"unknown user {email!r}", field)
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
    return _app_overrides(session, list(session.scalars(query)))


def get_override(session: Session, schedule: str, override_id: int) -> AppOverride:
    """One live (not cancelled) app override of the schedule, or NotFound."""
    row = session.get(ScheduleOverrideRow, override_id)
    if row is None or row.cancelled_at is not None or row.schedule_name != schedule:
        raise NotFound(f"no override {override_id} of {schedule}")
    return _app_overrides(session, [row])[0]


def _app_overrides(session: Session, rows: list[ScheduleOverrideRow]) -> list[AppOverride]:
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


def on_call_at(
    session: Session, schedule: Schedule, at: datetime, horizon: timedelta = ON_CALL_HORIZON
) -> Shift:
    """The shift holding `at`, the app's overrides laid on: who is on call, since and until when
    (within `horizon`). The one answer `oncall who` and the API give."""
    effective = effective_schedule(session, schedule, at - horizon, at + horizon)
    return on_call(effective, at, horizon=horizon)


@dataclass(frozen=True)
class TargetNow:
    kind: str
    ref: str
    people: list[str]
    """Who this target pages at the instant (empty: nobody, e.g. a coverage gap)."""


def escalation_at(
    session: Session, config: ConfigSet, service_name: str, at: datetime
) -> list[list[TargetNow]]:
    """Who each step of the service's escalation policy would page at `at`, per target, by the
    resolver escalation itself uses; [] when the service has no policy."""
    service = config.services.get(service_name)
    policy = config.policies.get(service.escalation_policy or "") if service else None
    if policy is None:
        return []
    resolve = TargetResolver(session.connection(), config)

    def now(target: Target) -> TargetNow:
        return TargetNow(target.kind, target.ref, list(resolve(target, at)))

    return [[now(t) for t in step.targets] for step in policy.steps]


def may_override(actor: Actor, schedule: Schedule) -> bool:
    """Platform admins and admins of the schedule's team: anyone's shifts. Anyone else (a
    responder of the team): only their own."""
    return actor.platform_admin or actor.roles.get(schedule.team) == "admin"


def _require_member(actor: Actor, schedule: Schedule, action: str) -> None:
    actor.require_responder(action)
    if actor.platform_admin:
        return
    if actor.roles.get(schedule.team) not in ("admin", "responder"):
        raise Forbidden(
            f"{actor.name} is not a responder of team {schedule.team} and cannot {action}"
        )


def _check_window(start: datetime, end: datetime, now: datetime) -> None:
    if end <= start:
        raise Invalid("an override must end after it starts", "end")
    if end <= now:
        raise Invalid("an override must end in the future", "end")
    if end - start > MAX_OVERRIDE:
        raise Invalid(
            "an override is limited to 90 days: change the schedule in config instead", "end"
        )
    if start.microsecond or end.microsecond:
        field = "start" if start.microsecond else "end"
        raise Invalid("override times must be whole seconds", field)


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
    replaces: str | None = None,
) -> AppOverride:
    """Give [start, end) of a schedule to `who`. With `replaces`, only if that person holds the
    whole window now (else Conflict): a caller that read the schedule does not overwrite a
    change made since."""
    schedule = _schedule(config, schedule_name)
    _require_member(actor, schedule, "override schedules")
    _check_window(start, end, now)
    cover = _user(session, who, "user")
    if cover.email not in members(schedule) and cover.email not in config.users:
        raise Invalid(f"{who} is not a user of any team", "user")
    current = shifts(effective_schedule(session, schedule, start, end), start, end)
    holders = {s.who for s in current}
    if replaces is not None and holders != {replaces.strip().lower()}:
        held = ", ".join(sorted(h or "no one" for h in holders))
        raise Conflict(
            f"{replaces} does not hold the whole window: on call in it now: {held}", "replaces"
        )
    if not may_override(actor, schedule) and holders != {actor.name}:
        others = ", ".join(sorted(h or "no one" for h in holders - {actor.name})) or "no one"
        raise Forbidden(
            f"{actor.name} may only override their own shifts ({others} on call in that window)"
        )
    holder = holders.pop() if len(holders) == 1 else None
    try:
        make_override(schedule, cover.email, start, end)
    except OverrideError as exc:
        raise Invalid(str(exc)) from None
    replaced = _user(session, holder) if holder else None
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
            "replaces": holder,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "reason": row.reason,
        },
    )
    return AppOverride(
        row.id, schedule.name, cover.email, holder, start, end, row.reason, actor.name
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
    if not may_override(actor, schedule) and actor.name not in (first.who, second.who):
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
    session: Session,
    config: ConfigSet,
    actor: Actor,
    override_id: int,
    now: datetime,
    schedule_name: str | None = None,
) -> None:
    """Cancel an app override (of `schedule_name`, when given)."""
    row = session.get(ScheduleOverrideRow, override_id)
    if row is None or row.cancelled_at is not None:
        raise NotFound(f"override {override_id} does not exist or is already cancelled")
    if schedule_name is not None and row.schedule_name != schedule_name:
        raise NotFound(f"override {override_id} is not an override of {schedule_name}")
    schedule = _schedule(config, row.schedule_name)
    _require_member(actor, schedule, "cancel overrides")
    own = actor.user_id in (row.user_id, row.replaces_user_id, row.created_by_id)
    if not may_override(actor, schedule) and not own:
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
        if name != actor.name and not actor.platform_admin:  # a team admin is no one's keeper
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
    if row.user_id != actor.user_id and not actor.platform_admin:
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
