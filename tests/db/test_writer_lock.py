"""SQLite writers of different processes take turns on the writer lock beside the database,
instead of meeting in SQLite's busy handler."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, text

from oncall.db.engine import _writer_lock, make_engine, write_session


def _hold(url: str, started: multiprocessing.synchronize.Event, seconds: float) -> None:
    engine = make_engine(url)
    with write_session(engine) as session:
        session.execute(text("INSERT INTO log (who, at) VALUES ('holder', :at)"),
                        {"at": time.time()})
        started.set()
        time.sleep(seconds)


def _hold_lock_only(url: str, started: multiprocessing.synchronize.Event,
                    seconds: float) -> None:
    with _writer_lock(make_engine(url)):  # no SQLite transaction: only the lock file is held
        started.set()
        time.sleep(seconds)


def _write_behind(tmp_path: Path, hold: Callable[..., None],
                  seconds: float) -> tuple[Engine, float]:
    """Another process runs `hold` for `seconds`; then this one writes. Returns the engine and
    how long the write waited to begin."""
    url = f"sqlite:///{tmp_path / 'oncall.db'}"
    engine = make_engine(url)
    with write_session(engine) as session:
        session.execute(text("CREATE TABLE log (who TEXT, at REAL)"))
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    holder = ctx.Process(target=hold, args=(url, started, seconds))
    holder.start()
    assert started.wait(30)
    waited = time.monotonic()
    with write_session(engine) as session:
        waited = time.monotonic() - waited
        session.execute(text("INSERT INTO log (who, at) VALUES ('waiter', :at)"),
                        {"at": time.time()})
    holder.join(10)
    assert holder.exitcode == 0
    return engine, waited


def test_a_writer_waits_for_another_process_then_writes(tmp_path: Path) -> None:
    engine, waited = _write_behind(tmp_path, _hold, 0.5)
    assert waited >= 0.3  # it queued behind the other process's transaction
    with engine.connect() as conn:
        assert [w for (w,) in conn.execute(text("SELECT who FROM log ORDER BY at"))] == [
            "holder", "waiter"]
    assert (tmp_path / "oncall.db.writer-lock").exists()


def test_the_lock_file_alone_makes_another_process_wait(tmp_path: Path) -> None:
    """SQLite's own locking is not what makes the writer wait here: the other process holds
    the lock file and nothing in the database."""
    _, waited = _write_behind(tmp_path, _hold_lock_only, 0.6)
    assert waited >= 0.4


def test_an_in_memory_database_needs_no_lock_file(tmp_path: Path) -> None:
    engine = make_engine("sqlite://")
    with write_session(engine) as session:
        assert session.execute(text("SELECT 1")).scalar() == 1
