"""`GET /api/v1/delivery-health`: the page's figures for every API key, none without one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.observability.test_delivery import seed

from .conftest import NOW, OBSERVER, Api


def test_the_figures_of_each_window(api: Api) -> None:
    seed(api.engine, [
        ("voice", "twilio_voice", "sent", 1, timedelta(minutes=3)),
        ("voice", "twilio_voice", "failed", 2, timedelta(minutes=4)),
        ("email", "smtp", "sent", 1, timedelta(hours=6)),
    ], {"slack": "open"}, now=NOW)
    key = api.key(OBSERVER)
    answer = api.client.get("/api/v1/delivery-health", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["truncated"] is False
    hour = body["windows"]["1h"]
    assert hour["until"] == NOW.isoformat()
    assert (hour["attempts"], hour["retries"], hour["open_circuits"]) == (2, 1, ["slack"])
    voice, slack = hour["rows"]
    assert voice == {"channel": "voice", "provider": "twilio_voice", "attempts": 2, "sent": 1,
                     "failed": 1, "timeouts": 0, "success_rate": 0.5,
                     "p50_seconds": pytest.approx(0.3), "p95_seconds": pytest.approx(0.3),
                     "retries": 1, "circuit": "closed"}
    assert (slack["channel"], slack["provider"], slack["circuit"]) == (None, "slack", "open")
    assert body["windows"]["24h"]["attempts"] == 3


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}], ids=["none", "bad"])
def test_without_a_valid_key_nothing_is_shown(api: Api, headers: dict[str, str]) -> None:
    answer = api.client.get("/api/v1/delivery-health", headers=headers)
    assert answer.status_code == 401
    assert "windows" not in answer.text
