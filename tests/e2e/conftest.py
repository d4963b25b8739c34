"""Real processes: `oncall api` and `oncall worker` on PostgreSQL + Redis, providers as peers.

These tests run what production runs (separate processes, Huey on Redis) and kill them the way
production does (SIGKILL). Redis is required: when it is unreachable they are skipped locally
and fail under CI=true.

`stack_factory` builds on the `backend` fixture: "postgresql" (PostgreSQL + Redis, the default)
or "sqlite" (the embedded mode: a SQLite file and the SQLite Huey queue beside it, no Redis). A
module runs on both by overriding `backend` with a parametrized fixture (`BACKENDS`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx
import pytest
import redis

ONCALL = str(Path(sys.executable).with_name("oncall"))
REDIS_DB = 13

CONFIG = {
    "rules/team.yaml": """\
kind: Team
name: ops
members:
  - {email: alice@example.com, name: Alice, role: responder}
  - {email: bob@example.com, name: Bob, role: responder}
---
kind: EscalationPolicy
name: ops
repeat: 0                  # alice, then bob, then no one: every test can count exactly
steps:
  - {targets: ["schedule:ops-primary"], timeout: 3s}
  - {targets: ["user:bob@example.com"], timeout: 3s}
---
kind: Service
name: api
team: ops
escalation_policy: ops
slack_channel: "#ops"
---
kind: Integration
name: hooks
type: generic
service: api
secret: ${env:HOOK_SECRET}
""",
    "schedules/ops.yaml": """\
kind: Schedule
name: ops-primary
team: ops
timezone: UTC
layers:
  - name: alice-always
    members: [alice@example.com]
    rotation: {every: 1w, start: 2026-01-05T00:00}
""",
    "workflows/.keep": "",
}
SWEEP_INTERVAL = 1.0
"""The workers' --sweep-interval: the most a lost queue entry can delay a due row."""
SETTLE = 3 * SWEEP_INTERVAL + 1.0
"""After the last expected send: long enough for any duplicate to have been sent (three sweeps
and Huey's one-second scheduler), so counting then proves exactly once."""
WORKER_READY = b"Huey consumer started"
HOOK_SECRET = "e2e-hook-s3cret"
SIGNING_SECRET = "e2e-slack-signing"


@pytest.fixture
def redis_url() -> str:
    url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.flushdb()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI") == "true":
            pytest.fail("Redis is not reachable on 127.0.0.1:6379 and CI=true")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], object], timeout: float, interval: float = 0.05) -> float:
    """Poll until `condition()` is truthy; returns the seconds it took, fails after `timeout`."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class Stack:
    env: dict[str, str]
    api_port: int
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    api: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ONCALL, *args], env=self.env, capture_output=True, text=True,
                              timeout=120, check=True)

    def start_api(self) -> None:
        log = open(self.logs / "api.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.api = subprocess.Popen(
            [ONCALL, "api", "--port", str(self.api_port)], env=self.env, stdout=log, stderr=log
        )
        wait_for(self._api_up, 30)

    def _api_up(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/api/v1/openapi.json", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start_worker(self, *extra: str) -> subprocess.Popen[bytes]:
        """A worker, returned once its consumer says it has started taking tasks."""
        n = len(self.workers)
        path = self.logs / f"worker-{n}.log"
        log = open(path, "ab")  # noqa: SIM115
        proc = subprocess.Popen(
            [ONCALL, "worker", "--sweep-interval", str(SWEEP_INTERVAL), *extra],
            env=self.env, stdout=log, stderr=log,
        )
        self.workers.append(proc)

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"the worker exited: {path.read_text()[-2000:]}")
            return WORKER_READY in path.read_bytes()

        wait_for(ready, 30)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in [*self.workers, *([self.api] if self.api else [])]:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()

    def post_alert(self, **body: object) -> httpx.Response:
        payload = {"summary": "API error rate above 5%", "severity": "critical",
                   "labels": {"env": "prod"}, "dedup_key": "api-errors", **body}
        return httpx.post(f"{self.api_url}/api/v1/integrations/hooks/alerts", json=payload,
                          headers={"Authorization": f"Bearer {HOOK_SECRET}"}, timeout=10)


def write_config(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


POSTGRESQL, SQLITE = "postgresql", "sqlite"
BACKENDS = [
    pytest.param(SQLITE, id="sqlite"),
    pytest.param(POSTGRESQL, id="postgresql", marks=[pytest.mark.postgres, pytest.mark.redis]),
]
"""For `@pytest.fixture(params=BACKENDS) def backend(request): return request.param`."""


@pytest.fixture
def backend() -> str:
    """The database and queue `stack_factory` builds on; PostgreSQL + Redis unless a module
    overrides this fixture."""
    return POSTGRESQL


class StackFactory(Protocol):
    def __call__(self, extra_env: dict[str, str],
                 extra_config: dict[str, str] | None = None) -> Stack:
        """A migrated stack with `CONFIG` (plus `extra_config`: path -> text) applied."""
        ...


@pytest.fixture
def stack_factory(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> Iterator[StackFactory]:
    stacks: list[Stack] = []
    if backend == POSTGRESQL:
        postgres_url: str = request.getfixturevalue("postgres_url")
        redis_url: str = request.getfixturevalue("redis_url")
    elif backend != SQLITE:
        raise ValueError(f"unknown backend {backend!r}")

    def make(extra_env: dict[str, str], extra_config: dict[str, str] | None = None) -> Stack:
        if backend == POSTGRESQL:
            import psycopg

            # a clean schema for each test, in the run's PostgreSQL database
            dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute("DROP SCHEMA public CASCADE")
                conn.execute("CREATE SCHEMA public")
            database = {"ONCALL_DATABASE_URL": postgres_url, "ONCALL_REDIS_URL": redis_url}
        else:
            # embedded: a fresh file per stack; the queue is SQLite Huey beside it
            # (oncall.worker.queue.queue_path), since ONCALL_REDIS_URL is unset
            data = tmp_path / f"sqlite-{len(stacks)}"
            data.mkdir()
            database = {"ONCALL_DATABASE_URL": f"sqlite:///{data / 'oncall.db'}"}
        config = write_config(tmp_path / "config", {**CONFIG, **(extra_config or {})})
        logs = tmp_path / "logs"
        logs.mkdir(exist_ok=True)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")},
            **database,
            "HOOK_SECRET": HOOK_SECRET,
            "ONCALL_SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "ONCALL_PUBLIC_URL": "https://oncall.example",
            "ONCALL_PROVIDER_TIMEOUT": "2",
            **extra_env,
        }
        stack = Stack(env, free_port(), logs)
        stack.run("db", "upgrade")
        stack.run("apply", str(config))
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
