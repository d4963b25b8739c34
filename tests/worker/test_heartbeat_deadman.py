"""The worker's sweep opens the incidents of missed heartbeats, and pings the platform's own
dead man's switch only after a sweep pass that got through: a worker whose sweeps fail stops
pinging, so the outside notices."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.engine import write_connection
from oncall.db.models import IncidentRow, ServiceRow
from oncall.settings import DEFAULT_DEADMAN_INTERVAL, Settings, SettingsError
from oncall.store import heartbeats
from oncall.testing.peers.webhook import WebhookPeer
from oncall.worker import handlers
from oncall.worker.deadman import DeadmanSwitch

from .conftest import Harness

NAME = "payments-db-nightly-backup"


class Tasks:
    def notification_due(self, *_args: Any) -> None: ...
    def timer_due(self, *_args: Any) -> None: ...


@pytest.fixture
def worker(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """`handlers.sweep` on the harness's runtime, its once-a-while checks due at once."""
    monkeypatch.setattr(handlers, "_runtime", harness.runtime)
    monkeypatch.setattr(handlers, "_tasks", lambda: Tasks())
    monkeypatch.setattr(handlers._check_heartbeats, "at", None)
    monkeypatch.setattr(harness.runtime.ctx, "wake", lambda: None)
    yield harness


def _incidents(harness: Harness) -> list[tuple[str, str]]:
    with Session(harness.engine) as session:
        return [(i.status, s) for i, s in session.execute(
            select(IncidentRow, ServiceRow.name)
            .join(ServiceRow, ServiceRow.id == IncidentRow.service_id))]


def test_the_worker_sweep_opens_a_missed_heartbeat_once(worker: Harness,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with write_connection(worker.engine) as conn:
        heartbeats.record_ping(conn, NAME, worker.clock() - timedelta(days=1, minutes=59))
    handlers.sweep()
    assert _incidents(worker) == []  # late, within its hour of grace
    worker.clock.advance(timedelta(minutes=2))
    handlers.sweep()  # the check ran a moment ago: it waits for its interval
    assert _incidents(worker) == []
    monkeypatch.setattr(handlers._check_heartbeats, "at", None)
    handlers.sweep()
    assert _incidents(worker) == [("triggered", "payments-db")]
    monkeypatch.setattr(handlers._check_heartbeats, "at", None)
    handlers.sweep()
    assert _incidents(worker) == [("triggered", "payments-db")]


def _wait_for(peer: WebhookPeer, count: int) -> None:
    deadline = time.monotonic() + 5
    while len(peer.requests) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_the_switch_is_pinged_after_good_sweeps_only(worker: Harness,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    rt = worker.runtime
    with WebhookPeer() as peer:
        monkeypatch.setattr(rt, "settings", replace(rt.settings, deadman_url=f"{peer.url}/ping",
                                                    deadman_interval=0.2))
        rt.__dict__.pop("deadman", None)
        handlers.sweep()
        _wait_for(peer, 1)
        assert [(r.method, r.path) for r in peer.requests] == [("GET", "/ping")]
        handlers.sweep()  # within the interval: no second ping
        time.sleep(0.3)
        assert len(peer.requests) == 1

        def stuck(*_args: object) -> list[int]:
            raise RuntimeError("database unreachable")

        monkeypatch.setattr(rt, "run_due", stuck)
        for _ in range(3):
            with pytest.raises(RuntimeError):
                handlers.sweep()
            time.sleep(0.25)
        assert len(peer.requests) == 1  # failing sweeps tell the outside nothing

        monkeypatch.undo()
        monkeypatch.setattr(handlers, "_runtime", rt)
        monkeypatch.setattr(handlers, "_tasks", lambda: Tasks())
        monkeypatch.setattr(rt, "settings", replace(rt.settings, deadman_url=f"{peer.url}/ping",
                                                    deadman_interval=0.2))
        handlers.sweep()
        _wait_for(peer, 2)
        assert len(peer.requests) == 2
    rt.__dict__.pop("deadman", None)


def test_a_failing_receiver_never_breaks_a_sweep_and_is_tried_again() -> None:
    now = [0.0]
    calls: list[str] = []

    def send(url: str) -> int:
        calls.append(url)
        if len(calls) == 1:
            raise OSError("connection refused")
        return 503

    switch = DeadmanSwitch("https://hc.example/ping/abc", 60.0, send=send, clock=lambda: now[0])
    assert switch.swept(background=False)
    assert not switch.swept(background=False)
    now[0] = 61.0
    assert switch.swept(background=False)
    now[0] = 62.0
    assert not switch.swept(background=False)
    assert calls == ["https://hc.example/ping/abc"] * 2


@pytest.mark.parametrize(("env", "url", "interval"), [
    ({}, None, DEFAULT_DEADMAN_INTERVAL),
    ({"ONCALL_DEADMAN_URL": "https://hc-ping.com/uuid"}, "https://hc-ping.com/uuid", 60.0),
    ({"ONCALL_DEADMAN_URL": " http://x:9091/p ", "ONCALL_DEADMAN_INTERVAL": "15"},
     "http://x:9091/p", 15.0),
])
def test_deadman_settings(env: dict[str, str], url: str | None, interval: float) -> None:
    settings = Settings.from_env(env)
    assert (settings.deadman_url, settings.deadman_interval) == (url, interval)


@pytest.mark.parametrize("env", [
    {"ONCALL_DEADMAN_URL": "hc-ping.com/uuid"},
    {"ONCALL_DEADMAN_URL": "ftp://x/y"},
    {"ONCALL_DEADMAN_INTERVAL": "0.5"},
    {"ONCALL_DEADMAN_INTERVAL": "a minute"},
    {"ONCALL_DEADMAN_INTERVAL": "nan"},
])
def test_bad_deadman_settings_are_named(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)
