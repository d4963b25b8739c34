"""When a page wakes someone: the one rule behind a postmortem's night pages and the reports'
night pages per person.

A page is at night when it reaches a person between 22:00 and 08:00 on their own wall clock
(PagerDuty's "sleep hours"), read in their own time zone at that instant, so a page across a
daylight-saving change is judged by the offset in force when it was sent. A person without a
time zone is judged in UTC (and the figures say so, rather than guess).
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

NIGHT_STARTS = time(22, 0)
NIGHT_ENDS = time(8, 0)


@lru_cache(maxsize=512)
def zone(name: str | None) -> ZoneInfo:
    """A person's time zone by its IANA name; UTC when none or unknown."""
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_night(at: datetime, tz: ZoneInfo) -> bool:
    """Whether the aware instant `at` falls in the night hours of `tz`."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    local = at.astimezone(tz).time()
    return local >= NIGHT_STARTS or local < NIGHT_ENDS
