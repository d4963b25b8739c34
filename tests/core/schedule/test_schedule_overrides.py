"""Override and swap operations: validated, and visible in the final shifts."""

from datetime import UTC, datetime

import pytest

from oncall.config.models import Schedule
from oncall.core.schedule import shifts, who_at
from oncall.core.schedule.overrides import Cover, OverrideError, make_override, swap, with_overrides

A, B, C = "alice@example.com", "bob@example.com", "carol@example.com"
S = Schedule.model_validate(
    {
        "kind": "Schedule",
        "name": "s",
        "team": "t",
        "timezone": "America/New_York",
        "layers": [
            {
                "name": "daily",
                "members": [A, B],
                "rotation": {"every": "1d", "start": "2026-01-05T09:00"},
            }
        ],
    }
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_override_is_written_in_local_time_and_wins() -> None:
    o = make_override(S, C, utc("2026-01-05T15:00"), utc("2026-01-05T16:00"))
    assert (o.from_, o.to) == (datetime(2026, 1, 5, 10), datetime(2026, 1, 5, 11))
    assert who_at(with_overrides(S, o), utc("2026-01-05T15:30")) == C


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-01-05T16:00", "2026-01-05T15:00", "must end after it starts"),
        ("2026-01-05T16:00", "2026-01-05T16:00", "must end after it starts"),
        ("2026-11-01T06:30", "2026-11-01T08:00", "repeated hour"),
    ],
)
def test_invalid_overrides(start: str, end: str, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        make_override(S, C, utc(start), utc(end))


def test_swap_trades_two_shifts() -> None:
    # Alice holds Jan 5 09:00 -> Jan 6 09:00 local, Bob the next day.
    a = Cover(A, utc("2026-01-05T14:00"), utc("2026-01-06T14:00"))
    b = Cover(B, utc("2026-01-06T14:00"), utc("2026-01-07T14:00"))
    swapped = with_overrides(S, *swap(S, a, b))
    got = [
        (x.who, x.start) for x in shifts(swapped, utc("2026-01-05T14:00"), utc("2026-01-07T14:00"))
    ]
    assert got == [(B, utc("2026-01-05T14:00")), (A, utc("2026-01-06T14:00"))]


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        (
            Cover(A, utc("2026-01-06T14:00"), utc("2026-01-07T14:00")),
            Cover(B, utc("2026-01-07T14:00"), utc("2026-01-08T14:00")),
            "alice@example.com is not on call",
        ),
        (
            Cover(A, utc("2026-01-05T14:00"), utc("2026-01-06T14:00")),
            Cover(C, utc("2026-01-06T14:00"), utc("2026-01-07T14:00")),
            "not a member",
        ),
        (
            Cover(A, utc("2026-01-05T14:00"), utc("2026-01-06T14:00")),
            Cover(A, utc("2026-01-07T14:00"), utc("2026-01-08T14:00")),
            "themselves",
        ),
        (
            Cover(A, utc("2026-01-05T14:00"), utc("2026-01-05T14:00")),
            Cover(B, utc("2026-01-06T14:00"), utc("2026-01-07T14:00")),
            "must end after",
        ),
        (
            Cover(A, utc("2026-01-05T14:00"), utc("2026-01-06T14:00")),
            Cover(B, utc("2026-01-05T20:00"), utc("2026-01-06T20:00")),
            "overlap",
        ),
        (
            Cover(A, utc("2026-01-05T14:00"), utc("2026-01-06T15:00")),
            Cover(B, utc("2026-01-07T14:00"), utc("2026-01-08T14:00")),
            "not on call",
        ),
    ],
)
def test_invalid_swaps(first: Cover, second: Cover, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        swap(S, first, second)
