"""Delivery health: how each channel's providers have been doing over a recent window.

From the recorded provider calls (one `delivery_attempts` row per call, with its notification's
channel) and the circuit breakers: per channel and provider, the calls made, the share that got
the notice out, the median and 95th-percentile call duration, the calls that were not their
notification's first (retries after a failure and failovers from another provider), and whether
the provider's circuit is open. Pure: the reader passes the rows and the time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall.core.reports import percentile

WINDOWS: Mapping[str, timedelta] = {"1h": timedelta(hours=1), "24h": timedelta(hours=24)}
"""The windows the page and the API offer, by name."""
LONGEST = max(WINDOWS.values())

SENT = "sent"
CLOSED = "closed"


@dataclass(frozen=True)
class Attempt:
    """One recorded provider call."""

    channel: str
    provider: str
    outcome: str
    """sent, failed, timeout (as `delivery_attempts.outcome`)."""
    attempt: int
    """Its number among its notification's calls, from 1."""
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class Health:
    """One channel's provider over the window."""

    channel: str
    """Empty for a provider with an open circuit and no call in the window."""
    provider: str
    attempts: int
    sent: int
    timeouts: int
    retries: int
    p50_seconds: float | None
    p95_seconds: float | None
    circuit: str
    """closed, open or half_open (closed when the provider has no breaker row yet)."""

    @property
    def failed(self) -> int:
        return self.attempts - self.sent

    @property
    def success_rate(self) -> float | None:
        """Share of the calls that got the notice out (0..1); None without calls."""
        return self.sent / self.attempts if self.attempts else None

    @property
    def circuit_open(self) -> bool:
        return self.circuit != CLOSED


@dataclass(frozen=True)
class Window:
    name: str
    since: datetime
    until: datetime
    rows: tuple[Health, ...]

    @property
    def attempts(self) -> int:
        return sum(r.attempts for r in self.rows)

    @property
    def success_rate(self) -> float | None:
        return sum(r.sent for r in self.rows) / self.attempts if self.attempts else None

    @property
    def retries(self) -> int:
        return sum(r.retries for r in self.rows)

    @property
    def open_circuits(self) -> tuple[str, ...]:
        return tuple(sorted({r.provider for r in self.rows if r.circuit_open}))


def _duration(a: Attempt) -> float | None:
    if a.finished_at is None:
        return None
    return max((a.finished_at - a.started_at).total_seconds(), 0.0)


def window(name: str, attempts: Iterable[Attempt], circuits: Mapping[str, str],
           now: datetime) -> Window:
    """The health of every (channel, provider) called in the named window up to `now`, plus
    each provider whose circuit is open without a call in it; busiest first."""
    since = now - WINDOWS[name]
    grouped: dict[tuple[str, str], list[Attempt]] = {}
    for a in attempts:
        if since <= a.started_at <= now:
            grouped.setdefault((a.channel, a.provider), []).append(a)
    rows = [_health(channel, provider, calls, circuits.get(provider, CLOSED))
            for (channel, provider), calls in grouped.items()]
    seen = {provider for _, provider in grouped}
    rows += [Health("", provider, 0, 0, 0, 0, None, None, circuit)
             for provider, circuit in sorted(circuits.items())
             if circuit != CLOSED and provider not in seen]
    rows.sort(key=lambda r: (-r.attempts, r.channel, r.provider))
    return Window(name, since, now, tuple(rows))


def _health(channel: str, provider: str, calls: Sequence[Attempt], circuit: str) -> Health:
    durations = [d for d in map(_duration, calls) if d is not None]
    return Health(
        channel=channel,
        provider=provider,
        attempts=len(calls),
        sent=sum(1 for c in calls if c.outcome == SENT),
        timeouts=sum(1 for c in calls if c.outcome == "timeout"),
        retries=sum(1 for c in calls if c.attempt > 1),
        p50_seconds=percentile(durations, 0.5),
        p95_seconds=percentile(durations, 0.95),
        circuit=circuit,
    )


def windows(attempts: Sequence[Attempt], circuits: Mapping[str, str], now: datetime
            ) -> dict[str, Window]:
    """Every window of `WINDOWS`, from one read of the longest."""
    return {name: window(name, attempts, circuits, now) for name in WINDOWS}


def rate_text(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def seconds_text(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"
