"""Engines and sessions for SQLite (the embedded default) and PostgreSQL (psycopg 3).

SQLite is shared by several processes (app, worker, reconciler), so every connection turns on
WAL (readers never block the writer), foreign keys and a busy timeout. pysqlite's own implicit
transaction handling is switched off so that SQLAlchemy emits BEGIN itself; a connection with the
execution option `sqlite_begin_immediate=True` starts with BEGIN IMMEDIATE, which takes the write
lock up front instead of failing with "database is locked" when a reader later upgrades.
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from oncall.settings import normalize_database_url

SQLITE_BUSY_TIMEOUT_MS = 30_000
BEGIN_IMMEDIATE = "sqlite_begin_immediate"


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_database_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(BEGIN_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def is_postgresql(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session in one write transaction, committed on success and rolled back on error.

    On SQLite it begins with BEGIN IMMEDIATE: a deferred transaction that reads and then writes
    fails at once with "database is locked" when another writer got there first, while an
    immediate one waits its turn on the busy timeout. PostgreSQL needs nothing special.
    """
    with write_connection(engine) as conn, Session(bind=conn, expire_on_commit=False) as session:
        yield session
        session.flush()


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only, which ends without a ROLLBACK.

    psycopg forgets every prepared statement of a connection (and its counts towards
    preparing one) on each ROLLBACK, and SQLAlchemy ends every block that did not commit with
    one. Pooled connections that also served read-only blocks never prepared their hot
    statements, and PostgreSQL planned each one again every time: at 100 pages a second that
    was 46% of its time. On PostgreSQL these reads run in autocommit, which changes nothing
    for them: under READ COMMITTED each statement reads its own snapshot either way."""
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            yield conn
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        yield conn


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """`read_connection` for ORM reads."""
    with read_connection(engine) as conn, Session(bind=conn, expire_on_commit=False) as session:
        yield session


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """`write_session` for Core statements only: a connection in one write transaction."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    # SQLite has one writer at a time. Threads of one process queue on a lock instead of on
    # SQLite's busy handler, which polls with sleeps of up to 100 ms and collapses under load;
    # other processes still wait on the busy timeout.
    with _writer_lock(engine), engine.connect() as conn:
        conn = conn.execution_options(**{BEGIN_IMMEDIATE: True})
        with conn.begin():
            yield conn


class _WriterLock:
    """One SQLite writer at a time, first among this process's threads, then across processes.

    Threads queue on an RLock; processes (the app, its workers, the CLI) on an exclusive
    `flock` of a file beside the database, which the kernel hands to the next waiter as soon
    as it is released. Without it, writers of different processes met in SQLite's busy
    handler, which sleeps up to 100 ms between tries: under load a worker's transactions
    waited behind the API's for tens of seconds. SQLite's own locking stays the guarantee;
    this only orders the waiting. An in-memory database has no file and needs no lock."""

    def __init__(self, path: str | None) -> None:
        self._threads = threading.RLock()
        self._path = path
        self._fd: int | None = None
        self._pid = 0
        self._depth = 0

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            if self._depth == 0 and self._path is not None:
                if self._fd is None or self._pid != os.getpid():
                    # a forked child opens its own: a flock is shared by a file's openers
                    self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                    self._pid = os.getpid()
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_: object) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def __del__(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)


_writer_locks: weakref.WeakKeyDictionary[Engine, _WriterLock] = weakref.WeakKeyDictionary()
_writer_locks_guard = threading.Lock()


def _lock_path(engine: Engine) -> str | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}.writer-lock"


def _writer_lock(engine: Engine) -> _WriterLock:
    with _writer_locks_guard:
        lock = _writer_locks.get(engine)
        if lock is None:
            lock = _writer_locks[engine] = _WriterLock(_lock_path(engine))
        return lock


@contextmanager
def exclusive_connection(engine: Engine, key: int) -> Iterator[Connection]:
    """A connection in a write transaction that no other holder of lock `key` runs alongside.

    PostgreSQL takes transaction-scoped advisory lock `key`; SQLite's BEGIN IMMEDIATE already
    admits one writer at a time. Commits on success.
    """
    with engine.connect() as conn:
        if is_sqlite(conn):
            conn = conn.execution_options(**{BEGIN_IMMEDIATE: True})
        with conn.begin():
            if is_postgresql(conn):
                conn.execute(select(func.pg_advisory_xact_lock(key)))
            yield conn


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for PostgreSQL and in-memory SQLite."""
    parsed = make_url(normalize_database_url(url))
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def engine_options(url: str) -> dict[str, Any]:
    """Pool sizes for a server process (API, web app, worker): enough for its threads.

    No pre-ping: it costs a round trip per session. A connection found dead fails that one
    request or row (answered 503, or left due for the sweeper) and SQLAlchemy then replaces
    the whole pool. SQLite keeps SQLAlchemy's defaults."""
    if make_url(normalize_database_url(url)).get_backend_name() == "sqlite":
        return {}
    return {"pool_size": 20, "max_overflow": 20, "pool_timeout": 5, "pool_pre_ping": False}
