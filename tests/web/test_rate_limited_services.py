"""The services page shows which of a service's integrations had deliveries refused for their
rate limit, counted by every process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from oncall.core.ratelimit import Limit
from oncall.store.ratelimit import DatabaseLimiter
from oncall.web.state.services import ServicesState

from .conftest import OBSERVER, call


def _limited(state: Callable[..., Any]) -> dict[str, list[dict[str, str]]]:
    s: ServicesState = state(ServicesState, OBSERVER, "/services")
    call(s, "load")
    call(s, "show_cards")
    return {c["name"]: list(c["limited"]) for c in s.cards if c["limited"]}


def test_a_service_card_shows_its_rate_limited_integrations(web: Engine,
                                                           state: Callable[..., Any]) -> None:
    assert _limited(state) == {}
    other_process = DatabaseLimiter(web)
    for _ in range(4):
        other_process.take("integration:synthetic-checks", Limit(1, 1), 100.0)
    other_process.take("integration:prometheus-prod", Limit(1, 1), 100.0)  # allowed: none
    assert _limited(state) == {"checkout-api": [
        {"integration": "synthetic-checks", "refused": "3 deliveries refused (rate limit)"}]}
