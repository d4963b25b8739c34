"""Retry backoff and the circuit breaker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall.core.delivery import Backoff, Breaker, BreakerPolicy, Circuit

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("attempts", "draw", "seconds"),
    [
        (1, 0.999, 0.999),
        (2, 0.5, 1.0),
        (3, 0.5, 2.0),
        (4, 1.0, 8.0),
        (10, 1.0, 30.0),  # capped
        (3, 0.0, 0.2),  # floor: never hammer the provider with zero delay
    ],
)
def test_backoff(attempts: int, draw: float, seconds: float) -> None:
    assert Backoff().delay(attempts, draw).total_seconds() == pytest.approx(seconds)


def test_backoff_gives_up() -> None:
    b = Backoff(max_attempts=3)
    assert [b.gives_up(n) for n in (1, 2, 3, 4)] == [False, False, True, True]


def test_breaker_opens_after_threshold_and_lets_one_trial_through() -> None:
    policy = BreakerPolicy(threshold=3, cool_down=timedelta(seconds=30))
    b = Breaker()
    for _ in range(2):
        b = policy.failed(b, T0)
    assert b.circuit is Circuit.CLOSED and policy.allows(b, T0)
    b = policy.failed(b, T0)
    assert b.circuit is Circuit.OPEN
    assert not policy.allows(b, T0 + timedelta(seconds=29))
    assert policy.allows(b, T0 + timedelta(seconds=30))
    b = policy.trial(b, T0 + timedelta(seconds=30))
    assert b.circuit is Circuit.HALF_OPEN
    assert not policy.allows(b, T0 + timedelta(seconds=31))  # one trial at a time


def test_failed_trial_reopens_successful_trial_closes() -> None:
    policy = BreakerPolicy(threshold=1)
    half = policy.trial(policy.failed(Breaker(), T0), T0 + timedelta(minutes=1))
    reopened = policy.failed(half, T0 + timedelta(minutes=1))
    assert reopened.circuit is Circuit.OPEN and reopened.opened_at == T0 + timedelta(minutes=1)
    assert policy.succeeded(half) == Breaker()


def test_success_resets_failure_count() -> None:
    policy = BreakerPolicy(threshold=2)
    b = policy.succeeded(policy.failed(Breaker(), T0))
    assert policy.failed(b, T0).circuit is Circuit.CLOSED
