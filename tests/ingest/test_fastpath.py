"""The fast paths write exactly what `pipeline.ingest` writes, and step aside otherwise.

PostgreSQL's (`PostgresIngest`, on the event loop) and SQLite's (`SqliteIngest`, in Core).

Each scenario is a series of single-alert deliveries. It runs twice from the same empty tables
(identities restarted): once through `pipeline.ingest` only, once the way the ingest endpoint
stores a delivery (fast paths first). Every row of every table ingest writes must be equal,
ids included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from oncall.config.configset import ConfigSet
from oncall.core.alerts import Action, Alert
from oncall.db.aio import conninfo
from oncall.db.engine import write_session
from oncall.ingest.pipeline import Result, ServiceDirectory, ingest, single_plain_trigger
from oncall.store import stores_for
from oncall.store.ingest_postgres import PostgresIngest
from oncall.store.ingest_sqlite import SqliteIngest

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TABLES = ("incidents", "alerts", "audit_events", "escalation_timers", "alert_deliveries")
CHECKOUT = {"alertname": "CheckoutLatencyHigh", "env": "prod", "cluster": "eu"}
NODE = {"alertname": "KubeNodeNotReady", "namespace": "payments", "cluster": "eu"}


def alert(key: str, action: Action = "trigger", minutes: int = 0, delivery_id: str | None = None,
          **labels: str) -> Alert:
    return Alert(provider="alertmanager", action=action, summary=f"{labels.get('alertname')}",
                 severity="critical", dedup_key=key, occurred_at=NOW + timedelta(minutes=minutes),
                 labels={"severity": "critical", **labels}, delivery_id=delivery_id,
                 integration="prometheus-prod")


@dataclass(frozen=True)
class Case:
    name: str
    deliveries: tuple[Alert, ...]
    fast: tuple[str | None, ...]
    """Per delivery: which fast path served it ("open", "repeat") or None (`ingest` did)."""


CASES = [
    Case("a new alert opens an incident", (alert("a", **CHECKOUT, pod="1"),), ("open",)),
    Case("a repeat of a firing alert is deduplicated",
         (alert("a", **CHECKOUT), alert("a", minutes=1, **CHECKOUT)), ("open", "repeat")),
    Case("a second alert of the group joins its incident",
         (alert("a", **CHECKOUT, pod="1"), alert("b", minutes=1, **CHECKOUT, pod="2")),
         ("open", "open")),
    Case("after a resolve the next trigger opens a new incident",
         (alert("a", **CHECKOUT), alert("a", "resolve", 1, **CHECKOUT),
          alert("a", minutes=2, **CHECKOUT)), ("open", None, "open")),
    Case("a trigger older than the resolve stays resolved",
         (alert("a", "resolve", 5, **CHECKOUT), alert("a", minutes=1, **CHECKOUT)), (None, None)),
    Case("an older repeat of a firing alert is deduplicated, its time kept",
         (alert("a", minutes=5, **CHECKOUT), alert("a", minutes=1, **CHECKOUT)),
         ("open", "repeat")),
    Case("a continue rule pages two services: the general path",
         (alert("n", **NODE),), (None,)),
    Case("a dropped alert is recorded by the general path",
         (alert("s", alertname="CheckoutDown", env="staging"),), (None,)),
    Case("a delivery id is checked by the general path",
         (alert("a", delivery_id="d-1", **CHECKOUT), alert("a", delivery_id="d-1", **CHECKOUT)),
         (None, None)),
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_applied_engine" if request.param == "sqlite" else "postgres_applied_engine"
    found: Engine = request.getfixturevalue(name)
    return found


def _reset(engine: Engine) -> None:
    """Empty the tables, the workflow inbox too (its event ids start again with theirs)."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":  # rowids start again at 1 in an emptied table
            for table in (*reversed(TABLES), "workflow_inbox"):
                conn.execute(text(f"DELETE FROM {table}"))
        else:
            conn.execute(text(f"TRUNCATE {', '.join(TABLES)}, workflow_inbox "
                              "RESTART IDENTITY CASCADE"))


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {table: [dict(row._mapping) for row in
                        conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
                for table in TABLES}


def _general(engine: Engine, config: ConfigSet, delivery: Alert) -> Result:
    with write_session(engine) as session:
        return ingest(session, config, config.integrations["prometheus-prod"], [delivery],
                      now=delivery.occurred_at, store=stores_for(engine).ingest)


def _endpoint(engine: Engine, config: ConfigSet, delivery: Alert, services: ServiceDirectory
              ) -> tuple[Result, str | None]:
    """As the ingest endpoint stores a delivery: the store's fast path (on PostgreSQL on an
    autocommit asyncio connection), then `pipeline.ingest` if it does not apply."""
    integration, now = config.integrations["prometheus-prod"], delivery.occurred_at
    store = stores_for(engine).ingest

    async def fast(postgres: PostgresIngest) -> tuple[Result | None, str | None]:
        async with await psycopg.AsyncConnection.connect(conninfo(engine.url),
                                                         autocommit=True) as conn:
            repeated = await postgres.repeat_async(conn, integration, delivery, now)
            if repeated is not None:
                return repeated, "repeat"
            opened = await postgres.open_async(conn, config, integration, delivery, now,
                                               services)
            return opened, "open" if opened is not None else None

    applies = single_plain_trigger([delivery])
    if applies and isinstance(store, SqliteIngest):
        stored = store.store(config, integration, delivery, now, services)
        if stored is not None:
            return stored, "repeat" if stored.outcomes == ["deduplicated"] else "open"
    if applies and isinstance(store, PostgresIngest):
        result, path = asyncio.run(fast(store))
        if result is not None:
            return result, path
    with write_session(engine) as session:
        return ingest(session, config, integration, [delivery], now=now, store=store,
                      services=services,
                      repeat_tried=applies and isinstance(store, PostgresIngest)), None


def _results(results: Sequence[Result]) -> list[tuple[list[str], list[int], list[int]]]:
    return [(r.outcomes, r.alert_ids, r.incident_ids) for r in results]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fast_paths_write_what_ingest_writes(engine: Engine, example_config: ConfigSet,
                                             case: Case) -> None:
    _reset(engine)
    general = [_general(engine, example_config, d) for d in case.deliveries]
    expected = _rows(engine)

    _reset(engine)
    services = ServiceDirectory()
    served = [_endpoint(engine, example_config, d, services) for d in case.deliveries]
    assert tuple(path for _, path in served) == case.fast
    assert _results([r for r, _ in served]) == _results(general)
    assert _rows(engine) == expected


@pytest.mark.postgres
def test_a_new_alert_found_firing_under_the_lock_is_a_repeat(postgres_applied_engine: Engine,
                                                             example_config: ConfigSet) -> None:
    """An alert storm: the first delivery opened the alert after the second one's repeat
    statement looked, so the second finds it firing under the advisory lock."""
    engine = postgres_applied_engine
    first, second = alert("a", **CHECKOUT), alert("a", minutes=1, **CHECKOUT)
    _reset(engine)
    expected_result = [_general(engine, example_config, d) for d in (first, second)][1]
    expected = _rows(engine)

    _reset(engine)
    integration = example_config.integrations["prometheus-prod"]
    _general(engine, example_config, first)

    store = stores_for(engine).ingest
    assert isinstance(store, PostgresIngest)

    async def race() -> Result | None:
        async with await psycopg.AsyncConnection.connect(conninfo(engine.url),
                                                         autocommit=True) as conn:
            return await store.open_async(conn, example_config, integration, second,
                                          second.occurred_at, ServiceDirectory())

    result = asyncio.run(race())
    assert result is not None
    assert _results([result]) == _results([expected_result])
    assert _rows(engine) == expected


@pytest.mark.parametrize(("deliveries", "applies"), [
    ([alert("a", **CHECKOUT)], True),
    ([alert("a", "resolve", **CHECKOUT)], False),
    ([alert("a", "acknowledge", **CHECKOUT)], False),
    ([alert("a", delivery_id="d-1", **CHECKOUT)], False),
    ([alert("a", **CHECKOUT), alert("b", **CHECKOUT)], False),
])
def test_which_deliveries_take_the_fast_paths(deliveries: list[Alert], applies: bool) -> None:
    assert single_plain_trigger(deliveries) is applies
