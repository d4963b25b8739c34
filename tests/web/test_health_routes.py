"""The web app's process answers `/healthz` and `/readyz` itself: the API it mounts (one of its
API transformers) serves them, and its readiness is that of the web process's own database."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

import oncall.web.app as web_app
from oncall.api import health


def test_the_web_app_mounts_the_api_that_serves_the_health_routes() -> None:
    assert any(transformer is web_app.api for transformer in web_app.app.api_transformer)
    response = TestClient(web_app.api).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_on_the_web_app_checks_the_web_process_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[Engine] = []

    def fake_check(engine: Engine, heads: set[str]) -> health.Readiness:
        checked.append(engine)
        return health.Readiness({"database": "ok", "migrations": "ok",
                                 "config": "none applied: run `oncall apply`"})

    monkeypatch.setattr(health, "check", fake_check)
    probe = next(route.endpoint.args[0] for route in web_app.api.routes  # type: ignore[attr-defined]
                 if getattr(route, "path", None) == health.READY_PATH)
    monkeypatch.setattr(probe, "_last", None)  # whatever an earlier test left cached
    response = TestClient(web_app.api).get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["config"] == "none applied: run `oncall apply`"
    assert checked == [web_app.api.state.ctx.engine]
