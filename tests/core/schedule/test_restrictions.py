"""Restriction windows: local wall-clock, `days` names the day a window starts, DST days."""

from datetime import UTC, datetime, timedelta

import pytest

from oncall.config.models import Restriction
from oncall.config.types import zone
from oncall.core.schedule.restrictions import Windows, weekly_spans


def windows(tz: str, *specs: dict[str, object]) -> Windows:
    return Windows([Restriction.model_validate(s) for s in specs], zone(tz))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_window_crossing_midnight_starts_on_its_day() -> None:
    w = windows("UTC", {"days": ["fri"], "from": "22:00", "to": "06:00"})
    assert w.at(utc("2026-01-09T23:00")) == (True, utc("2026-01-09T22:00"), utc("2026-01-10T06:00"))
    assert w.at(utc("2026-01-10T05:59"))[0] is True  # Saturday morning
    assert w.at(utc("2026-01-10T22:30"))[0] is False  # Saturday night is not listed
    assert w.at(utc("2026-01-09T03:00"))[0] is False  # Friday morning belongs to Thursday


CROSSING_ON_DST = [
    # zone, local instant inside, window start (UTC), window end (UTC), hours, why
    ("America/New_York", "2026-03-08T07:00", "2026-03-08T03:00", "2026-03-08T10:00", 7, "spring"),
    ("America/New_York", "2026-11-01T07:00", "2026-11-01T02:00", "2026-11-01T11:00", 9, "fall"),
    ("Europe/London", "2026-03-29T03:00", "2026-03-28T22:00", "2026-03-29T05:00", 7, "spring"),
    ("Australia/Lord_Howe", "2026-10-03T14:00", "2026-10-03T11:30", "2026-10-03T19:00", 7.5, "lhi"),
]


@pytest.mark.parametrize(("tz", "inside", "lo", "hi", "length", "why"), CROSSING_ON_DST)
def test_window_crossing_midnight_on_a_dst_night(
    tz: str, inside: str, lo: str, hi: str, length: float, why: str
) -> None:
    w = windows(tz, {"days": ["sat"], "from": "22:00", "to": "06:00"})
    got = w.at(utc(inside))
    assert got == (True, utc(lo), utc(hi))
    assert (got[2] - got[1]) / timedelta(hours=1) == length


def test_outside_a_window_the_stretch_runs_to_the_next_window() -> None:
    w = windows(
        "Europe/London",
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"},
    )
    assert w.at(utc("2026-01-09T18:00")) == (
        False,
        utc("2026-01-09T17:00"),
        utc("2026-01-12T09:00"),
    )


def test_window_starting_in_a_skipped_hour_starts_after_the_gap() -> None:
    w = windows("America/New_York", {"days": ["sun"], "from": "02:30", "to": "04:00"})
    assert w.at(utc("2026-03-08T07:40")) == (True, utc("2026-03-08T07:30"), utc("2026-03-08T08:00"))


def test_repeated_hour_is_read_by_instant_not_by_wall_clock() -> None:
    # 00:00-01:30 on the fall-back night ends at the first 01:30 (EDT); the second 01:15 is outside.
    w = windows("America/New_York", {"days": ["sun"], "from": "00:00", "to": "01:30"})
    assert w.at(utc("2026-11-01T05:15"))[0] is True  # 01:15 EDT
    assert w.at(utc("2026-11-01T06:15"))[0] is False  # 01:15 EST


def test_windows_covering_the_whole_week_are_no_restriction() -> None:
    assert windows("UTC", {"from": "00:00", "to": "24:00"}).always
    assert windows("UTC", {"from": "18:00", "to": "09:00"}, {"from": "09:00", "to": "18:00"}).always
    assert not windows("UTC", {"days": ["mon"], "from": "00:00", "to": "24:00"}).always


def test_overlapping_windows_merge() -> None:
    spans = weekly_spans(
        [
            Restriction.model_validate({"days": ["mon"], "from": "09:00", "to": "12:00"}),
            Restriction.model_validate({"days": ["mon"], "from": "11:00", "to": "17:00"}),
        ]
    )
    assert spans == [(540, 1020)]
