"""The services page shows each service's heartbeats: never pinged, up, late or down."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from oncall.db.engine import write_connection
from oncall.store import heartbeats
from oncall.web.state.services import ServicesState

from .conftest import NOW, OBSERVER, call

NAME = "payments-db-nightly-backup"


def _badges(state: Callable[..., Any]) -> list[dict[str, str]]:
    s: ServicesState = state(ServicesState, OBSERVER, "/services")
    call(s, "load")
    call(s, "show_cards")
    card = next(c for c in s.cards if c["name"] == "payments-db")
    assert all(not c["heartbeats"] for c in s.cards if c["name"] != "payments-db")
    return list(card["heartbeats"])


@pytest.mark.parametrize(("pinged_ago", "state_text", "last"), [
    (None, "never pinged", ""),
    (timedelta(hours=2), "up", "last ping 2h 0m ago"),
    (timedelta(days=1, minutes=30), "late", "last ping 1d 0h ago"),
    (timedelta(days=1, hours=2), "down", "last ping 1d 2h ago"),
])
def test_the_service_card_shows_its_heartbeat_state(
        web: Engine, state: Callable[..., Any], pinged_ago: timedelta | None, state_text: str,
        last: str) -> None:
    if pinged_ago is not None:
        with write_connection(web) as conn:
            heartbeats.record_ping(conn, NAME, NOW - pinged_ago)
    assert _badges(state) == [{"name": NAME, "state": state_text, "last": last,
                               "every": "every 1d"}]
