"""Coverage gaps: stretches where a schedule has no one, in UTC and in the schedule's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from oncall.config.models import Schedule
from oncall.core.schedule.engine import shifts


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime
    local_start: datetime
    local_end: datetime

    def describe(self) -> str:
        """`2026-01-10 17:00 to 2026-01-11 09:00 (America/New_York)`, as people read schedules."""
        zone = getattr(self.local_start.tzinfo, "key", str(self.local_start.tzinfo))
        return f"{_clock(self.local_start)} to {_clock(self.local_end)} ({zone})"


def _clock(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S" if t.second else "%Y-%m-%d %H:%M")


def coverage_gaps(schedule: Schedule, start: datetime, end: datetime) -> list[Gap]:
    tz = schedule.timezone
    return [
        Gap(s.start, s.end, s.start.astimezone(tz), s.end.astimezone(tz))
        for s in shifts(schedule, start, end)
        if s.is_gap
    ]
