"""Heartbeats on a moving clock: a missed ping opens exactly one incident on the heartbeat's
service (however many sweeps race for it), the next ping resolves it; a wrong secret is refused
and changes nothing; an unknown heartbeat is 404; Opsgenie clients get Opsgenie's answers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client.utils import floatToGoString
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from oncall.api.app import create_api
from oncall.config.configset import ConfigSet
from oncall.db.models import AlertRow, EscalationTimerRow, HeartbeatRow, IncidentRow, ServiceRow
from oncall.ingest import heartbeats
from oncall.settings import Settings

from .conftest import NOW, Api

NAME = "payments-db-nightly-backup"
TOKEN = "backup-heartbeat-s3cret"
V1 = f"/api/v1/heartbeats/{NAME}/ping"
V2 = f"/v2/heartbeats/{NAME}/ping"
DAY, HOUR, MINUTE = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)


@pytest.fixture
def beat_api(api: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setenv("BACKUP_HEARTBEAT_TOKEN", TOKEN)
    return api


def _incidents(api: Api) -> list[tuple[str, str, str]]:
    """(status, service, title) of every incident, oldest first."""
    with Session(api.engine) as session:
        return [(i.status, s.name, i.title) for i, s in session.execute(
            select(IncidentRow, ServiceRow)
            .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
            .order_by(IncidentRow.id))]


def _row(api: Api) -> tuple[Any, Any] | None:
    with Session(api.engine) as session:
        row = session.get(HeartbeatRow, NAME)
        return None if row is None else (row.last_ping_at, row.down_since)


def _sweep(api: Api, config: ConfigSet, at: Any, workers: int = 1) -> list[int]:
    """`workers` sweeps racing at the instant `at`; every incident any of them opened."""
    opened: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def run() -> None:
        try:
            start.wait()
            opened.extend(heartbeats.sweep(api.engine, config, at))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return opened


def test_a_missed_ping_opens_one_incident_and_the_next_ping_resolves_it(
        beat_api: Api, example_config: ConfigSet) -> None:
    api = beat_api
    answer = api.client.post(V1, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"heartbeat": NAME, "status": "pong", "recovered": False,
                             "incidents": []}

    assert _sweep(api, example_config, NOW + DAY - MINUTE) == []  # up
    assert _sweep(api, example_config, NOW + DAY + 30 * MINUTE) == []  # late, within grace
    assert _incidents(api) == []

    opened = _sweep(api, example_config, NOW + DAY + HOUR, workers=4)
    assert len(opened) == 1
    [(status, service, title)] = _incidents(api)
    assert (status, service) == ("triggered", "payments-db")
    assert NAME in title and "1d + 1h grace" in title
    assert _sweep(api, example_config, NOW + DAY + 2 * HOUR, workers=3) == []
    assert len(_incidents(api)) == 1
    with Session(api.engine) as session:
        [alert] = session.scalars(select(AlertRow))
        assert alert.integration_name == f"heartbeat:{NAME}"
        assert session.scalar(select(EscalationTimerRow.id).where(
            EscalationTimerRow.incident_id == opened[0])) is not None

    api.clock[0] = NOW + DAY + 3 * HOUR
    answer = api.client.get(V2, headers={"Authorization": f"GenieKey {TOKEN}"})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["result"] == "PONG - Heartbeat received"
    assert isinstance(body["took"], float) and body["requestId"]
    assert [i[0] for i in _incidents(api)] == ["resolved"]
    assert _row(api) == (NOW + DAY + 3 * HOUR, None)

    assert _sweep(api, example_config, NOW + 2 * DAY + 3 * HOUR) == []  # up again
    assert len(_sweep(api, example_config, NOW + 2 * DAY + 4 * HOUR, workers=2)) == 1
    assert [i[0] for i in _incidents(api)] == ["resolved", "triggered"]  # a new episode


def test_a_heartbeat_never_pinged_pages_no_one(beat_api: Api,
                                                example_config: ConfigSet) -> None:
    assert _sweep(beat_api, example_config, NOW + 30 * DAY) == []
    assert _incidents(beat_api) == []


@pytest.mark.parametrize("path", [V1, V2])
@pytest.mark.parametrize("authorization", [
    None, f"Bearer {TOKEN}x", "GenieKey wrong", f"Basic {TOKEN}", f"Token {TOKEN}", "Bearer ",
])
def test_a_wrong_secret_is_refused_and_changes_nothing(
        beat_api: Api, example_config: ConfigSet, path: str, authorization: str | None) -> None:
    api = beat_api
    assert api.client.post(V1, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 202
    _sweep(api, example_config, NOW + 2 * DAY)
    before = (_row(api), _incidents(api))
    api.clock[0] = NOW + 2 * DAY + HOUR
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = api.client.post(path, headers=headers)
    assert answer.status_code == 401
    if path == V2:
        assert set(answer.json()) == {"message", "took", "requestId"}
    else:
        assert answer.headers["content-type"] == "application/problem+json"
    assert (_row(api), _incidents(api)) == before
    assert before[1][0][0] == "triggered"


def test_a_missing_secret_refuses_every_ping(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKUP_HEARTBEAT_TOKEN", raising=False)
    assert api.client.post(V1, headers={"Authorization": "Bearer "}).status_code == 401
    assert _row(api) is None


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_heartbeat_is_404(beat_api: Api, method: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    ours = beat_api.client.request(method, "/api/v1/heartbeats/no-such-job/ping", headers=auth)
    assert ours.status_code == 404
    assert ours.headers["content-type"] == "application/problem+json"
    theirs = beat_api.client.request(method, "/v2/heartbeats/no-such-job/ping", headers=auth)
    assert theirs.status_code == 404
    assert set(theirs.json()) == {"message", "took", "requestId"}


def test_metrics_show_each_heartbeat_state(beat_api: Api, example_config: ConfigSet) -> None:
    token = "t" * 40
    assert beat_api.client.post(V1, headers={"Authorization": f"Bearer {TOKEN}"}
                                ).status_code == 202
    app = create_api(Settings(database_url=str(beat_api.engine.url), metrics_token=token),
                     beat_api.engine, clock=lambda: NOW + DAY + 2 * HOUR, config_recheck=0.0)
    with TestClient(app) as client:
        lines = client.get("/metrics", headers={"Authorization": f"Bearer {token}"}
                           ).text.splitlines()
    assert f'oncall_heartbeat_up{{heartbeat="{NAME}",service="payments-db"}} 0.0' in lines
    assert f'oncall_heartbeat_state{{heartbeat="{NAME}",state="down"}} 1.0' in lines
    assert f'oncall_heartbeat_state{{heartbeat="{NAME}",state="up"}} 0.0' in lines
    assert (f'oncall_heartbeat_last_ping_timestamp_seconds{{heartbeat="{NAME}"}} '
            f'{floatToGoString(NOW.timestamp())}') in lines
    assert "oncall_oldest_due_page_seconds 0.0" in lines
