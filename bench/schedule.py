"""Schedule engine speed: who is on call at day 1 vs year 10, and 28 days of shifts.

Run: .venv/bin/python bench/schedule.py
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from cputime import cpu_reference

from oncall.config.models import Schedule
from oncall.core.schedule import on_call, plan, shifts, who_at

SCHEDULE = Schedule.model_validate(
    {
        "kind": "Schedule",
        "name": "payments-primary",
        "team": "payments",
        "timezone": "America/New_York",
        "layers": [
            {
                "name": "weekly",
                "members": ["alice@example.com", "bob@example.com", "carol@example.com"],
                "rotation": {"every": "1w", "start": "2026-01-05T09:00"},
            },
            {
                "name": "business-hours-cover",
                "members": ["dave@example.com", "gina@example.com"],
                "rotation": {"every": "1d", "start": "2026-01-05T09:00"},
                "restrictions": [
                    {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}
                ],
            },
            {
                "name": "custom",
                "members": ["erin@example.com", "frank@example.com"],
                "rotation": {
                    "rrule": "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=8;BYMINUTE=0",
                    "start": "2026-01-05T08:00",
                },
                "restrictions": [{"days": ["sat", "sun"], "from": "22:00", "to": "06:00"}],
            },
        ],
        "overrides": [
            {"who": "dave@example.com", "from": "2026-12-24T00:00", "to": "2026-12-26T00:00"}
        ],
    }
)
START = datetime(2026, 1, 5, 14, 0, tzinfo=UTC)
QUERIES = 20_000


def instants(offset: timedelta, rng: random.Random) -> list[datetime]:
    """Instants spread over the day that starts `offset` after the schedule's start."""
    return [START + offset + timedelta(seconds=rng.randrange(86400)) for _ in range(QUERIES)]


def per_call_us(fn: object, ats: list[datetime]) -> float:
    """Median over batches of 100 calls, in microseconds per call."""
    call = fn  # type: ignore[assignment]
    batches = []
    for i in range(0, len(ats), 100):
        chunk = ats[i : i + 100]
        t0 = time.perf_counter_ns()
        for at in chunk:
            call(SCHEDULE, at)  # type: ignore[operator]
        batches.append((time.perf_counter_ns() - t0) / len(chunk) / 1000)
    return statistics.median(batches)


def main() -> None:
    rng = random.Random(5)
    plan(SCHEDULE)
    day1 = instants(timedelta(days=1), rng)
    year10 = instants(timedelta(days=3652), rng)
    # Warm both: the first query of a rotation builds its cached plan.
    who_at(SCHEDULE, day1[0])
    who_at(SCHEDULE, year10[0])
    rows = []
    for name, fn in (("who_at", who_at), ("on_call", on_call)):
        a, b = per_call_us(fn, day1), per_call_us(fn, year10)
        rows.append((name, a, b, b / a))
    times = []
    for _ in range(50):
        t0 = time.perf_counter_ns()
        shifts(SCHEDULE, START + timedelta(days=3652), START + timedelta(days=3652 + 28))
        times.append((time.perf_counter_ns() - t0) / 1e6)
    count = len(shifts(SCHEDULE, START + timedelta(days=3652), START + timedelta(days=3680)))
    print(f"{'query':<10} {'day 1 µs':>10} {'year 10 µs':>11} {'ratio':>6}")
    for name, a, b, ratio in rows:
        print(f"{name:<10} {a:>10.1f} {b:>11.1f} {ratio:>6.2f}")
    print(f"28-day shifts at year 10: median {statistics.median(times):.2f} ms ({count} shifts)")


if __name__ == "__main__":
    with cpu_reference():
        main()
