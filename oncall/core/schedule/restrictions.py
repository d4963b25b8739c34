"""Restriction windows: the local wall-clock times of the week in which a layer has someone.

A window `{days, from, to}` starts at `from` on each listed day and ends at `to` the same day, or
the next day when `to` is not after `from` (Friday 22:00-06:00 ends Saturday 06:00). The windows
of one week are merged once into a sorted list of minute offsets from Monday 00:00; a query finds
its place by bisection in local time and resolves only the two boundaries around it, so DST days
(23 or 25 hours long) are handled by the same RFC 5545 reading as every other local time.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from oncall.config.models import Restriction
from oncall.config.types import WEEKDAYS
from oncall.core.schedule.localtime import resolve, to_local

_DAY = 1440
_WEEK = 7 * _DAY


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def weekly_spans(restrictions: list[Restriction]) -> list[tuple[int, int]]:
    """Merged windows as (start, end) minutes after Monday 00:00 (end may pass 10080)."""
    spans: list[tuple[int, int]] = []
    for r in restrictions:
        for day in r.days:
            base = WEEKDAYS.index(day) * _DAY
            end = r.to if r.to > r.from_ else r.to + _DAY
            spans.append((base + r.from_, base + end))
    return _merge(spans)


class Windows:
    """The merged windows of a layer, over the week before, of and after any query."""

    def __init__(self, restrictions: list[Restriction], tz: ZoneInfo) -> None:
        self.tz = tz
        week = weekly_spans(restrictions)
        tiled = _merge([(a + w * _WEEK, b + w * _WEEK) for w in (-1, 0, 1) for a, b in week])
        self.always = any(a <= 0 and b >= _WEEK for a, b in tiled)
        self.bounds: list[int] = [m for span in tiled for m in span]

    def at(self, t: datetime) -> tuple[bool, datetime, datetime]:
        """Whether `t` is inside a window, and the instants of the stretch around `t`."""
        tz, bounds = self.tz, self.bounds
        local = to_local(t, tz)
        monday = datetime(local.year, local.month, local.day) - timedelta(days=local.weekday())
        minute = (local - monday).total_seconds() / 60
        p = bisect_right(bounds, minute) - 1

        def instant(i: int) -> datetime:
            return resolve(monday + timedelta(minutes=bounds[i]), tz)

        lo, hi = instant(p), instant(p + 1)
        # The local position is exact except on the repeated hour of a fall-back day or where a
        # boundary was skipped; step to the neighbouring stretch until the instants agree.
        while t < lo and p > 0:
            p -= 1
            lo, hi = instant(p), lo
        while t >= hi and p + 2 < len(bounds):
            p += 1
            lo, hi = hi, instant(p + 1)
        return p % 2 == 0, lo, hi
