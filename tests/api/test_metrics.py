"""`GET /metrics`: figures from the database, in Prometheus text format, behind a bearer token,
read through indexes and cached for a few seconds per process, followed by the processes' own
histograms."""

from __future__ import annotations

import hmac
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from oncall.api.app import create_api
from oncall.db.engine import write_session
from oncall.db.models import ReconcileRunRow
from oncall.settings import Settings, SettingsError
from oncall.testing.incidents import open_incident

TOKEN = "m" * 40
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _app(engine: Engine, token: str | None = TOKEN) -> Any:
    return create_api(
        Settings(database_url=str(engine.url), metrics_token=token), engine, environ={}
    )


def _seed(engine: Engine) -> None:
    now = datetime.now(UTC)
    with write_session(engine) as session:
        open_incident(session, service="checkout-api", group_key="m", title="x",
                      priority="P1", integration="i", now=now)
        session.add(ReconcileRunRow(started_at=now, finished_at=now, source="repo",
                                    revision="abc", actor="reconciler", result="invalid",
                                    errors=["rules/x.yaml:1:1: error: boom"]))


def test_metrics_reflect_incidents_and_reconcile_runs(applied_engine: Engine) -> None:
    _seed(applied_engine)
    with TestClient(_app(applied_engine)) as client:
        response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    lines = response.text.splitlines()
    assert 'oncall_incidents{status="triggered"} 1.0' in lines
    assert 'oncall_incidents{status="acknowledged"} 0.0' in lines
    assert "oncall_escalation_timers_overdue 0.0" in lines
    assert 'oncall_reconcile_runs_24h{result="invalid"} 1.0' in lines
    assert "oncall_reconcile_last_run_ok 0.0" in lines
    assert "# TYPE oncall_incidents gauge" in lines


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"X-Metrics-Token": TOKEN},
    ],
    ids=["none", "wrong", "longer", "basic", "no-scheme", "other-header"],
)
def test_a_scrape_without_the_token_is_refused(
    applied_engine: Engine, headers: dict[str, str]
) -> None:
    _seed(applied_engine)
    with TestClient(_app(applied_engine)) as client:
        response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "oncall_incidents" not in response.text


def test_without_a_configured_token_metrics_do_not_exist(applied_engine: Engine) -> None:
    with TestClient(_app(applied_engine, token=None)) as client:
        assert client.get("/metrics").status_code == 404
        assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_the_token_is_compared_in_constant_time(
    applied_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return bool(real(a, b))

    monkeypatch.setattr(hmac, "compare_digest", spy)  # what oncall.api.metrics calls
    with TestClient(_app(applied_engine)) as client:
        assert client.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert compared == [(b"nope", TOKEN.encode())]


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_scrape_counts_no_whole_table_and_repeats_come_from_the_cache(
    applied_engine: Engine,
) -> None:
    _seed(applied_engine)
    with TestClient(_app(applied_engine)) as client:
        client.get("/api/v1/openapi.json")  # the app's own warm-up queries are not the scrape's
        with _statements(applied_engine) as seen:
            assert client.get("/metrics", headers=AUTH).status_code == 200
        counts = [s for s in seen if "count(" in s.lower()]
        assert len(counts) == 4, seen
        for statement in counts:  # each count is bounded by an indexed condition
            assert " WHERE " in statement, statement
        with _statements(applied_engine) as again:
            for _ in range(20):
                assert client.get("/metrics", headers=AUTH).status_code == 200
        assert again == []


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_token_setting_means_off(value: str) -> None:
    assert Settings.from_env({"ONCALL_METRICS_TOKEN": value}).metrics_token is None


def test_a_short_token_setting_is_refused() -> None:
    with pytest.raises(SettingsError, match="ONCALL_METRICS_TOKEN"):
        Settings.from_env({"ONCALL_METRICS_TOKEN": "short"})
    settings = Settings.from_env({"ONCALL_METRICS_TOKEN": TOKEN})
    assert settings.metrics_token == TOKEN
    assert TOKEN not in repr(settings)


def test_the_processes_histograms_follow_the_database_figures(
    applied_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a multiprocess directory, a scrape merges every process's samples there: a worker
    on the same machine is seen through any API process."""
    worker = ("from oncall.observability import metrics\n"
              "metrics.observe_provider_call('sms', 'twilio_sms', metrics.SENT, 0.3)\n"
              "metrics.observe_first_page('sms', 8.0)\n")
    shared = tmp_path / "prometheus"  # a directory of its own: every *.db in it is read
    shared.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(shared))
    _seed(applied_engine)
    with TestClient(_app(applied_engine)) as client:
        text = client.get("/metrics", headers=AUTH).text
    lines = text.splitlines()
    assert lines.index("# TYPE oncall_incidents gauge") < lines.index(
        "# TYPE oncall_provider_call_seconds histogram")
    assert ('oncall_provider_call_seconds_count{channel="sms",outcome="sent",'
            'provider="twilio_sms"} 2.0') in lines
    assert 'oncall_alert_to_first_page_seconds_bucket{channel="sms",le="10.0"} 2.0' in lines


def test_an_openmetrics_scraper_gets_openmetrics(applied_engine: Engine) -> None:
    with TestClient(_app(applied_engine)) as client:
        response = client.get("/metrics", headers={
            **AUTH, "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
    assert 'oncall_incidents{status="triggered"} 0.0' in response.text.splitlines()
