"""Asyncio connections for ingest: a loop without a pool still opens at most `size` at once."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg_pool import PoolTimeout
from sqlalchemy import make_url

from oncall.db.aio import AsyncPostgres

pytestmark = pytest.mark.postgres


async def _busy(postgres: AsyncPostgres, peak: list[int], open_now: list[int]) -> None:
    async with postgres.connection() as conn:
        open_now[0] += 1
        peak[0] = max(peak[0], open_now[0])
        await conn.execute("SELECT pg_sleep(0.05)")
        open_now[0] -= 1


def test_a_loop_without_a_pool_opens_at_most_size_connections(postgres_url: str) -> None:
    postgres = AsyncPostgres(make_url(postgres_url), size=4)
    peak, open_now = [0], [0]

    async def storm() -> None:
        await asyncio.gather(*(_busy(postgres, peak, open_now) for _ in range(40)))

    asyncio.run(storm())
    assert peak[0] == 4


def test_a_request_waits_for_a_free_connection_then_gives_up(postgres_url: str) -> None:
    postgres = AsyncPostgres(make_url(postgres_url), size=1, timeout=0.2)

    async def hold_and_ask() -> None:
        async with postgres.connection():
            with pytest.raises(PoolTimeout):
                async with postgres.connection():
                    pass
        async with postgres.connection() as conn:  # freed: served again
            assert await (await conn.execute("SELECT 1")).fetchone() == (1,)

    asyncio.run(hold_and_ask())


def test_an_open_pool_serves_its_loop(postgres_url: str) -> None:
    postgres = AsyncPostgres(make_url(postgres_url), size=2)
    peak, open_now = [0], [0]

    async def serve() -> None:
        await postgres.open()
        try:
            await asyncio.gather(*(_busy(postgres, peak, open_now) for _ in range(10)))
        finally:
            await postgres.close()

    asyncio.run(serve())
    assert peak[0] == 2


def test_after_the_server_drops_every_connection_one_request_fails_not_one_each(
    postgres_url: str,
) -> None:
    """As after a PostgreSQL restart: the first request on a dead connection fails (the
    sender retries it), and the pool replaces its other dead connections at once instead of
    each failing a request of its own."""
    postgres = AsyncPostgres(make_url(postgres_url), size=4)
    answers: list[str] = []

    async def ask() -> None:
        try:
            async with postgres.connection() as conn:
                await conn.execute("SELECT 1")
            answers.append("ok")
        except psycopg.OperationalError:
            answers.append("failed")

    async def scenario() -> None:
        await postgres.open()
        try:
            async with postgres.connection() as conn:
                pids = [row[0] for row in await (await conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = '' "
                    "AND datname = current_database() AND pid <> pg_backend_pid()")).fetchall()]
                mine = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())
            async with await psycopg.AsyncConnection.connect(
                    postgres_url.replace("postgresql+psycopg", "postgresql"),
                    autocommit=True) as admin:
                for pid in [*pids, mine[0] if mine else 0]:
                    await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            for _ in range(6):
                await ask()
                await asyncio.sleep(0.2)
        finally:
            await postgres.close()

    asyncio.run(scenario())
    assert answers[0] == "failed"
    assert answers[1:] == ["ok"] * 5, answers
