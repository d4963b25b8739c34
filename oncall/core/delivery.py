"""Delivery policy for notifications: retry backoff and a per-provider circuit breaker.

Pure: the caller passes the attempt count, the clock and the random draw. The breaker's state
is a value the dispatcher stores in the database, so every worker process sees the same circuit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (AWS architecture blog's recommendation): the delay
    before attempt n+1 is uniform in [0, min(cap, base * 2**n)], never below `floor`."""

    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(seconds=30)
    floor: timedelta = timedelta(milliseconds=200)
    max_attempts: int = 4

    def delay(self, attempts: int, draw: float) -> timedelta:
        """Delay after `attempts` failed attempts; `draw` is uniform in [0, 1)."""
        exponential = self.base.total_seconds() * 2 ** max(attempts - 1, 0)
        ceiling = min(self.cap.total_seconds(), exponential)
        return max(self.floor, timedelta(seconds=ceiling * draw))

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


class Circuit(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class Breaker:
    """A circuit breaker's stored state for one provider."""

    circuit: Circuit = Circuit.CLOSED
    failures: int = 0
    opened_at: datetime | None = None


@dataclass(frozen=True)
class BreakerPolicy:
    threshold: int = 5
    """Consecutive failures that open the circuit."""
    cool_down: timedelta = timedelta(seconds=30)
    """How long an open circuit refuses calls before one trial call is let through."""

    def allows(self, breaker: Breaker, now: datetime) -> bool:
        """May a call go to this provider now? An open circuit lets a trial through after the
        cool-down (the caller records the outcome, which closes or re-opens it)."""
        if breaker.circuit is Circuit.CLOSED:
            return True
        if breaker.circuit is Circuit.HALF_OPEN:
            return False  # one trial at a time; the dispatcher claimed it already
        assert breaker.opened_at is not None
        return now >= breaker.opened_at + self.cool_down

    def trial(self, breaker: Breaker, now: datetime) -> Breaker:
        """Mark an open circuit as half-open while its trial call is in flight."""
        if breaker.circuit is Circuit.OPEN and self.allows(breaker, now):
            return replace(breaker, circuit=Circuit.HALF_OPEN)
        return breaker

    def succeeded(self, breaker: Breaker) -> Breaker:
        return Breaker()

    def failed(self, breaker: Breaker, now: datetime) -> Breaker:
        failures = breaker.failures + 1
        if breaker.circuit is Circuit.HALF_OPEN or failures >= self.threshold:
            return Breaker(Circuit.OPEN, failures, now)
        return replace(breaker, failures=failures)
