"""Repeats sent together: each caller gets what its own statement would have given it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine, text

from oncall.config.configset import ConfigSet
from oncall.core.alerts import Alert
from oncall.db.aio import AsyncPostgres
from oncall.db.engine import write_session
from oncall.ingest.pipeline import Result, ingest
from oncall.store import ingest_batch, stores_for
from oncall.store.ingest_batch import RepeatBatcher
from oncall.store.ingest_postgres import REPEAT_SQL, repeat_params, repeat_result

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INTEGRATION = "prometheus-prod"
T = TypeVar("T")


def alert(key: str, minutes: int = 0, cluster: str = "eu") -> Alert:
    return Alert(provider="alertmanager", action="trigger", summary="CheckoutLatencyHigh",
                 severity="critical", dedup_key=key, occurred_at=NOW + timedelta(minutes=minutes),
                 labels={"severity": "critical", "alertname": "CheckoutLatencyHigh",
                         "env": "prod", "cluster": cluster},
                 integration=INTEGRATION)


@pytest.fixture
def engine(postgres_applied_engine: Engine) -> Engine:
    with postgres_applied_engine.begin() as conn:
        conn.execute(text("TRUNCATE incidents, alerts, audit_events, escalation_timers,"
                          " alert_deliveries, workflow_inbox RESTART IDENTITY CASCADE"))
    return postgres_applied_engine


def open_alerts(engine: Engine, config: ConfigSet, *alerts: Alert) -> None:
    with write_session(engine) as session:
        ingest(session, config, config.integrations[INTEGRATION], list(alerts), now=NOW,
               store=stores_for(engine).ingest)


def with_batcher(engine: Engine, body: Callable[[RepeatBatcher], Awaitable[T]],
                 **options: Any) -> T:
    async def run() -> T:
        postgres = AsyncPostgres(engine.url, size=4)
        await postgres.open()
        try:
            return await body(RepeatBatcher(postgres, REPEAT_SQL, **options))
        finally:
            await postgres.close()

    return asyncio.run(run())


async def submit(batcher: RepeatBatcher, alert: Alert) -> Result | None:
    return repeat_result(await batcher.submit(repeat_params(INTEGRATION, alert, NOW)))


def deliveries(engine: Engine) -> list[tuple[int | None, str, str]]:
    with engine.connect() as conn:
        return [(row[0], row[1], row[2]) for row in conn.execute(text(
            "SELECT alert_id, outcome, payload->>'summary' FROM alert_deliveries"
            " WHERE outcome != 'new' ORDER BY id"))]


def test_concurrent_repeats_are_sent_together_and_each_answered(
        engine: Engine, example_config: ConfigSet, monkeypatch: pytest.MonkeyPatch) -> None:
    open_alerts(engine, example_config, alert("a"), alert("b", cluster="us"))
    sizes: list[int] = []
    send = RepeatBatcher._send

    async def counting(self: RepeatBatcher, batch: list[Any]) -> Any:
        sizes.append(len(batch))
        return await send(self, batch)

    monkeypatch.setattr(RepeatBatcher, "_send", counting)
    storm = [alert("a", minutes=n) for n in range(1, 6)] + [alert("b", minutes=9),
                                                            alert("never-opened")]

    async def body(batcher: RepeatBatcher) -> list[Any]:
        first = asyncio.ensure_future(submit(batcher, storm[0]))
        await asyncio.sleep(0)  # the first is in flight: the others queue behind it
        rest = [submit(batcher, a) for a in storm[1:]]
        return await asyncio.gather(first, *rest)

    results = with_batcher(engine, body, flushers=1)
    assert sizes == [1, 6]  # the first went alone; the rest waited for it and went together
    assert [r.outcomes if r else None for r in results] == [["deduplicated"]] * 6 + [None]
    assert [r.alert_ids for r in results[:6]] == [[1]] * 5 + [[2]]
    assert [r.incident_ids for r in results[:6]] == [[1]] * 5 + [[2]]
    assert len(deliveries(engine)) == 6
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT dedup_key, last_event_at FROM alerts"))
        last: dict[str, datetime] = {row[0]: row[1] for row in rows}
    assert last == {"a": NOW + timedelta(minutes=5), "b": NOW + timedelta(minutes=9)}


def test_a_failed_batch_writes_nothing_and_fails_every_caller(
        engine: Engine, example_config: ConfigSet, monkeypatch: pytest.MonkeyPatch) -> None:
    open_alerts(engine, example_config, alert("a"))
    params = ingest_batch._Repeat.__init__

    def poisoned(self: Any, values: dict[str, Any], future: Any) -> None:
        if values["at"] == NOW + timedelta(minutes=3):
            values = {**values, "payload": "{not json"}
        params(self, values, future)

    monkeypatch.setattr(ingest_batch._Repeat, "__init__", poisoned)

    async def body(batcher: RepeatBatcher) -> list[Any]:
        first = asyncio.ensure_future(submit(batcher, alert("a", 1)))
        await asyncio.sleep(0)  # the first is in flight: the next three queue behind it
        rest = [submit(batcher, alert("a", n)) for n in (2, 3, 4)]
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = with_batcher(engine, body, flushers=1)
    assert results[0].outcomes == ["deduplicated"]
    assert all(isinstance(r, Exception) for r in results[1:])
    assert len(deliveries(engine)) == 1  # only the first; the batch of three left nothing


def test_waiting_for_an_opener_then_repeating(engine: Engine, example_config: ConfigSet
                                              ) -> None:
    """Deliveries of an alert being opened wait for it (holding no connection), then repeat."""
    async def body(batcher: RepeatBatcher) -> tuple[bool, Any, bool]:
        first = alert("new")
        assert await submit(batcher, first) is None
        opened = asyncio.Event()

        async def opener() -> None:
            async with batcher.opening(INTEGRATION, first):
                opened.set()
                await asyncio.sleep(0.05)
                await asyncio.to_thread(open_alerts, engine, example_config, first)

        task = asyncio.ensure_future(opener())
        await opened.wait()
        waited = await batcher.wait_for_opener(INTEGRATION, alert("new", 1))
        repeated = await submit(batcher, alert("new", 1))
        await task
        return waited, repeated, await batcher.wait_for_opener(INTEGRATION, first)

    waited, repeated, after = with_batcher(engine, body)
    assert waited is True and after is False
    assert repeated.outcomes == ["deduplicated"] and repeated.alert_ids == [1]
