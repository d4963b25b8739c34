"""Fault tests: real `oncall api` and `oncall worker` processes whose PostgreSQL, Redis, disk or
provider fails under them.

The shared PostgreSQL (5432) and Redis (6379) serve every other test, so nothing here touches
them: each test starts its own PostgreSQL cluster and Redis server on free ports, in a
directory of its own, and stops, restarts or starves them as the fault requires. Failing to
start one is a test failure, never a skip.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import psycopg
import pytest
import redis

from ..e2e.conftest import (  # type: ignore[import-not-found]
    CONFIG,
    HOOK_SECRET,
    SIGNING_SECRET,
    Stack,
    free_port,
    wait_for,
    write_config,
)


def _postgres_bin() -> Path:
    """The newest Debian PostgreSQL's programs, else wherever pg_ctl is on PATH."""
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                       key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if installed:
        return installed[-1].parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _postgres_bin()
PG_USER = "postgres"
"""initdb refuses to run as root: as root, the cluster belongs to this OS user."""
START_TIMEOUT = 30.0

__all__ = [
    "CONFIG",
    "HOOK_SECRET",
    "SIGNING_SECRET",
    "Blackhole",
    "PrivatePostgres",
    "PrivateRedis",
    "Stack",
    "free_port",
    "wait_for",
]


def _as_cluster_owner(args: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *args] if os.geteuid() == 0 else args


class PrivatePostgres:
    """A PostgreSQL cluster of this test's own, on a free port, that the test may stop."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "postgres.log"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(_as_cluster_owner([str(PG_BIN / args[0]), *args[1:]]),
                                capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{' '.join(args[:1])} failed: {result.stderr}{tail}")

    def init(self) -> None:
        if not (PG_BIN / "initdb").exists():
            raise AssertionError(f"PostgreSQL's initdb is not installed (looked in {PG_BIN})")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", PG_USER, "--no-sync",
                  "-E", "UTF8", "--locale=C")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w",
                  "-t", str(int(START_TIMEOUT)), "-o", options, "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: what a service restart does (sessions ended, a clean checkpoint);
        `immediate`: a crash, recovered from the WAL at the next start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def dsn(self, dbname: str = "oncall") -> str:
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{dbname}"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/oncall"

    def create_database(self) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE oncall")

    def sql(self, query: str) -> list[tuple[object, ...]]:
        with psycopg.connect(self.dsn(), connect_timeout=5) as conn:
            return conn.execute(query).fetchall()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="oncall-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(PG_USER)
        os.chown(root, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)
    cluster = PrivatePostgres(root, free_port())
    try:
        cluster.init()
        cluster.start()
        cluster.create_database()
        yield cluster
    finally:
        if cluster.running:
            with suppress(AssertionError, subprocess.TimeoutExpired):
                cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


class PrivateRedis:
    """A Redis server of this test's own, without persistence: stopping it loses the queue."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise AssertionError("redis-server is not installed")
        log = open(self.root / "redis.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.root)],
            stdout=log, stderr=log,
        )
        process = self.process

        def up() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"redis-server exited: {self.log_tail()}")
            try:
                return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
            except redis.exceptions.ConnectionError:
                return False

        wait_for(up, START_TIMEOUT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def log_tail(self) -> str:
        path = self.root / "redis.log"
        return path.read_text()[-2000:] if path.exists() else ""


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    root = tmp_path / "redis"
    root.mkdir()
    server = PrivateRedis(root, free_port())
    try:
        server.start()
        yield server
    finally:
        server.stop()


StackMaker = Callable[..., Stack]


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[StackMaker]:
    """`make_stack(database_url, redis_url=None, env={}, config={})`: a migrated stack with the
    e2e organisation (`CONFIG`, plus `config`: path -> text) applied, nothing started yet."""
    stacks: list[Stack] = []

    def make(database_url: str, redis_url: str | None = None,
             env: dict[str, str] | None = None, config: dict[str, str] | None = None) -> Stack:
        root = write_config(tmp_path / f"config-{len(stacks)}", {**CONFIG, **(config or {})})
        logs = tmp_path / "logs"
        logs.mkdir(exist_ok=True)
        database = {"ONCALL_DATABASE_URL": database_url}
        if redis_url is not None:
            database["ONCALL_REDIS_URL"] = redis_url
        stack = Stack(
            {
                **{k: v for k, v in os.environ.items() if not k.startswith("ONCALL_")},
                **database,
                "HOOK_SECRET": HOOK_SECRET,
                "ONCALL_SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "ONCALL_PUBLIC_URL": "https://oncall.example",
                "ONCALL_PROVIDER_TIMEOUT": "2",
                **(env or {}),
            },
            free_port(),
            logs,
        )
        stack.run("db", "upgrade")
        stack.run("apply", str(root))
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


def log_text(stack: Stack, name: str) -> str:
    path = stack.logs / name
    return path.read_text(errors="replace") if path.exists() else ""


def poll(condition: Callable[[], object], timeout: float, interval: float = 0.1) -> float:
    """`wait_for` whose condition may fail while a dependency is down: an error counts as not
    yet, and the last one is reported if the deadline passes."""
    last: list[BaseException] = []

    def attempt() -> object:
        try:
            return condition()
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last[:] = [exc]
            return False

    try:
        return wait_for(attempt, timeout, interval)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; last error: {last[0] if last else None!r}") from None


def elapsed_since(start: float) -> float:
    return time.monotonic() - start


class Blackhole:
    """A server that accepts every connection and never says a word: no SMTP greeting, no
    HTTP answer. What a provider whose process hangs looks like from outside."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._accepted: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="blackhole", daemon=True)
        self._closed = threading.Event()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._accepted)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._accepted.append(conn)

    def __enter__(self) -> Blackhole:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for conn in self._accepted:
                conn.close()
        self._thread.join(5)
