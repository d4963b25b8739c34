"""GCRA: a burst is allowed at once, then requests at the rate; a refusal says when to retry."""

from __future__ import annotations

import pytest

from oncall.core.ratelimit import Decision, Limit, take


def run(limit: Limit, times: list[float]) -> list[bool]:
    tat: float | None = None
    allowed = []
    for now in times:
        decision = take(limit, tat, now)
        tat = decision.tat
        allowed.append(decision.allowed)
    return allowed


@pytest.mark.parametrize(("limit", "times", "expected"), [
    # a burst of 3 at once, the 4th refused
    (Limit(1, 3), [0, 0, 0, 0], [True, True, True, False]),
    # then one more each second
    (Limit(1, 3), [0, 0, 0, 0, 1, 1, 2], [True, True, True, False, True, False, True]),
    # a quiet spell refills the bucket, never beyond its burst
    (Limit(1, 2), [0, 0, 100, 100, 100], [True, True, True, True, False]),
    # 100/s without a burst: every 10 ms passes, faster does not
    (Limit(100, 1), [0, 0.01, 0.015, 0.02], [True, True, False, True]),
])
def test_take(limit: Limit, times: list[float], expected: list[bool]) -> None:
    assert run(limit, times) == expected


def test_a_refusal_says_when_to_retry_and_changes_nothing() -> None:
    limit = Limit(2, 1)
    first = take(limit, None, 10.0)
    assert first == Decision(True, 10.5, 0.0)
    refused = take(limit, first.tat, 10.2)
    assert refused == Decision(False, 10.5, pytest.approx(0.3))
    assert take(limit, refused.tat, 10.5).allowed


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_a_limit_must_let_something_through(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate above zero"):
        Limit(rate, burst)
