"""The week overview's logic: the viewer's Monday-to-Sunday, people per day with their hours,
and hours per person."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from oncall.config.configset import ConfigSet
from oncall.core.schedule import Shift, shifts, who_at
from oncall.web.week_grid import Stint, Week, day_stints, grid, hours_text, people, week_of

LONDON, TOKYO = ZoneInfo("Europe/London"), ZoneInfo("Asia/Tokyo")
LA = ZoneInfo("America/Los_Angeles")
A, B = "a@example.com", "b@example.com"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def shift(start: datetime, end: datetime, who: str | None) -> Shift:
    return Shift(start, end, who, "l" if who else None)


@pytest.mark.parametrize(("now", "zone", "offset", "monday"), [
    (utc(2026, 3, 10, 12), LONDON, 0, date(2026, 3, 9)),
    (utc(2026, 3, 8, 23, 30), LONDON, 0, date(2026, 3, 2)),  # Sunday night in London
    (utc(2026, 3, 8, 23, 30), TOKYO, 0, date(2026, 3, 9)),  # already Monday in Tokyo
    (utc(2026, 3, 9, 3), LA, 0, date(2026, 3, 2)),  # still Sunday in Los Angeles
    (utc(2026, 3, 10, 12), LONDON, -1, date(2026, 3, 2)),
    (utc(2026, 3, 10, 12), LONDON, 3, date(2026, 3, 30)),
])
def test_week_of(now: datetime, zone: ZoneInfo, offset: int, monday: date) -> None:
    week = week_of(now, zone, offset)
    assert week.monday == monday and week.monday.weekday() == 0
    assert len(week.days) == 7 and week.days[-1] == monday + timedelta(days=6)


def test_a_week_with_a_clock_change_is_an_hour_short() -> None:
    week = Week(date(2026, 3, 23), LONDON)  # British Summer Time starts on Sunday the 29th
    assert week.start == utc(2026, 3, 23, 0) and week.end == utc(2026, 3, 29, 23)
    assert week.end - week.start == timedelta(days=7, hours=-1)
    assert week.label == "Mon 23 Mar – Sun 29 Mar 2026"


WEEK = Week(date(2026, 3, 9), LONDON)
TUESDAY = date(2026, 3, 10)


@pytest.mark.parametrize(("tiled", "day", "expected"), [
    # a shift over the whole day
    ([shift(utc(2026, 3, 9, 10), utc(2026, 3, 16, 10), A)], TUESDAY, [Stint(A, "00:00", "24:00")]),
    # a handoff in the day, and the first day of the shift
    ([shift(utc(2026, 3, 2, 10), utc(2026, 3, 9, 10), B),
      shift(utc(2026, 3, 9, 10), utc(2026, 3, 16, 10), A)], date(2026, 3, 9),
     [Stint(B, "00:00", "10:00"), Stint(A, "10:00", "24:00")]),
    # two layers of the same person joined; a gap left out
    ([shift(utc(2026, 3, 10, 0), utc(2026, 3, 10, 8), A),
      shift(utc(2026, 3, 10, 8), utc(2026, 3, 10, 18), A),
      shift(utc(2026, 3, 10, 18), utc(2026, 3, 11, 0), None)], TUESDAY,
     [Stint(A, "00:00", "18:00")]),
    # the same person twice in a day, apart
    ([shift(utc(2026, 3, 10, 0), utc(2026, 3, 10, 8), A),
      shift(utc(2026, 3, 10, 8), utc(2026, 3, 10, 18), B),
      shift(utc(2026, 3, 10, 18), utc(2026, 3, 11, 0), A)], TUESDAY,
     [Stint(A, "00:00", "08:00"), Stint(B, "08:00", "18:00"), Stint(A, "18:00", "24:00")]),
    # nothing that day
    ([shift(utc(2026, 3, 9, 0), utc(2026, 3, 10, 0), A)], TUESDAY, []),
])
def test_day_stints(tiled: list[Shift], day: date, expected: list[Stint]) -> None:
    assert day_stints(tiled, WEEK, day) == expected


def test_days_are_the_viewers() -> None:
    """A 09:00-17:00 UTC shift seen from Tokyo is 18:00-02:00: two days there."""
    tokyo = Week(date(2026, 3, 9), TOKYO)
    tiled = [shift(utc(2026, 3, 10, 9), utc(2026, 3, 10, 17), A)]
    assert day_stints(tiled, tokyo, TUESDAY) == [Stint(A, "18:00", "24:00")]
    assert day_stints(tiled, tokyo, date(2026, 3, 11)) == [Stint(A, "00:00", "02:00")]


@pytest.mark.parametrize(("by_schedule", "expected"), [
    ({"p": [shift(utc(2026, 3, 9, 0), utc(2026, 3, 16, 0), A)]}, [(A, 168.0, {"p": 168.0})]),
    # cut to the week; a gap counts for no one
    ({"p": [shift(utc(2026, 3, 2, 10), utc(2026, 3, 9, 10), B),
            shift(utc(2026, 3, 9, 10), utc(2026, 3, 15, 0), A),
            shift(utc(2026, 3, 15, 0), utc(2026, 3, 16, 0), None)]},
     [(A, 134.0, {"p": 134.0}), (B, 10.0, {"p": 10.0})]),
    # on two schedules at once: the hours count once in the total
    ({"p": [shift(utc(2026, 3, 10, 0), utc(2026, 3, 10, 10), A)],
      "s": [shift(utc(2026, 3, 10, 5), utc(2026, 3, 10, 15), A)]},
     [(A, 15.0, {"p": 10.0, "s": 10.0})]),
])
def test_people(by_schedule: dict[str, list[Shift]],
                expected: list[tuple[str, float, dict[str, float]]]) -> None:
    assert [(p.who, p.hours, p.by_schedule) for p in people(by_schedule, WEEK)] == expected


@pytest.mark.parametrize(("hours", "text"), [(168.0, "168 h"), (7.5, "7.5 h"), (1 / 3, "0.3 h"),
                                             (0.0, "0 h")])
def test_hours_text(hours: float, text: str) -> None:
    assert hours_text(hours) == text


def test_grid_of_the_example_week(example_config: ConfigSet) -> None:
    """Every cell names whom the engine has on call at that time of that day."""
    by_schedule = {name: shifts(s, WEEK.start, WEEK.end)
                   for name, s in example_config.schedules.items()}
    rows = grid(by_schedule, WEEK)
    assert [r.schedule for r in rows] == sorted(example_config.schedules)
    for row in rows:
        schedule = example_config.schedules[row.schedule]
        for day, stints in zip(WEEK.days, row.days, strict=True):
            for stint in stints:
                hh, mm = map(int, stint.start.split(":"))
                at = datetime(day.year, day.month, day.day, hh, mm, tzinfo=LONDON)
                assert who_at(schedule, at) == stint.who, (row.schedule, day, stint)
    primary = next(r for r in rows if r.schedule == "storefront-primary")
    assert primary.days[1] == [  # Tuesday: Grace all day (her week, and her shopping day)
        Stint("grace.mwangi@northwind.example", "00:00", "24:00")]
