"""Final shifts: layer precedence, restrictions, until, overrides; who is on call and until when."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall.config.models import Schedule
from oncall.core.schedule import coverage_gaps, on_call, shifts, who_at

A, B, C, D, E = (f"{n}@example.com" for n in ("alice", "bob", "carol", "dave", "erin"))
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def schedule(
    tz: str, *layers: dict[str, Any], overrides: list[dict[str, Any]] | None = None
) -> Schedule:
    return Schedule.model_validate(
        {
            "kind": "Schedule",
            "name": "s",
            "team": "t",
            "timezone": tz,
            "layers": [{"name": f"l{i}", **layer} for i, layer in enumerate(layers)],
            "overrides": overrides or [],
        }
    )


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


WEEKLY = {"members": [A, B, C], "rotation": {"every": "1w", "start": "2026-01-05T09:00"}}
BUSINESS = {
    "members": [D],
    "rotation": {"every": "1d", "start": "2026-01-05T09:00"},
    "restrictions": [{"days": WEEKDAYS, "from": "09:00", "to": "17:00"}],
}
S = schedule("UTC", WEEKLY, BUSINESS)

WHO = [
    # instant, who, why
    ("2026-01-05T08:59", None, "before every layer's start: a gap"),
    ("2026-01-05T09:00", D, "the later layer wins where it has someone"),
    ("2026-01-05T17:00", A, "outside the later layer's window, the earlier layer"),
    ("2026-01-10T12:00", A, "weekend: restricted layer has no one"),
    ("2026-01-12T08:59", A, "shift k=0 runs to the next handoff"),
    ("2026-01-12T09:00", D, "Monday business hours"),
    ("2026-01-12T18:00", B, "shift 1 belongs to member 1"),
    ("2026-01-19T18:00", C, "shift 2 to member 2"),
    ("2026-01-26T18:00", A, "shift 3 to member 3 mod 3 = 0"),
]


@pytest.mark.parametrize(("at", "who", "why"), WHO, ids=[w[2] for w in WHO])
def test_who_is_on_call(at: str, who: str | None, why: str) -> None:
    assert who_at(S, utc(at)) == who


def test_until_ends_a_layer() -> None:
    s = schedule("UTC", WEEKLY, {**BUSINESS, "until": "2026-01-07T12:00"})
    assert who_at(s, utc("2026-01-07T11:59")) == D
    assert who_at(s, utc("2026-01-07T12:00")) == A
    assert who_at(s, utc("2026-01-08T10:00")) == A


def test_later_listed_override_wins() -> None:
    s = schedule(
        "UTC",
        WEEKLY,
        overrides=[
            {"who": D, "from": "2026-01-06T00:00", "to": "2026-01-08T00:00"},
            {"who": E, "from": "2026-01-07T00:00", "to": "2026-01-07T12:00"},
        ],
    )
    got = [
        (x.start, x.end, x.who, x.source)
        for x in shifts(s, utc("2026-01-06T00:00"), utc("2026-01-08T06:00"))
    ]
    assert got == [
        (utc("2026-01-06T00:00"), utc("2026-01-07T00:00"), D, "override"),
        (utc("2026-01-07T00:00"), utc("2026-01-07T12:00"), E, "override"),
        (utc("2026-01-07T12:00"), utc("2026-01-08T00:00"), D, "override"),
        (utc("2026-01-08T00:00"), utc("2026-01-08T06:00"), A, "layer"),
    ]


def test_override_inside_a_restricted_layer() -> None:
    s = schedule(
        "UTC",
        WEEKLY,
        BUSINESS,
        overrides=[{"who": E, "from": "2026-01-05T16:00", "to": "2026-01-05T18:00"}],
    )
    got = [
        (x.start, x.end, x.who, x.layer)
        for x in shifts(s, utc("2026-01-05T09:00"), utc("2026-01-05T20:00"))
    ]
    assert got == [
        (utc("2026-01-05T09:00"), utc("2026-01-05T16:00"), D, "l1"),
        (utc("2026-01-05T16:00"), utc("2026-01-05T18:00"), E, None),
        (utc("2026-01-05T18:00"), utc("2026-01-05T20:00"), A, "l0"),
    ]


def test_override_covers_a_gap() -> None:
    s = schedule(
        "UTC",
        BUSINESS,
        overrides=[{"who": E, "from": "2026-01-10T00:00", "to": "2026-01-11T00:00"}],
    )
    assert who_at(s, utc("2026-01-10T03:00")) == E
    assert who_at(s, utc("2026-01-11T03:00")) is None


def test_follow_the_sun_three_layers_on_the_london_spring_forward_day() -> None:
    s = schedule(
        "Europe/London",
        {
            "members": [A],
            "rotation": {"every": "1w", "start": "2026-03-02T00:00"},
            "restrictions": [{"from": "00:00", "to": "08:00"}],
        },
        {
            "members": [B],
            "rotation": {"every": "1w", "start": "2026-03-02T00:00"},
            "restrictions": [{"from": "08:00", "to": "16:00"}],
        },
        {
            "members": [C],
            "rotation": {"every": "1w", "start": "2026-03-02T00:00"},
            "restrictions": [{"from": "16:00", "to": "24:00"}],
        },
    )
    got = [
        (x.who, (x.end - x.start) / timedelta(hours=1))
        for x in shifts(s, utc("2026-03-29T00:00"), utc("2026-03-29T23:00"))
    ]
    # Midnight is 00:00 GMT; the skipped hour shortens the Asia-Pacific window to 7 hours.
    assert got == [(A, 7), (B, 8), (C, 8)]
    assert coverage_gaps(s, utc("2026-03-02T00:00"), utc("2026-04-30T00:00")) == []


def test_gaps_are_shifts_with_no_one() -> None:
    s = schedule("America/New_York", BUSINESS)
    gaps = coverage_gaps(s, utc("2026-01-09T00:00"), utc("2026-01-13T00:00"))
    assert [g.describe() for g in gaps] == [
        "2026-01-08 19:00 to 2026-01-09 09:00 (America/New_York)",
        "2026-01-09 17:00 to 2026-01-12 09:00 (America/New_York)",
        "2026-01-12 17:00 to 2026-01-12 19:00 (America/New_York)",
    ]


def test_on_call_reports_the_whole_shift() -> None:
    s = on_call(S, utc("2026-01-14T20:00"))
    assert (s.who, s.layer, s.start, s.end) == (
        B,
        "l0",
        utc("2026-01-14T17:00"),
        utc("2026-01-15T09:00"),
    )


def test_on_call_merges_handoffs_between_the_same_person() -> None:
    s = schedule(
        "UTC",
        {
            "members": [A],
            "rotation": {"every": "1d", "start": "2026-01-05T09:00"},
            "until": "2026-02-01T00:00",
        },
    )
    got = on_call(s, utc("2026-01-20T00:00"))
    assert (got.start, got.end) == (utc("2026-01-05T09:00"), utc("2026-02-01T00:00"))


def test_rotation_ten_years_after_start() -> None:
    # 2036-01-07 is 522 weeks after 2026-01-05: shift 522, member 522 mod 3 = 0.
    assert who_at(S, utc("2036-01-07T20:00")) == A
    s = on_call(S, utc("2036-01-07T20:00"))
    assert (s.start, s.end) == (utc("2036-01-07T17:00"), utc("2036-01-08T09:00"))


def test_naive_and_reversed_windows_are_rejected() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        shifts(S, datetime(2026, 1, 1), utc("2026-01-02T00:00"))
    with pytest.raises(ValueError, match="end after it starts"):
        shifts(S, utc("2026-01-02T00:00"), utc("2026-01-01T00:00"))
