"""Delivery health figures per channel and provider, from recorded calls and circuits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall.core.delivery_health import (
    Attempt,
    Health,
    rate_text,
    seconds_text,
    window,
    windows,
)

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def call(channel: str, provider: str, outcome: str = "sent", attempt: int = 1,
         ago: timedelta = timedelta(minutes=5), seconds: float | None = 0.2) -> Attempt:
    started = NOW - ago
    finished = started + timedelta(seconds=seconds) if seconds is not None else None
    return Attempt(channel, provider, outcome, attempt, started, finished)


def test_rates_latencies_and_retries_per_channel_and_provider() -> None:
    calls = [
        *(call("sms", "twilio_sms", seconds=s) for s in (0.1, 0.2, 0.3, 0.4)),
        call("sms", "twilio_sms", "failed", seconds=2.0),
        call("sms", "twilio_sms", "timeout", seconds=10.0),
        call("sms", "sns", attempt=2, seconds=0.5),  # the failover of one of the failures
        call("email", "smtp", seconds=None),  # no finish recorded: no duration
    ]
    result = window("1h", calls, {"twilio_sms": "open"}, NOW)
    rows = {(r.channel, r.provider): r for r in result.rows}
    twilio = rows[("sms", "twilio_sms")]
    assert (twilio.attempts, twilio.sent, twilio.failed, twilio.timeouts, twilio.retries) == (
        6, 4, 2, 1, 0)
    assert twilio.success_rate == pytest.approx(4 / 6)
    assert twilio.p50_seconds == pytest.approx(0.35)
    assert twilio.p95_seconds == pytest.approx(8.0)
    assert twilio.circuit_open
    assert rows[("sms", "sns")].retries == 1 and not rows[("sms", "sns")].circuit_open
    assert rows[("email", "smtp")].p50_seconds is None
    assert [r.provider for r in result.rows] == ["twilio_sms", "smtp", "sns"]  # busiest first
    assert result.attempts == 8 and result.retries == 1
    assert result.success_rate == pytest.approx(6 / 8)
    assert result.open_circuits == ("twilio_sms",)


@pytest.mark.parametrize(
    ("ago", "in_1h", "in_24h"),
    [
        (timedelta(minutes=59), True, True),
        (timedelta(hours=1), True, True),
        (timedelta(hours=2), False, True),
        (timedelta(hours=24, seconds=1), False, False),
        (timedelta(minutes=-1), False, False),  # recorded after `now`: another clock
    ],
    ids=["recent", "edge", "today", "older", "future"],
)
def test_each_window_counts_its_own_calls(ago: timedelta, in_1h: bool, in_24h: bool) -> None:
    found = windows([call("voice", "twilio_voice", ago=ago)], {}, NOW)
    assert found["1h"].attempts == int(in_1h)
    assert found["24h"].attempts == int(in_24h)


def test_an_open_circuit_without_calls_is_still_shown() -> None:
    result = window("1h", [], {"slack": "half_open", "smtp": "closed"}, NOW)
    assert result.rows == (Health("", "slack", 0, 0, 0, 0, None, None, "half_open"),)
    assert result.rows[0].success_rate is None
    assert result.success_rate is None and result.open_circuits == ("slack",)


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "—"), (0.0, "0 ms"), (0.2345, "234 ms"), (1.5, "1.50 s"), (12.0, "12.00 s")],
)
def test_seconds_text(value: float | None, text: str) -> None:
    assert seconds_text(value) == text


@pytest.mark.parametrize(("rate", "text"), [(None, "—"), (1.0, "100.0%"), (2 / 3, "66.7%")])
def test_rate_text(rate: float | None, text: str) -> None:
    assert rate_text(rate) == text
