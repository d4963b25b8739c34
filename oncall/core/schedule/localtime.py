"""Local wall-clock times to instants and back, with RFC 5545's rules for DST edges.

A local time skipped by a spring-forward change is read with the offset in force before the
change (02:30 on a New York spring-forward day is 03:30 EDT); a local time that occurs twice is
its first occurrence. PEP 495's `fold=0` gives exactly these readings, so the rule lives here in
one place and every other module goes through it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
"""Stands for "since ever" in intervals; never converted to a local time."""
LATEST = datetime(9999, 12, 30, tzinfo=UTC)
"""Stands for "for ever" in intervals; never converted to a local time."""

TICK = timedelta(microseconds=1)


def resolve(local: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a naive local time, by RFC 5545's rules."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def to_local(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time of an aware instant in `tz`."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def exists(local: datetime, tz: ZoneInfo) -> bool:
    """False for a local time skipped by a DST change (or a zone's calendar jump)."""
    return to_local(resolve(local, tz), tz) == local


def require_aware(instant: datetime, what: str = "instant") -> datetime:
    """Reject naive datetimes at the core's edge: a naive time has no single meaning."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} {instant.isoformat()} has no time zone")
    return instant.astimezone(UTC)


def local_instant(local: datetime, tz: ZoneInfo) -> datetime:
    """`resolve`, as an aware time in `tz` (for display)."""
    return resolve(local, tz).astimezone(tz)
