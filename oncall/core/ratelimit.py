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


def take(limit: Limit, tat: float | None, now: float) -> Decision:
    """One request at `now` against a bucket whose stored TAT is `tat` (None: never used)."""
    start = now if tat is None or tat < now else tat
    new_tat = start + limit.interval
    ahead = new_tat - now
    if ahead <= limit.window + 1e-9:
        return Decision(True, new_tat, 0.0)
    return Decision(False, start, ahead - limit.window)
