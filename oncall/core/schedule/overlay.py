"""Overrides painted into one timeline: the later-listed override wins where several overlap."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from zoneinfo import ZoneInfo

from oncall.config.models import Override
from oncall.core.schedule.localtime import EARLIEST, LATEST, resolve

Segment = tuple[datetime, datetime, str]


def paint(windows: list[Segment]) -> list[Segment]:
    """Disjoint, sorted segments where each window covers those listed before it."""
    painted: list[Segment] = []
    for a, b, who in windows:
        if b <= a:
            continue
        kept: list[Segment] = []
        for s, e, w in painted:
            if e <= a or s >= b:
                kept.append((s, e, w))
                continue
            if s < a:
                kept.append((s, a, w))
            if e > b:
                kept.append((b, e, w))
        kept.append((a, b, who))
        painted = sorted(kept)
    merged: list[Segment] = []
    for s, e, w in painted:
        if merged and merged[-1][1] == s and merged[-1][2] == w:
            merged[-1] = (merged[-1][0], e, w)
        else:
            merged.append((s, e, w))
    return merged


class OverridePlan:
    def __init__(self, overrides: list[Override], tz: ZoneInfo) -> None:
        self.segments = paint([(resolve(o.from_, tz), resolve(o.to, tz), o.who) for o in overrides])
        self.starts = [s for s, _, _ in self.segments]

    def state(self, t: datetime) -> tuple[str | None, datetime, datetime]:
        i = bisect_right(self.starts, t) - 1
        if i >= 0:
            s, e, who = self.segments[i]
            if t < e:
                return who, s, e
        lo = self.segments[i][1] if i >= 0 else EARLIEST
        hi = self.starts[i + 1] if i + 1 < len(self.starts) else LATEST
        return None, lo, hi
