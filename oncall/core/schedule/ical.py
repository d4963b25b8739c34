"""iCalendar (RFC 5545) feeds of final shifts, for Google Calendar and Outlook subscriptions.

Times are written in UTC so no VTIMEZONE is needed; UIDs are derived from the schedule, the
person and the shift's start, so a refreshed feed updates events instead of duplicating them.
Shifts are TRANSPARENT: being on call does not make anyone busy in a free/busy lookup.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from icalendar import Calendar, Event

from oncall.config.models import Schedule
from oncall.core.schedule.engine import Shift, shifts
from oncall.core.schedule.localtime import require_aware

PRODID = "-//oncall//schedules//EN"


def _calendar(name: str, description: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-caldesc", description)
    cal.add("x-published-ttl", "PT1H")
    return cal


def _event(schedule: Schedule, shift: Shift, summary: str, stamp: datetime) -> Event:
    key = f"{schedule.name}|{shift.who}|{shift.start.isoformat()}"
    event = Event()
    event.add("uid", hashlib.sha256(key.encode()).hexdigest()[:32] + "@oncall")
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.start)
    event.add("dtend", shift.end)
    event.add("summary", summary)
    how = "override" if shift.source == "override" else f"layer {shift.layer}"
    event.add("description", f"{shift.who} on call for schedule {schedule.name} ({how})")
    event.add("transp", "TRANSPARENT")
    return event


def schedule_feed(schedule: Schedule, start: datetime, end: datetime, *, stamp: datetime) -> bytes:
    """A calendar of everyone's shifts of one schedule over [start, end)."""
    stamp = require_aware(stamp, "stamp")
    cal = _calendar(f"On call: {schedule.name}", schedule.description or schedule.name)
    for s in shifts(schedule, start, end):
        if s.who is not None:
            cal.add_component(_event(schedule, s, f"{s.who} on call ({schedule.name})", stamp))
    return bytes(cal.to_ical())


def person_feed(
    schedules: Iterable[Schedule], who: str, start: datetime, end: datetime, *, stamp: datetime
) -> bytes:
    """A calendar of one person's shifts across schedules over [start, end)."""
    stamp = require_aware(stamp, "stamp")
    cal = _calendar(f"On call: {who}", f"Shifts of {who}")
    found: list[tuple[datetime, str, Event]] = []
    for schedule in schedules:
        for s in shifts(schedule, start, end):
            if s.who == who:
                event = _event(schedule, s, f"On call: {schedule.name}", stamp)
                found.append((s.start, schedule.name, event))
    for _, _, event in sorted(found, key=lambda item: (item[0], item[1])):
        cal.add_component(event)
    return bytes(cal.to_ical())
