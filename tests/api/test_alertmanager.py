"""A real Prometheus Alertmanager sends its webhooks to the running ingest server."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import IncidentRow
from oncall.testing.debian import tool

INSTALL = Path(__file__).with_name("install_alertmanager.sh")
BINARY = "prometheus-alertmanager"

CONFIG = """\
route:
  receiver: oncall
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: {url}/api/v1/integrations/prometheus-prod/alerts
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: prom-s3cret}}
"""


@pytest.fixture(scope="session")
def alertmanager_binary() -> str:
    return tool(BINARY, INSTALL)


@pytest.fixture
def alertmanager(alertmanager_binary: str, live_server: Any, tmp_path: Path,
                 unused_port: Callable[[], int]) -> Iterator[str]:
    """Alertmanager on 127.0.0.1 whose webhook receiver is the live ingest server."""
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(url=live_server.url), encoding="utf-8")
    port = unused_port()
    process = subprocess.Popen(
        [alertmanager_binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
         "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url, process), "alertmanager to start")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _ready(url: str, process: subprocess.Popen[bytes]) -> bool:
    if process.poll() is not None:
        output = process.stderr.read() if process.stderr else b""
        raise AssertionError(f"alertmanager exited: {output!r}")
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def incidents(server: Any) -> list[tuple[str, int]]:
    with Session(server.engine) as session:
        rows = session.scalars(select(IncidentRow).order_by(IncidentRow.id))
        return [(row.status, row.alert_count) for row in rows]


def test_alertmanager_firing_then_resolved_makes_one_incident(
    alertmanager: str, live_server: Any
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    alert = {
        "labels": {"alertname": "CheckoutLatencyHigh", "env": "prod", "severity": "critical",
                   "service": "checkout-api"},
        "annotations": {"summary": "Checkout p99 latency above 2s"},
        "startsAt": started.isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }
    firing = httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=5)
    assert firing.status_code == 200, firing.text
    wait_for(lambda: incidents(live_server) == [("triggered", 1)], "the incident to trigger")

    resolved = {**alert, "endsAt": datetime.now(UTC).isoformat()}
    assert httpx.post(f"{alertmanager}/api/v2/alerts", json=[resolved], timeout=5
                      ).status_code == 200
    wait_for(lambda: incidents(live_server) == [("resolved", 1)], "the incident to resolve")
