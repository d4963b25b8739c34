"""Handoff instants of a rotation: k -> instant and instant -> k, without walking from start.

Shift k of a layer runs from handoff k to handoff k + 1 and belongs to member k mod n. Handoff 0
is always the rotation's `start` (RFC 5545: DTSTART is the first occurrence).

- `every: Nd`/`Nw` hands off at the same local wall-clock time: handoff k is the local time
  `start + k*N days`, found by arithmetic.
- `every: Nh`/`Nm` counts elapsed time from the instant of `start`.
- `rrule` occurrences are computed in local time by python-dateutil. Rules that repeat with a
  fixed period (weekly, daily, hourly, minutely rules without month/year parts, COUNT or UNTIL)
  are expanded over one period once and then indexed by arithmetic; other rules keep a lazily
  grown, cached list of occurrences, so a query years out pays for the expansion once.

Local handoff times go through RFC 5545's resolution (`localtime.resolve`). A handoff that falls
in a DST gap may resolve later than the next handoff, so the effective handoff instant is the
earliest instant among itself and the handoffs after it; that keeps handoffs non-decreasing and
gives an empty shift (skipped, no one's turn lost from the count) when two coincide.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from math import lcm
from typing import Protocol
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, HOURLY, MINUTELY, WEEKLY, rrule, rrulestr

from oncall.config.models import Rotation
from oncall.core.schedule.localtime import LATEST, resolve, to_local

_WEEK = 7 * 86400
_GAP_REACH = timedelta(days=2)
"""Longest stretch of skipped local time any zone has had (Samoa skipped a whole day)."""


class Handoffs(Protocol):
    def at(self, k: int) -> datetime:
        """Effective instant of handoff k (k >= 0); LATEST if the rotation has no such handoff."""
        ...

    def index(self, t: datetime) -> int:
        """The largest k with `at(k) <= t`, or -1 before the first handoff."""
        ...


class ElapsedHandoffs:
    """`every: Nh` / `Nm`: handoffs a fixed number of seconds apart."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.start = start
        self.step = step

    def at(self, k: int) -> datetime:
        try:
            return self.start + k * self.step
        except OverflowError:
            return LATEST

    def index(self, t: datetime) -> int:
        if t < self.start:
            return -1
        return (t - self.start) // self.step


class _LocalSequence(Protocol):
    def local(self, k: int) -> datetime | None: ...

    def count_le(self, local: datetime) -> int: ...


class LocalHandoffs:
    """Handoffs given as local wall-clock times, resolved in the schedule's zone."""

    def __init__(self, seq: _LocalSequence, tz: ZoneInfo) -> None:
        self.seq = seq
        self.tz = tz
        self.first = self.at(0)

    def at(self, k: int) -> datetime:
        seq, tz = self.seq, self.tz
        local = seq.local(k)
        if local is None:
            return LATEST
        instant = resolve(local, tz)
        if to_local(instant, tz) == local:
            return instant
        # `local` was skipped by a DST change: the first later handoff that exists may resolve
        # earlier than it (later skipped ones resolve later still).
        limit = local + _GAP_REACH
        j = k + 1
        while True:
            nxt = seq.local(j)
            if nxt is None or nxt > limit:
                return instant
            other = resolve(nxt, tz)
            if to_local(other, tz) == nxt:
                return min(instant, other)
            j += 1

    def index(self, t: datetime) -> int:
        if t < self.first:
            return -1
        k = max(self.seq.count_le(to_local(t, self.tz)) - 1, 0)
        while self.at(k + 1) <= t:
            k += 1
        while k > 0 and self.at(k) > t:
            k -= 1
        return k


class CalendarSequence:
    """`every: Nd` / `Nw`: local times N days apart."""

    def __init__(self, start: datetime, days: int) -> None:
        self.start = start
        self.step = timedelta(days=days)

    def local(self, k: int) -> datetime | None:
        try:
            return self.start + k * self.step
        except OverflowError:
            return None

    def count_le(self, local: datetime) -> int:
        if local < self.start:
            return 0
        return (local - self.start) // self.step + 1


class PeriodicSequence:
    """An rrule whose occurrences repeat every `period` seconds of local time."""

    def __init__(self, start: datetime, period: int, offsets: list[int]) -> None:
        self.start = start
        self.period = period
        self.offsets = offsets  # seconds after start of the occurrences in (start, start+period]

    def local(self, k: int) -> datetime | None:
        if k == 0:
            return self.start
        m, r = divmod(k - 1, len(self.offsets))
        try:
            return self.start + timedelta(seconds=self.offsets[r] + m * self.period)
        except OverflowError:
            return None

    def count_le(self, local: datetime) -> int:
        if local < self.start:
            return 0
        d = (local - self.start).total_seconds()
        q, r = divmod(d, self.period)
        return 1 + int(q) * len(self.offsets) + bisect_right(self.offsets, r)


class ListedSequence:
    """Any other rrule: occurrences listed as far as queries have needed, and kept."""

    def __init__(self, start: datetime, occurrences: Iterator[datetime]) -> None:
        self.start = start
        self.items: list[datetime] = []
        self._source: Iterator[datetime] | None = (d for d in occurrences if d > start)

    def _grow_to_index(self, n: int) -> None:
        while len(self.items) < n and self._source is not None:
            self._next()

    def _next(self) -> None:
        assert self._source is not None
        nxt = next(self._source, None)
        if nxt is None:
            self._source = None
        else:
            self.items.append(nxt)

    def local(self, k: int) -> datetime | None:
        if k == 0:
            return self.start
        self._grow_to_index(k)
        return self.items[k - 1] if k - 1 < len(self.items) else None

    def count_le(self, local: datetime) -> int:
        if local < self.start:
            return 0
        while self._source is not None and (not self.items or self.items[-1] <= local):
            self._next()
        return 1 + bisect_right(self.items, local)


_UNIT = {WEEKLY: _WEEK, DAILY: 86400, HOURLY: 3600, MINUTELY: 60}
_MAX_PERIOD_OCCURRENCES = 20000


def _period(rule: rrule) -> int | None:
    """Seconds after which the rule's local occurrences repeat, if they do."""
    # dateutil keeps the parsed rule parts in private attributes and offers no public accessor.
    r = vars(rule)
    if r["_count"] is not None or r["_until"] is not None or r["_freq"] not in _UNIT:
        return None
    if r["_bymonth"] or r["_bymonthday"] or r["_bynmonthday"] or r["_byyearday"]:
        return None
    if r["_byweekno"] or r["_bynweekday"] or r["_byeaster"]:
        return None
    return lcm(int(r["_interval"]) * _UNIT[r["_freq"]], _WEEK)


@lru_cache(maxsize=512)
def _rrule_sequence(text: str, start: datetime) -> _LocalSequence:
    rule = rrulestr(text, dtstart=start)
    period = _period(rule) if isinstance(rule, rrule) else None
    if period is not None:
        end = start + timedelta(seconds=period)
        offsets: list[int] = []
        for d in rule:
            if d > end or len(offsets) > _MAX_PERIOD_OCCURRENCES:
                break
            if d > start:
                offsets.append(int((d - start).total_seconds()))
        if offsets and len(offsets) <= _MAX_PERIOD_OCCURRENCES:
            return PeriodicSequence(start, period, offsets)
    return ListedSequence(start, iter(rule))


@lru_cache(maxsize=1024)
def _handoffs(
    start: datetime, days: int, seconds: int, rule: str | None, tz: ZoneInfo
) -> Handoffs:
    if rule is not None:
        return LocalHandoffs(_rrule_sequence(rule, start), tz)
    if days:
        return LocalHandoffs(CalendarSequence(start, days), tz)
    return ElapsedHandoffs(resolve(start, tz), timedelta(seconds=seconds))


def handoffs(rotation: Rotation, tz: ZoneInfo) -> Handoffs:
    """The handoffs of a rotation read in `tz` (shared between equal rotations)."""
    every = rotation.every
    if rotation.rrule is not None:
        text = rotation.rrule
        if text.upper().startswith("RRULE:"):
            text = text[6:]
        return _handoffs(rotation.start, 0, 0, text, tz)
    assert every is not None
    return _handoffs(rotation.start, every.days, every.seconds, None, tz)

