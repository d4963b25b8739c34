"""The delivery health page's handlers: signed-in only, the figures of the recorded calls per
window."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from oncall.web.state.delivery import DeliveryState
from tests.observability.test_delivery import seed

from .conftest import NOW, OBSERVER, call


def test_signed_out_sees_nothing(state: Callable[..., Any], web: Engine) -> None:
    s: DeliveryState = state(DeliveryState, None, "/delivery")
    assert "/login" in str(call(s, "load"))
    assert s.rows == [] and s.figures == {}


def test_the_figures_of_each_window(state: Callable[..., Any], web: Engine) -> None:
    seed(web, [
        ("sms", "twilio_sms", "sent", 1, timedelta(minutes=10)),
        ("sms", "twilio_sms", "timeout", 1, timedelta(minutes=12)),
        ("sms", "sns", "sent", 2, timedelta(minutes=12)),
        ("email", "smtp", "sent", 1, timedelta(hours=3)),
    ], {"twilio_sms": "half_open"}, now=NOW)
    s: DeliveryState = state(DeliveryState, OBSERVER, "/delivery")
    call(s, "load")
    assert s.figures == {"attempts": "3", "success": "66.7%", "retries": "1",
                         "open_circuits": "twilio_sms"}
    assert [(r["channel"], r["provider"], r["attempts"], r["success"], r["p50"], r["circuit"])
            for r in s.rows] == [("sms", "twilio_sms", "2", "50.0%", "300 ms", "half-open"),
                                 ("sms", "sns", "1", "100.0%", "300 ms", "closed")]
    call(s, "set_window", "Last 24 hours")
    assert s.figures["attempts"] == "4"
    assert ("email", "smtp") in [(r["channel"], r["provider"]) for r in s.rows]
    call(s, "set_window", "anything else")
    assert s.window == "Last hour" and s.figures["attempts"] == "3"
