"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is 127.0.0.1:5432. One uniquely named database is created per test run and dropped at
the end; each test starts from an empty schema. When PostgreSQL is unreachable its tests are
skipped locally, but fail when CI=true: CI must not skip anything silently.
"""

from __future__ import annotations

import getpass
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine

from oncall.config.configset import ConfigSet
from oncall.config.loader import load
from oncall.db.engine import make_engine
from oncall.db.migrate import upgrade_engine
from oncall.reconcile.apply import Origin, apply_config

PG_HOST, PG_PORT = "127.0.0.1", 5432


def _admin_connection() -> tuple[psycopg.Connection, str] | None:
    users = dict.fromkeys([os.environ.get("PGUSER") or "", _os_user(), "postgres"])
    for user in filter(None, users):
        for dbname in ("postgres", "test"):
            try:
                conn = psycopg.connect(
                    host=PG_HOST,
                    port=PG_PORT,
                    user=user,
                    dbname=dbname,
                    autocommit=True,
                    connect_timeout=3,
                )
            except psycopg.OperationalError:
                continue
            return conn, user
    return None


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    found = _admin_connection()
    if found is None:
        message = f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} and CI=true: database tests must run, not skip")
        pytest.skip(message)
    conn, user = found
    name = f"oncall_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{user}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'oncall.db'}"
    url: str = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade_engine(engine)
    yield engine
    engine.dispose()


# --- the example organisation, applied ---------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def example_config() -> ConfigSet:
    """The repository's example organisation (rules/, schedules/, workflows/), validated."""
    result = load(REPO_ROOT)
    assert result.ok, [d.as_text() for d in result.errors]
    return result.config


@pytest.fixture
def applied_engine(migrated_engine: Engine, example_config: ConfigSet) -> Engine:
    """A migrated database with the example organisation applied, on SQLite and PostgreSQL."""
    origin = Origin(actor="tests", source=str(REPO_ROOT), revision=None, now=datetime.now(UTC))
    apply_config(migrated_engine, example_config, origin)
    return migrated_engine


sys.path.insert(0, str(Path(__file__).parent / "store"))
from outbox_owner import install as _guard_notifications  # type: ignore[import-not-found]  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _outbox_owns_notifications() -> None:
    """Every write of the notifications table in the session goes through the outbox."""
    _guard_notifications()
