"""`GET /healthz` and `GET /readyz`: what a load balancer, systemd and an orchestrator poll.

`/healthz` says the process is up and its event loop answers; it touches nothing else, so a
database outage never gets every process restarted at once. `/readyz` says this process can do
its work: the database answers, its schema is the one this code expects, and a config has been
applied (without one no integration exists and every alert would be refused). A load balancer
takes a process out of rotation while it answers 503.

Both serve the API and the web app (which mounts the API), and both are public: they say which
check failed, never why in detail. Load balancers poll often, so a process answers `/readyz`
from the result it computed within the last `CACHE_SECONDS`; concurrent polls share one check.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy import Engine, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.api.openapi import json_body, problem
from oncall.api.routing import Operation, bind
from oncall.db.engine import read_connection
from oncall.db.migrate import current_revisions, head_revisions
from oncall.db.models import ReconcileRunRow

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
CACHE_SECONDS = 1.0
RETRY_AFTER_SECONDS = 5

OK = "ok"
DATABASE, MIGRATIONS, CONFIG = "database", "migrations", "config"

_APPLIED = select(ReconcileRunRow.id).where(ReconcileRunRow.result == "applied").limit(1)


@dataclass(frozen=True)
class Readiness:
    """One check's outcome: each part "ok" or what is wrong with it."""

    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value == OK for value in self.checks.values())

    def detail(self) -> str:
        failing = [f"{name}: {value}" for name, value in self.checks.items() if value != OK]
        return "not ready: " + "; ".join(failing)


def check(engine: Engine, heads: set[str]) -> Readiness:
    """Reach the database, compare its schema with `heads`, look for an applied config. A
    part that cannot be checked because an earlier one failed says so."""
    try:
        current = current_revisions(engine)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not ready"
        log.warning("readiness: the database is unreachable: %s", exc.__class__.__name__)
        return Readiness({DATABASE: "unreachable", MIGRATIONS: "unknown", CONFIG: "unknown"})
    if current != heads:
        return Readiness({DATABASE: OK, MIGRATIONS: "not current: run `oncall db upgrade`",
                          CONFIG: "unknown"})
    try:
        with read_connection(engine) as conn:
            applied = conn.execute(_APPLIED).first() is not None
    except Exception as exc:  # noqa: BLE001
        log.warning("readiness: reading the applied config failed: %s", exc.__class__.__name__)
        return Readiness({DATABASE: "unreachable", MIGRATIONS: OK, CONFIG: "unknown"})
    return Readiness({DATABASE: OK, MIGRATIONS: OK,
                      CONFIG: OK if applied else "none applied: run `oncall apply`"})


class Probe:
    """The process's readiness, checked at most every `seconds` by one thread at a time."""

    def __init__(self, engine: Engine, seconds: float = CACHE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.seconds = seconds
        self._monotonic = monotonic
        self._heads = head_revisions()  # the code's own: fixed for the life of the process
        self._lock = threading.Lock()
        self._last: Readiness | None = None
        self._at = 0.0

    def readiness(self) -> Readiness:
        """The cached answer while it is fresh; else a new check (waiting for one running)."""
        with self._lock:
            if self._last is None or self._monotonic() - self._at >= self.seconds:
                self._last = check(self.engine, self._heads)
                self._at = self._monotonic()
            return self._last


_HEALTH: Operation = {
    "operationId": "getHealth",
    "summary": "Liveness: the process is up (nothing else is checked)",
    "tags": ["meta"],
    "security": [],
    "responses": {
        "200": json_body({"type": "object", "required": ["status"],
                          "properties": {"status": {"const": "ok"}}}, "The process is up"),
    },
}

_CHECKS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {name: {"type": "string"} for name in (DATABASE, MIGRATIONS, CONFIG)},
}

_READY: Operation = {
    "operationId": "getReadiness",
    "summary": "Readiness: database reachable, schema current, a config applied",
    "tags": ["meta"],
    "security": [],
    "responses": {
        "200": json_body({"type": "object", "required": ["status", "checks"],
                          "properties": {"status": {"const": "ready"},
                                         "checks": _CHECKS_SCHEMA}},
                         "Ready to serve; every check is \"ok\""),
        "503": problem("Not ready: `detail` and `checks` name what is not",
                       {"Retry-After": {"description": "Seconds to wait before asking again",
                                        "schema": {"type": "string"}}}),
    },
}


def openapi_paths() -> dict[str, Any]:
    return {HEALTH_PATH: {"get": _HEALTH}, READY_PATH: {"get": _READY}}


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


async def readyz(probe: Probe, _request: Request) -> Response:
    found = await anyio.to_thread.run_sync(probe.readiness)
    if found.ready:
        return JSONResponse({"status": "ready", "checks": found.checks},
                            headers={"Cache-Control": "no-store"})
    return problems.problem(
        503, found.detail(), instance=READY_PATH, extra={"checks": found.checks},
        headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"},
    )


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [
        Route(HEALTH_PATH, healthz, methods=["GET"], name="healthz"),
        Route(READY_PATH, bind(readyz, Probe(ctx.engine)), methods=["GET"], name="readyz"),
    ]
