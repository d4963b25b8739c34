"""Rate limits as the generic cell rate algorithm (GCRA): a token bucket kept as one number.

A bucket of `burst` requests refilled at `rate` per second is equivalent to remembering one
instant, the *theoretical arrival time* (TAT): each request moves it on by `1 / rate`, and a
request is refused when that would put it more than `burst / rate` ahead of now. One number per
key is what makes the limit cheap to share between processes: a store only has to move it
atomically (a Redis script, one conditional UPDATE). Pure: time is passed in, in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """`rate` requests per second on average, `burst` at once after a quiet spell."""

    rate: float
    burst: int

    def __post_init__(self) -> None:
        if not self.rate > 0 or self.burst < 1:
            raise ValueError("a rate limit needs a rate above zero and a burst of at least 1")

    @property
    def interval(self) -> float:
        """Seconds one request costs."""
        return 1.0 / self.rate

    @property
    def window(self) -> float:
        """How far ahead of now the TAT may run: the whole burst's cost."""
        return self.burst * self.interval


@dataclass(frozen=True)
class Decision:
    allowed: bool
    tat: float
    """The TAT to store (unchanged when refused)."""
    retry_after: float
    """Seconds until one more request would be allowed (0 when allowed)."""


def take(limit: Limit, tat: float | None, now: float, cost: int = 1) -> Decision:
    """`cost` requests at `now` against a bucket whose stored TAT is `tat` (None: never
    used), all or none."""
    start = now if tat is None or tat < now else tat
    new_tat = start + cost * limit.interval
    ahead = new_tat - now
    if ahead <= limit.window + 1e-9:
        return Decision(True, new_tat, 0.0)
    return Decision(False, start, ahead - limit.window)


LEASE_SECONDS = 0.05
"""How long a process may spend tokens it took ahead from the shared bucket."""
LEASE_MAX = 64


def lease_size(limit: Limit) -> int:
    """Tokens a process takes from the shared bucket at once: what it would spend in
    `LEASE_SECONDS` at the full rate, at most a tenth of the burst (so a lease never empties a
    bucket that single requests would still pass) and `LEASE_MAX`; 1 for a slow bucket."""
    return max(1, min(int(limit.rate * LEASE_SECONDS), limit.burst // 10, LEASE_MAX))


@dataclass
class Lease:
    """Tokens of one bucket taken ahead by this process, spendable until `until`. A token
    left unspent when the lease ends is lost: the limit errs strict, never lenient."""

    left: int
    until: float

    def spend(self, now: float) -> bool:
        if self.left <= 0 or now >= self.until:
            return False
        self.left -= 1
        return True
