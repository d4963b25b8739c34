"""Everyone on call in one week: schedules by days of the viewer's week, and hours per person.

Pure: the caller passes each schedule's final shifts over the week (the engine's `shifts` of the
schedule with the app's overrides laid over) and the viewer's zone. Days run from local
midnight to local midnight, so a day on which clocks change has 23 or 25 hours and the hours
shown are the wall-clock hours the viewer lives by.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from oncall.core.schedule import Shift

DAYS = 7


@dataclass(frozen=True)
class Week:
    """Monday to Sunday in `zone`; `start` and `end` are the UTC instants of its edges."""

    monday: date
    zone: ZoneInfo

    @property
    def days(self) -> list[date]:
        return [self.monday + timedelta(days=i) for i in range(DAYS)]

    def midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.zone).astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.midnight(self.monday)

    @property
    def end(self) -> datetime:
        return self.midnight(self.monday + timedelta(days=DAYS))

    @property
    def label(self) -> str:
        last = self.monday + timedelta(days=DAYS - 1)
        return f"{self.monday:%a %d %b} – {last:%a %d %b %Y}"


def week_of(now: datetime, zone: ZoneInfo, offset: int = 0) -> Week:
    """The week holding `now` in `zone`, moved by `offset` weeks (negative: earlier)."""
    today = now.astimezone(zone).date()
    return Week(today - timedelta(days=today.weekday()) + timedelta(weeks=offset), zone)


@dataclass(frozen=True)
class Stint:
    """`who` on call on one day, from `start` to `end` (local wall clock, "24:00" at the end
    of the day)."""

    who: str
    start: str
    end: str


@dataclass(frozen=True)
class Row:
    schedule: str
    days: list[list[Stint]]
    """For each day of the week, the people on call in order of time."""


def _clock(at: datetime, zone: ZoneInfo, day_end: datetime) -> str:
    return "24:00" if at >= day_end else at.astimezone(zone).strftime("%H:%M")


def day_stints(tiled: Iterable[Shift], week: Week, day: date) -> list[Stint]:
    """The shifts' people within one local day; one person's touching pieces joined."""
    lo, hi = week.midnight(day), week.midnight(day + timedelta(days=1))
    pieces: list[tuple[str, datetime, datetime]] = []
    for shift in sorted(tiled, key=lambda s: s.start):
        if shift.who is None or shift.end <= lo or shift.start >= hi:
            continue
        start, end = max(shift.start, lo), min(shift.end, hi)
        if pieces and pieces[-1][0] == shift.who and pieces[-1][2] == start:
            pieces[-1] = (shift.who, pieces[-1][1], end)
        else:
            pieces.append((shift.who, start, end))
    return [Stint(who, _clock(start, week.zone, hi), _clock(end, week.zone, hi))
            for who, start, end in pieces]


def grid(by_schedule: Mapping[str, Sequence[Shift]], week: Week) -> list[Row]:
    """A row per schedule (by name), a cell per day."""
    return [Row(name, [day_stints(by_schedule[name], week, day) for day in week.days])
            for name in sorted(by_schedule)]


@dataclass(frozen=True)
class PersonWeek:
    who: str
    hours: float
    """Hours on call for at least one schedule (time on two schedules at once counts once)."""
    by_schedule: dict[str, float]


def _hours(spans: Iterable[tuple[datetime, datetime]]) -> float:
    """The length of the union of the spans, in hours."""
    total, reach = timedelta(), None
    for start, end in sorted(spans):
        if reach is None or start >= reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total.total_seconds() / 3600


def people(by_schedule: Mapping[str, Sequence[Shift]], week: Week) -> list[PersonWeek]:
    """Each person's hours on call within the week, most hours first."""
    spans: dict[str, dict[str, list[tuple[datetime, datetime]]]] = {}
    for name, tiled in by_schedule.items():
        for shift in tiled:
            start, end = max(shift.start, week.start), min(shift.end, week.end)
            if shift.who is None or end <= start:
                continue
            spans.setdefault(shift.who, {}).setdefault(name, []).append((start, end))
    found = [
        PersonWeek(
            who,
            _hours(span for pieces in mine.values() for span in pieces),
            {name: _hours(pieces) for name, pieces in sorted(mine.items())},
        )
        for who, mine in spans.items()
    ]
    return sorted(found, key=lambda p: (-p.hours, p.who))


def hours_text(hours: float) -> str:
    """`40 h`, `7.5 h`: to a tenth, no trailing `.0`."""
    return f"{round(hours, 1):g} h"
