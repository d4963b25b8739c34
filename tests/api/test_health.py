"""`/healthz` answers while the process runs, whatever the database does; `/readyz` answers 200
only with the database reachable, its schema current and a config applied, and names what is
missing otherwise; load balancers' polls are answered from a one-second cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from oncall.api import health
from oncall.api.app import create_api
from oncall.db.engine import make_engine, write_session
from oncall.db.migrate import upgrade_engine
from oncall.db.models import ReconcileRunRow
from oncall.settings import Settings


def _client(engine: Engine) -> TestClient:
    app = create_api(Settings(database_url=str(engine.url)), engine, check_schema=False,
                     environ={})
    return TestClient(app, raise_server_exceptions=False)


def _run(engine: Engine, result: str) -> None:
    now = datetime.now(UTC)
    with write_session(engine) as session:
        session.add(ReconcileRunRow(started_at=now, finished_at=now, source="repo",
                                    revision=None, actor="tests", result=result, errors=[]))


@pytest.fixture
def unreachable_engine(tmp_path: Path) -> Iterator[Engine]:
    """A SQLite file in a directory that does not exist: every connection fails."""
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'oncall.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every statement any engine runs while the test does."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_healthz_answers_without_touching_the_database(
    unreachable_engine: Engine, statements: list[str]
) -> None:
    client = _client(unreachable_engine)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert statements == []


def test_ready_with_the_schema_current_and_a_config_applied(applied_engine: Engine) -> None:
    response = _client(applied_engine).get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {
        "database": "ok", "migrations": "ok", "config": "ok"}}


def _assert_not_ready(engine: Engine, not_ready: dict[str, str]) -> None:
    response = _client(engine).get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == str(health.RETRY_AFTER_SECONDS)
    body = response.json()
    failing = {name: value for name, value in body["checks"].items()
               if value not in ("ok", "unknown")}
    assert failing == not_ready
    for name, value in not_ready.items():
        assert f"{name}: {value}" in body["detail"]


def test_not_ready_while_the_database_is_unreachable(unreachable_engine: Engine) -> None:
    _assert_not_ready(unreachable_engine, {"database": "unreachable"})


@pytest.mark.parametrize(
    ("migrated", "runs", "not_ready"),
    [
        (False, [], {"migrations": "not current: run `oncall db upgrade`"}),
        (True, [], {"config": "none applied: run `oncall apply`"}),
        (True, ["invalid", "refused"], {"config": "none applied: run `oncall apply`"}),
    ],
    ids=["not-migrated", "no-config", "only-failed-applies"],
)
def test_not_ready_names_what_is_missing(
    database_url: str, migrated: bool, runs: list[str], not_ready: dict[str, str]
) -> None:
    engine = make_engine(database_url)
    try:
        if migrated:
            upgrade_engine(engine)
        for result in runs:
            _run(engine, result)
        _assert_not_ready(engine, not_ready)
    finally:
        engine.dispose()


def test_a_poll_within_the_cache_window_asks_the_database_nothing(
    migrated_engine: Engine, statements: list[str]
) -> None:
    clock = [100.0]
    probe = health.Probe(migrated_engine, seconds=1.0, monotonic=lambda: clock[0])
    first = probe.readiness()
    assert not first.ready and statements
    asked = len(statements)

    _run(migrated_engine, "applied")
    statements.clear()
    clock[0] += 0.5
    assert probe.readiness() is first  # cached: still the old answer, no query
    assert statements == []

    clock[0] += 0.6  # past the window: checked again, and now ready
    assert probe.readiness().ready
    assert 0 < len(statements) <= asked
