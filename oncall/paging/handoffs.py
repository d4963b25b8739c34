"""Handoff notices: people are told when their time on call starts and ends, with their next turn.

The worker's sweep calls `notify_handoffs` (at most once a minute per process). It looks back
`LOOKBACK` from now for stretches that started or ended (app overrides included, as every
reader of a schedule sees them) and queues one message per handoff through the outbox, keyed by
the handoff itself, so any number of workers together send each once. A worker that was down
for longer than `LOOKBACK` sends nothing stale when it comes back.

The message goes the way the person asked to hear about low-urgency things: the first Slack or
email contact of their low-urgency plan (`paging.contacts.plan`; Slack before email when both
are due at once), email when they have neither.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from oncall.config.configset import ConfigSet
from oncall.config.models import Schedule
from oncall.core.handoffs import Handoff, Stretch, handoffs
from oncall.core.notification_rules import Channel
from oncall.core.schedule import shifts
from oncall.db.engine import write_session
from oncall.notify.mail import Mail
from oncall.paging.contacts import people, plan
from oncall.schedules_service import effective_schedule
from oncall.store import outbox

LOOKBACK = timedelta(minutes=10)
"""How late a handoff may still be told."""
BEFORE = timedelta(days=1)
"""How far before the look-back shifts are read, so a stretch already running is not taken
for one starting at the edge of what was read."""
AHEAD = timedelta(days=28)
"""How far ahead a person's next turn is looked for."""
TEXT_CHANNELS = (Channel.SLACK, Channel.EMAIL)
"""The channels that carry a ready-made message."""


def due(schedule: Schedule, overlaid: Schedule, now: datetime) -> list[Handoff]:
    """The handoffs of `schedule` (laid over as `overlaid`) within the look-back of `now`."""
    settings = schedule.handoff_notices
    if not settings.enabled:
        return []
    since = now - LOOKBACK
    found = shifts(overlaid, since - BEFORE, now + AHEAD)
    return handoffs(schedule.name, found, since, now, settings.min_shift.timedelta)


def _when(t: datetime, tz: ZoneInfo) -> str:
    local = t.astimezone(tz)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def _turn(stretch: Stretch, tz: ZoneInfo) -> str:
    return f"{_when(stretch.start, tz)} until {_when(stretch.end, tz)}"


def message(handoff: Handoff, tz: ZoneInfo, public_url: str) -> Mail:
    """What the person reads; times in the schedule's own zone."""
    link = f"{public_url.rstrip('/')}/oncall"
    following = (f"Your next turn: {_turn(handoff.next, tz)}." if handoff.next is not None
                 else f"You have no other turn in the next {AHEAD.days} days.")
    if handoff.edge == "start":
        subject = f"You are on call for {handoff.schedule}"
        text = (f"You are on call for {handoff.schedule} from {_turn(handoff.stretch, tz)}.\n"
                f"{following}\n\nWho is on call: {link}\n")
    else:
        subject = f"Your on-call turn for {handoff.schedule} has ended"
        text = (f"Your on-call turn for {handoff.schedule} ended at "
                f"{_when(handoff.stretch.end, tz)}.\n{following}\n\nWho is on call: {link}\n")
    return Mail(subject=subject, text=text)


def notify_handoffs(engine: Engine, config: ConfigSet, now: datetime, public_url: str,
                    enabled: Collection[Channel]) -> int:
    """Queue the notices of handoffs that just happened; how many were queued now."""
    queued = 0
    channels = [c for c in TEXT_CHANNELS if c in enabled] or [Channel.EMAIL]
    with write_session(engine) as session:
        found: list[tuple[Handoff, ZoneInfo]] = []
        for schedule in sorted(config.schedules.values(), key=lambda s: s.name):
            if not schedule.handoff_notices.enabled:
                continue
            since = now - LOOKBACK
            overlaid = effective_schedule(session, schedule, since - BEFORE, now + AHEAD)
            found += [(h, schedule.timezone) for h in due(schedule, overlaid, now)]
        if not found:
            return 0
        conn = session.connection()
        by_email = people(conn, {h.who for h, _ in found}, "low")
        for handoff, tz in found:
            person = by_email.get(handoff.who)
            if person is None:  # disabled, or not applied yet: nobody to tell
                continue
            contacts = plan(person, "low", channels)
            contact = min(contacts, key=lambda c: (c.delay, TEXT_CHANNELS.index(c.channel)),
                          default=None)
            channel, address = ((contact.channel.value, contact.address) if contact is not None
                                else ("email", person.email))
            if outbox.queue_mail(conn, key=handoff.key, address=address,
                                 mail=message(handoff, tz, public_url), now=now,
                                 channel=channel) is not None:
                queued += 1
    return queued

