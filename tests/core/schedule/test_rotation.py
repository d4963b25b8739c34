"""Handoffs: wall-clock days and weeks, elapsed hours, rrules; DST days; years after start."""

from datetime import UTC, datetime, timedelta

import pytest
from dateutil.rrule import rrulestr

from oncall.config.models import Rotation
from oncall.config.types import zone
from oncall.core.schedule.localtime import resolve
from oncall.core.schedule.rotation import handoffs


def rot(**kw: object) -> Rotation:
    return Rotation.model_validate(kw)


def hours(a: datetime, b: datetime) -> float:
    return (b - a) / timedelta(hours=1)


def shift_on(tz: str, every: str, start: str, day: str) -> float:
    """Length in hours of the shift whose handoff is on local `day`, at the rotation's clock."""
    h = handoffs(rot(every=every, start=start), zone(tz))
    t = resolve(datetime.fromisoformat(day + start[10:]), zone(tz))
    k = h.index(t)
    assert h.at(k) == t
    return hours(h.at(k), h.at(k + 1))


DST_DAYS = [
    # zone, day before the change (09:00 handoff), hours of a 1d shift, why
    ("America/New_York", "2026-03-07", 23, "spring forward"),
    ("America/New_York", "2026-10-31", 25, "fall back"),
    ("Europe/London", "2026-03-28", 23, "spring forward"),
    ("Europe/London", "2026-10-24", 25, "fall back"),
    ("Australia/Sydney", "2026-10-03", 23, "spring forward (October)"),
    ("Australia/Sydney", "2026-04-04", 25, "fall back (April)"),
    ("Australia/Lord_Howe", "2026-10-03", 23.5, "30-minute spring forward"),
    ("Australia/Lord_Howe", "2026-04-04", 24.5, "30-minute fall back"),
    ("Asia/Kolkata", "2026-03-07", 24, "no DST"),
    ("America/New_York", "2026-03-10", 24, "an ordinary day"),
]


@pytest.mark.parametrize(
    ("tz", "day", "length", "why"), DST_DAYS, ids=[f"{c[0]}-{c[3]}" for c in DST_DAYS]
)
def test_day_rotation_hands_off_at_the_same_wall_clock_time(
    tz: str, day: str, length: float, why: str
) -> None:
    assert shift_on(tz, "1d", "2026-01-01T09:00", day) == length


@pytest.mark.parametrize(
    ("tz", "day", "length", "why"), DST_DAYS, ids=[f"{c[0]}-{c[3]}" for c in DST_DAYS]
)
def test_hour_rotation_counts_elapsed_time(tz: str, day: str, length: float, why: str) -> None:
    h = handoffs(rot(every="24h", start="2026-01-01T09:00"), zone(tz))
    t = resolve(datetime.fromisoformat(day + "T12:00"), zone(tz))
    k = h.index(t)
    assert hours(h.at(k), h.at(k + 1)) == 24


def test_week_rotation_spanning_spring_forward_lasts_167_hours() -> None:
    h = handoffs(rot(every="1w", start="2026-03-02T09:00"), zone("America/New_York"))
    assert hours(h.at(0), h.at(1)) == 167
    assert h.at(1).astimezone(zone("America/New_York")).hour == 9


def test_0230_daily_handoff_on_spring_forward_day_is_0330_edt() -> None:
    ny = zone("America/New_York")
    for h in (
        handoffs(rot(every="1d", start="2026-03-01T02:30"), ny),
        handoffs(rot(rrule="FREQ=DAILY", start="2026-03-01T02:30"), ny),
    ):
        k = h.index(datetime(2026, 3, 8, 12, tzinfo=UTC))
        assert h.at(k) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT
        assert h.at(k).astimezone(ny).strftime("%H:%M %Z") == "03:30 EDT"
        assert hours(h.at(k - 1), h.at(k)) == 24  # 02:30 EST -> 03:30 EDT
        assert hours(h.at(k), h.at(k + 1)) == 23  # 03:30 EDT -> 02:30 EDT
        assert k == 7


def test_fall_back_handoff_in_repeated_hour_is_the_first_occurrence() -> None:
    ny = zone("America/New_York")
    h = handoffs(rot(every="1d", start="2026-10-25T01:30"), ny)
    assert h.at(7) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert hours(h.at(7), h.at(8)) == 25


def test_handoffs_in_a_gap_never_run_backwards() -> None:
    # Every 15 minutes: 02:00-02:45 do not exist and resolve after 03:00 EDT would.
    h = handoffs(
        rot(rrule="FREQ=MINUTELY;INTERVAL=15", start="2026-03-08T01:00"), zone("America/New_York")
    )
    instants = [h.at(k) for k in range(16)]
    assert instants == sorted(instants)
    t = datetime(2026, 3, 8, 7, 5, tzinfo=UTC)  # 03:05 EDT
    assert h.at(h.index(t)) <= t < h.at(h.index(t) + 1)


def test_before_start_there_is_no_shift() -> None:
    h = handoffs(rot(every="1d", start="2026-01-05T09:00"), zone("Europe/London"))
    assert h.index(datetime(2026, 1, 5, 8, 59, tzinfo=UTC)) == -1
    assert h.index(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) == 0


@pytest.mark.parametrize(
    "rotation",
    [
        {"every": "1w", "start": "2026-01-05T09:00"},
        {"every": "3d", "start": "2026-01-05T09:00"},
        {"every": "12h", "start": "2026-01-05T09:00"},
        {"every": "90m", "start": "2026-01-05T09:00"},
        {"rrule": "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=8;BYMINUTE=0", "start": "2026-01-05T08:00"},
        {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "start": "2026-01-05T09:00"},
        {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1,15", "start": "2026-01-01T09:00"},
        {"rrule": "FREQ=HOURLY;INTERVAL=8", "start": "2026-01-05T09:00"},
    ],
)
def test_rotation_queried_ten_years_after_start_matches_counting(rotation: dict[str, str]) -> None:
    tz = zone("America/New_York")
    r = rot(**rotation)
    h = handoffs(r, tz)
    start = r.start
    if r.rrule:
        later = [
            d for d in rrulestr(r.rrule, dtstart=start).xafter(start, count=70000) if d > start
        ]
        local = [start, *later]
    else:
        assert r.every is not None
        if r.every.is_calendar:
            local = [start + k * timedelta(days=r.every.days) for k in range(70000)]
        else:
            t0 = resolve(start, tz)
            local = [(t0 + k * r.every.timedelta) for k in range(70000)]  # type: ignore[misc]
    t = datetime(2036, 2, 1, 15, 17, tzinfo=UTC)
    expected = [resolve(d, tz) if d.tzinfo is None else d for d in local]
    k = max(i for i, d in enumerate(expected) if d <= t)
    assert h.index(t) == k
    assert h.at(k) == expected[k]
    assert h.at(k + 1) == expected[k + 1]


def test_finite_rrule_keeps_the_last_person_after_its_last_handoff() -> None:
    h = handoffs(rot(rrule="FREQ=DAILY;COUNT=3", start="2026-01-05T09:00"), zone("UTC"))
    assert h.index(datetime(2030, 1, 1, tzinfo=UTC)) == 2
