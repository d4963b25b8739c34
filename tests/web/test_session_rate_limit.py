"""A browser that floods the web app with events is throttled: past its session's burst the
guard drops the events (the handler does not run), another session is not affected, and the
session stays signed in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine

from oncall.api import throttle
from oncall.config.models import RateLimit, RateLimits
from oncall.web.state.services import ServicesState

from .conftest import OBSERVER, RESPONDER, call

TIGHT = RateLimits(sessions=RateLimit(per_second=1, burst=3))


def test_a_flood_of_events_is_dropped_past_the_burst(
        web: Engine, state: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "limits_of", lambda config: TIGHT)
    ran: list[str] = []
    monkeypatch.setattr(ServicesState, "_graph_source", lambda self: ran.append("refresh"))
    flooding: ServicesState = state(ServicesState, OBSERVER, "/services")
    answers = [call(flooding, "load") for _ in range(5)]
    assert ran == ["refresh"] * 3  # the clock stands still: no refill
    assert answers[:3] == [ServicesState.show_cards] * 3
    assert all(a is not None and "too many actions" in str(a) for a in answers[3:])
    assert flooding.user_email  # still signed in: nothing was forgotten
    calm: ServicesState = state(ServicesState, RESPONDER, "/services")
    call(calm, "load")
    assert ran == ["refresh"] * 4
