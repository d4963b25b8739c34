"""The embedded default (SQLite) on a disk that fills up: ingest answers 503 with Retry-After
and logs why, nothing is half-written, and once there is room the retried alerts land once."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import psycopg.errors
import pytest
from sqlalchemy import create_engine

from oncall.api.app import database_unavailable, disk_full

from .conftest import (  # type: ignore[import-not-found]
    HOOK_SECRET,
    Stack,
    StackMaker,
    log_text,
)

DISK_BYTES = 8 * 1024 * 1024
"""The small filesystem the database lives on: room for the schema and config (about half a
megabyte), the write-ahead log and the queue beside them, and then some."""
MAX_POSTS = 400


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs of `DISK_BYTES`, mounted for this test: a real filesystem that fills up, so the
    `oncall api` process meets ENOSPC as it would on a full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(mount)],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = f"cannot mount a small tmpfs for the disk-full test: {result.stderr.strip()}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


def fill(disk: Path) -> Path:
    """Take every free byte of the filesystem; the file is removed to make room again."""
    filler = disk / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                break
        # the last few bytes a smaller write can still take
        for size in (4096, 512, 1):
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    return filler


def post(stack: Stack, key: str) -> httpx.Response:
    return httpx.post(f"{stack.api_url}/api/v1/integrations/hooks/alerts",
                      json={"summary": f"Alert {key}", "severity": "critical", "dedup_key": key},
                      headers={"Authorization": f"Bearer {HOOK_SECRET}"}, timeout=15)


def rows(database: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        return conn.execute(query).fetchall()


@pytest.mark.slow
def test_ingest_on_a_full_disk(small_disk: Path, make_stack: StackMaker) -> None:
    database = small_disk / "oncall.db"
    stack = make_stack(f"sqlite:///{database}")
    stack.start_api()
    assert post(stack, "before").status_code == 202

    filler = fill(small_disk)
    answers: dict[str, httpx.Response] = {}
    for n in range(MAX_POSTS):  # until the write-ahead log needs room it cannot get
        key = f"full-{n}"
        answers[key] = post(stack, key)
        if answers[key].status_code != 202:
            break
    refused = {k: r for k, r in answers.items() if r.status_code != 202}
    assert refused, f"{MAX_POSTS} alerts accepted on a full disk"
    for key, response in refused.items():
        assert response.status_code == 503, (key, response.status_code, response.text)
        assert response.headers.get("Retry-After"), key
    log = log_text(stack, "api.log")
    assert "the database's disk is full" in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]

    # nothing half-written: every alert with its incident, every incident with its first step
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]
    stored = {str(k) for (k,) in rows(database, "SELECT dedup_key FROM alerts")}
    accepted = {"before"} | {k for k, r in answers.items() if r.status_code == 202}
    assert stored == accepted, sorted(stored ^ accepted)
    assert rows(database, "SELECT a.id FROM alerts a LEFT JOIN incidents i "
                          "ON i.id = a.incident_id WHERE i.id IS NULL") == []
    assert rows(database, "SELECT i.id FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM "
                          "escalation_timers t WHERE t.incident_id = i.id)") == []

    # room again: the sender's retries land, each once
    filler.unlink()
    for key in refused:
        response = post(stack, key)
        assert response.status_code == 202, response.text
    assert post(stack, "after").status_code == 202
    counts = dict(rows(database, "SELECT dedup_key, count(*) FROM alerts GROUP BY 1"))
    assert set(counts) == accepted | set(refused) | {"after"}
    assert set(counts.values()) == {1}
    assert rows(database, "SELECT count(*) FROM incidents")[0][0] == len(counts)
    assert rows(database, "PRAGMA integrity_check") == [("ok",)]


def sqlite_error(setup: str, statement: str) -> BaseException:
    """The error SQLAlchemy raises when `statement` fails on a fresh in-memory database."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
            conn.exec_driver_sql(setup)
            conn.exec_driver_sql(statement)
    except Exception as exc:  # noqa: BLE001 - the error is the value under test
        return exc
    finally:
        engine.dispose()
    raise AssertionError(f"{statement!r} did not fail")


@pytest.mark.parametrize(("error", "full"), [
    (lambda: sqlite_error("PRAGMA max_page_count = 3",
                          "INSERT INTO t SELECT hex(randomblob(3000)) "
                          "FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                          "FROM n WHERE i < 50) SELECT i FROM n)"), True),
    (lambda: sqlite_error("SELECT 1", "INSERT INTO missing VALUES (1)"), False),
    (lambda: psycopg.errors.DiskFull("could not extend file: No space left on device"), True),
    (lambda: psycopg.OperationalError("connection refused"), False),
], ids=["sqlite-full", "sqlite-other", "postgres-disk-full", "postgres-down"])
def test_disk_full_is_told_apart(error: Callable[[], BaseException], full: bool) -> None:
    exc = error()
    assert disk_full(exc) is full
    assert database_unavailable(exc) or not full  # a full disk is always answered 503
