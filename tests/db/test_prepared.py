"""PostgreSQL plans each hot statement once: reads keep the driver's prepared statements, and
the outbox's due scans still use their partial indexes in a prepared statement's plan."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, Engine, text

from oncall.db.engine import make_engine, read_connection, read_session
from oncall.db.migrate import upgrade_engine
from oncall.store import stores_for
from oncall.store.outbox import LEASE

pytestmark = pytest.mark.postgres

_PREPARED = text("SELECT name, statement, parameter_types::text[] AS types "
                 "FROM pg_prepared_statements")
_READ = text("SELECT count(*) FROM alembic_version WHERE version_num <> :v")


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """The migrated scratch database, through a pool of one connection: every block below
    runs on the same server session."""
    with make_engine(postgres_url).begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    upgrade_engine(engine)
    yield engine
    engine.dispose()


def _prepared(engine: Engine) -> list[str]:
    with read_connection(engine) as conn:
        return [row.statement for row in conn.execute(_PREPARED)]


def test_reads_keep_the_prepared_statements(engine: Engine) -> None:
    for n in range(8):
        with read_connection(engine) as conn:
            conn.execute(_READ, {"v": str(n)}).scalar()
    assert any("alembic_version" in s for s in _prepared(engine))


def test_a_block_ended_by_rollback_loses_them(engine: Engine) -> None:
    """Why `read_connection` exists: psycopg forgets every prepared statement on a ROLLBACK,
    which is how SQLAlchemy ends a block that did not commit."""
    for n in range(8):
        with engine.connect() as conn:
            conn.execute(_READ, {"v": str(n)}).scalar()
    assert not any("alembic_version" in s for s in _prepared(engine))


def _generic_plan(conn: Connection, statement: str) -> str:
    """The plan PostgreSQL keeps for a prepared statement once it stops planning each call."""
    row = next(r for r in conn.execute(_PREPARED) if r.statement == statement)
    values = {"timestamp with time zone": "now()", "smallint": "50", "integer": "50",
              "bigint": "50", "character varying": "'x'", "text": "'x'"}
    args = ", ".join(values[t] for t in row.types)
    conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    try:
        return "\n".join(conn.exec_driver_sql(f"EXPLAIN EXECUTE {row.name}({args})").scalars())
    finally:
        conn.exec_driver_sql("RESET plan_cache_mode")


@pytest.mark.parametrize("background", [False, True])
def test_due_scans_use_the_partial_indexes_once_prepared(engine: Engine,
                                                         background: bool) -> None:
    now, outbox = datetime.now(UTC), stores_for(engine).outbox
    for n in range(8):
        with read_session(engine) as session:
            outbox.due_ids(session, now + timedelta(seconds=n), lease=LEASE,
                           background=background)
    with read_connection(engine) as conn:
        statement = next(s for s in (r.statement for r in conn.execute(_PREPARED))
                         if "FROM notifications" in s and "UNION ALL" in s)
        plan = _generic_plan(conn, statement)
    assert "ix_notifications_pending_due" in plan, plan
    assert "ix_notifications_sending_claimed" in plan, plan
