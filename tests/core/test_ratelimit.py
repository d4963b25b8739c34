"""GCRA: a burst is allowed at once, then requests at the rate; a refusal says when to retry."""

from __future__ import annotations

import pytest

from oncall.core.ratelimit import Decision, Lease, Limit, lease_size, take


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


def test_a_cost_takes_that_many_requests_or_none() -> None:
    limit = Limit(10, 20)
    five = take(limit, None, 100.0, cost=5)
    assert five.allowed and five.tat == pytest.approx(100.5)
    assert not take(limit, five.tat, 100.0, cost=16).allowed  # 5 + 16 > 20
    assert take(limit, five.tat, 100.0, cost=15).allowed


@pytest.mark.parametrize(("rate", "burst", "size"), [
    (100, 1000, 5),          # the default integration limit: 50 ms of it
    (10_000, 100_000, 64),   # at most LEASE_MAX
    (1000, 100, 10),         # at most a tenth of the burst
    (1, 5, 1),               # a slow bucket is taken from one request at a time
    (100, 5, 1),
])
def test_lease_size(rate: float, burst: int, size: int) -> None:
    assert lease_size(Limit(rate, burst)) == size


def test_a_lease_is_spent_until_empty_or_over() -> None:
    lease = Lease(2, until=10.0)
    assert [lease.spend(9.0), lease.spend(9.5), lease.spend(9.6)] == [True, True, False]
    assert not Lease(5, until=10.0).spend(10.0)
