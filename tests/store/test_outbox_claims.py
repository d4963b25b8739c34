"""A stopping worker hands back the outbox rows it holds: due at once for any other worker,
long before their lease would run out; nobody else's rows, and nothing finished, move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, insert, select
from sqlalchemy.orm import Session

from oncall.db.engine import write_connection
from oncall.db.models import NotificationRow
from oncall.store import outbox_claims, stores_for

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
_N = cast(Table, NotificationRow.__table__)

ROWS: list[dict[str, Any]] = [
    # key, status, claimed_by: the worker stopping is "a", another worker is "b"
    {"idempotency_key": "a-sending", "status": "sending", "claimed_by": "a"},
    {"idempotency_key": "a-step", "status": "sending", "claimed_by": "a", "kind": "workflow"},
    {"idempotency_key": "b-sending", "status": "sending", "claimed_by": "b"},
    {"idempotency_key": "a-sent", "status": "sent", "claimed_by": "a"},
    {"idempotency_key": "pending", "status": "pending", "claimed_by": None},
]


def _seed(engine: Engine) -> None:
    claimed_at = NOW - timedelta(seconds=2)  # well inside any lease
    with write_connection(engine) as conn:
        conn.execute(insert(_N), [
            {"kind": "page", "channel": "email", "address": "alice@example.com",
             "attempt_count": 1, "next_attempt_at": claimed_at + timedelta(minutes=5),
             "created_at": claimed_at,
             "claimed_at": claimed_at if row["claimed_by"] else None, **row} for row in ROWS
        ])


def _rows(engine: Engine) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as conn:
        return {r.idempotency_key: (r.status, r.claimed_by, r.claimed_at, r.next_attempt_at,
                                    r.attempt_count)
                for r in conn.execute(select(_N))}


def _due_keys(engine: Engine, now: datetime) -> set[str]:
    with Session(engine) as session:
        ids = stores_for(engine).outbox.due_ids(session, now)
        return set(session.scalars(select(_N.c.idempotency_key).where(_N.c.id.in_(ids))))


def test_release_hands_back_only_the_stopping_workers_claims(migrated_engine: Engine) -> None:
    _seed(migrated_engine)
    before = _rows(migrated_engine)
    assert _due_keys(migrated_engine, NOW) == set()  # held within their lease: nobody's
    with migrated_engine.connect() as conn:
        assert outbox_claims.held(conn, "a") == 2
        assert outbox_claims.held(conn, "b") == 1

    with write_connection(migrated_engine) as conn:
        released = outbox_claims.release(conn, "a", NOW)

    after = _rows(migrated_engine)
    keys = {row_id: key for key, row_id in _ids(migrated_engine).items()}
    assert sorted(keys[row_id] for row_id in released) == ["a-sending", "a-step"]
    for key in ("a-sending", "a-step"):
        status, claimed_by, claimed_at, due, attempts = after[key]
        assert (status, claimed_by, claimed_at) == ("pending", None, None)
        assert due.replace(tzinfo=UTC) == NOW  # due now, not at the lease's end
        assert attempts == before[key][4]
    for key in ("b-sending", "a-sent", "pending"):
        assert after[key] == before[key]
    # any worker sweeping now takes the handed-back rows, and only those
    assert _due_keys(migrated_engine, NOW) == {"a-sending", "a-step"}
    with migrated_engine.connect() as conn:
        assert outbox_claims.held(conn, "a") == 0


def test_release_with_nothing_held_changes_nothing(migrated_engine: Engine) -> None:
    _seed(migrated_engine)
    before = _rows(migrated_engine)
    with write_connection(migrated_engine) as conn:
        assert outbox_claims.release(conn, "c", NOW) == []
    assert _rows(migrated_engine) == before


def _ids(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {key: row_id for key, row_id in conn.execute(select(_N.c.idempotency_key, _N.c.id))}
