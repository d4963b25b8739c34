"""The HTTP API: one Starlette app, mounted into the Reflex app as `api_transformer` and also
served headless by `oncall api`.

Adding routes: write a module with `routes(ctx: ApiContext) -> list[BaseRoute]` (and optionally
`openapi_paths() -> dict` for the OpenAPI document), then add its dotted name to
`ROUTE_MODULES`. Handlers get everything they need (engine, applied config, clock, outbound
HTTP) from the `ApiContext`, so tests build the app with fakes and no globals.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import anyio.to_thread
import psycopg
import psycopg.errors
from psycopg_pool import PoolTimeout as AsyncPoolTimeout
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from oncall.api import access, problems
from oncall.config.configset import ConfigSet
from oncall.context import Context
from oncall.db.applied import CONFIG_RECHECK_SECONDS, ConfigCache
from oncall.db.engine import engine_options, make_engine
from oncall.db.migrate import require_current
from oncall.heap import freeze_long_lived
from oncall.ingest.pipeline import ServiceDirectory
from oncall.settings import Settings
from oncall.store import stores_for
from oncall.store.ingest import IngestStore

log = logging.getLogger(__name__)

ROUTE_MODULES: list[str] = [
    "oncall.api.ingest",
    "oncall.api.incidents",
    "oncall.api.openapi",
    "oncall.api.slack",
    "oncall.api.ack",
    "oncall.api.metrics",
    "oncall.api.twilio",
    "oncall.api.status",
    "oncall.api.status_subscribers",
    "oncall.api.status_partners",
    "oncall.api.reports",
    "oncall.api.postmortems",
    "oncall.api.changes",
    "oncall.api.heartbeats",
    "oncall.api.pagerduty",
    "oncall.api.opsgenie",
    "oncall.api.schedules",
    "oncall.api.directory",
    "oncall.api.users",
    "oncall.api.health",
    "oncall.api.delivery_health",
]
"""Modules whose `routes(ctx)` make up the API, matched in this order."""

MAX_BODY_BYTES = 1024 * 1024
RETRY_AFTER_SECONDS = 5
REQUEST_ID_HEADER = "x-request-id"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

Clock = Callable[[], datetime]
CertFetcher = Callable[[str], bytes]
UrlVisitor = Callable[[str], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ApiContext:
    """What every handler may use; built once per app."""

    settings: Settings
    engine: Engine
    clock: Clock = utc_now
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    fetch_cert: CertFetcher | None = None
    """Fetches an SNS signing certificate (PEM) by URL; None: over HTTPS with a short timeout."""
    visit_url: UrlVisitor | None = None
    """Confirms an SNS subscription by GET to its SubscribeURL; None: over HTTPS."""
    retry_after: int = RETRY_AFTER_SECONDS
    config_recheck: float = CONFIG_RECHECK_SECONDS
    route_modules: list[ModuleType] = field(default_factory=list)
    services: ServiceDirectory = field(default_factory=ServiceDirectory)
    core: Context | None = None
    """The process context (config cache, queue); None: one built on these settings and engine."""

    def __post_init__(self) -> None:
        if self.core is None:
            self.core = Context(self.settings, self.engine, clock=self.clock,
                                configs=ConfigCache(self.config_recheck))

    @property
    def public_url(self) -> str:
        """Where this installation is reached, for links in what it sends or serves: never a
        request's Host header, which a client chooses."""
        url = (self.environ.get("ONCALL_PUBLIC_URL") or "").strip()
        return (url or self.settings.providers.public_url).rstrip("/")

    @property
    def process(self) -> Context:
        assert self.core is not None
        return self.core

    @property
    def ingest(self) -> IngestStore:
        """Where deliveries are stored: the engine's database's own ingest store."""
        return stores_for(self.engine).ingest

    def wake(self) -> None:
        """After a committed state change: ask a worker to act now, never blocking the caller.
        Every change (ingest, acknowledge, resolve, a reply) wakes the worker this one way;
        if the queue is down the workers' sweepers find the rows within a second anyway."""
        self.process.wake()

    def fresh_config(self) -> ConfigSet | None:
        """The cached ConfigSet while it needs no recheck, without touching the database."""
        return self.process.configs.fresh()

    def config(self, session: Session) -> ConfigSet:
        """The applied ConfigSet, rechecked against the database at most every second."""
        return self.process.configs.get(session)


def database_unavailable(exc: BaseException) -> bool:
    """Errors that mean "try again later" rather than a bug: connection refused, pool empty."""
    if isinstance(exc, PoolTimeout | OperationalError | psycopg.OperationalError
                  | AsyncPoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


SQLITE_FULL = 13
"""SQLite's result code when a write needs room the disk (or max_page_count) does not have."""
DISK_FULL_LOG_INTERVAL = 10.0
"""A full disk is logged as an error at most this often per process, not once per request."""


@dataclass
class _DiskFullReports:
    last: float = float("-inf")
    """Monotonic time of the last error logged."""
    refused: int = 0
    """Requests refused since."""


_disk_full = _DiskFullReports()


def disk_full(exc: BaseException) -> bool:
    """The database cannot write for want of disk: SQLite's SQLITE_FULL, PostgreSQL's 53100."""
    cause = getattr(exc, "orig", None) or exc
    if isinstance(cause, psycopg.errors.DiskFull):
        return True
    return (isinstance(cause, sqlite3.OperationalError)
            and getattr(cause, "sqlite_errorcode", None) == SQLITE_FULL)


def log_unavailable(logger: logging.Logger, what: str, exc: BaseException) -> None:
    """Why a request was answered 503. A database restarting heals by itself (a warning); a
    full disk does not, so it is an error that says what to do, repeated every few seconds
    while it lasts rather than once per refused request."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    if not disk_full(exc):
        logger.warning("%s: database unavailable, answered 503: %s", what, reason)
        return
    now = time.monotonic()
    _disk_full.refused += 1
    if now - _disk_full.last < DISK_FULL_LOG_INTERVAL:
        return
    refused, _disk_full.last, _disk_full.refused = _disk_full.refused, now, 0
    logger.error("%s: the database's disk is full (%s): nothing is stored and every write is "
                 "answered 503 until there is room; %d request(s) refused since the last "
                 "report", what, reason, refused)


def request_id(request: Request) -> str:
    rid: str = request.scope.get("state", {}).get("request_id", "")
    return rid


# --- middleware -------------------------------------------------------------------------------


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for bodies over the limit, by Content-Length up front or while streaming."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    await self._refuse(scope, receive, send)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problems.problem(
            413, f"the request body is larger than {self.limit} bytes",
            instance=scope.get("path"),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


_ID_PREFIX = secrets.token_hex(10)
_ID_COUNTER = itertools.count(1)


def _fresh_id_prefix() -> None:
    global _ID_PREFIX
    _ID_PREFIX = secrets.token_hex(10)


os.register_at_fork(after_in_child=_fresh_id_prefix)  # a forked process counts apart


def _new_request_id() -> str:
    """32 hex digits, unique across processes (a random prefix per process, then a counter):
    a counter costs nothing per request where a UUID4 reads the system's random source."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFFFFFF:012x}"


class RequestId:
    """Every response carries `X-Request-Id` (the caller's, if sane, else a new one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = ""
        for name, value in scope.get("headers", []):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _SAFE_REQUEST_ID.match(candidate):
                    rid = candidate
                break
        rid = rid or _new_request_id()
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", rid.encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


# --- error handlers ---------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else "request refused"
    if exc.status_code == 404:
        detail = f"no such resource: {request.url.path}"
    return problems.problem(exc.status_code, detail, instance=request.url.path, headers=headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    ctx: ApiContext | None = getattr(request.app.state, "ctx", None)
    if database_unavailable(exc):
        log_unavailable(log, f"{request.method} {request.url.path}", exc)
        return problems.unavailable(ctx.retry_after if ctx else RETRY_AFTER_SECONDS,
                                    instance=request.url.path)
    return problems.problem(
        500, f"internal error (request id {request_id(request)})", instance=request.url.path
    )


# --- the factory ------------------------------------------------------------------------------


def load_route_modules(names: Sequence[str]) -> list[ModuleType]:
    return [importlib.import_module(name) for name in names]


def create_api(
    settings: Settings,
    engine: Engine | None = None,
    *,
    route_modules: Sequence[str] | None = None,
    check_schema: bool = True,
    threads: int | None = None,
    **context: Any,
) -> Starlette:
    """The API app. Refuses (DatabaseNotMigrated) to run against an unmigrated database, and
    (access.UnlistedRoute) to serve a route that oncall/api/access.py does not list.

    `threads` caps the worker threads running database work in this process (default: the
    40 of Starlette's thread pool). Fewer threads contend less for the GIL: on a 2-core
    machine, 2 threads per process gave the best throughput (docs/benchmarks.md).
    `context` sets ApiContext fields (clock, environ, fetch_cert, visit_url ...), for tests.
    """
    owns_engine = engine is None
    if engine is None:
        engine = make_engine(settings.database_url, **engine_options(settings.database_url))
    if check_schema:
        try:
            require_current(engine)
        except Exception:
            if owns_engine:
                engine.dispose()
            raise
    ctx = ApiContext(settings=settings, engine=engine, **context)
    modules = load_route_modules(ROUTE_MODULES if route_modules is None else route_modules)
    ctx.route_modules = modules
    routes = [route for module in modules for route in module.routes(ctx)]
    access.require_listed(routes, access.API, "the API")  # every route says who may call it

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if threads is not None:
            anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        try:
            async with serving(ctx):
                yield
        finally:
            if owns_engine:
                engine.dispose()

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RequestId)
    return app


@asynccontextmanager
async def serving(ctx: ApiContext) -> AsyncIterator[None]:
    """While the API serves: its config loaded and its connection pool open, closed after.
    The API's own lifespan runs it; the web app, which mounts the API (and so does not run
    the API's lifespan), registers it as a lifespan task of its own."""
    await _warm_up(ctx)
    freeze_long_lived()
    try:
        yield
    finally:
        await ctx.ingest.close()


async def _warm_up(ctx: ApiContext) -> None:
    """Load the applied config and open the database connections before the first request,
    so the first alert after a start or restart is not the one that waits for them. A
    database that is down now only delays this until the first request (answered 503)."""

    def load_config() -> None:
        with Session(ctx.engine) as session:
            ctx.config(session)

    try:
        await anyio.to_thread.run_sync(load_config)
        await ctx.ingest.open()
    except Exception as exc:  # noqa: BLE001 - the first request retries and reports it
        log.warning("warm-up: %s", exc)


THREADS_VARIABLE = "ONCALL_API_THREADS"


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory oncall.api.app:app_from_env` (and `oncall api --workers`)."""
    raw = os.environ.get(THREADS_VARIABLE, "").strip()
    threads = int(raw) if raw.isdigit() and int(raw) > 0 else None
    return create_api(Settings.from_env(os.environ), threads=threads)
