"""Heartbeat pings: `GET|POST /api/v1/heartbeats/{name}/ping`, and Opsgenie's
`GET|POST|PUT|PATCH /v2/heartbeats/{name}/ping` for clients written against Opsgenie.

The heartbeat's secret (`${env:…}` in its config) is presented as `Authorization: Bearer
<secret>` or, as Opsgenie clients send it, `Authorization: GenieKey <secret>`. Order of
checks: unknown heartbeat 404; credentials 401 (nothing stored); then the ping is stored (and
a missed-ping incident resolved) in one transaction before the 202. Our own path answers in
RFC 7807 problems; the Opsgenie path answers in Opsgenie's shape (`result` or `message`,
`took` in seconds, `requestId`).
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext, database_unavailable, request_id
from oncall.api.openapi import UNAVAILABLE, json_body, problem
from oncall.api.routing import Operation, bind
from oncall.config.configset import ConfigSet
from oncall.config.models import Heartbeat
from oncall.config.types import MissingSecret, resolve_env
from oncall.ingest import heartbeats

log = logging.getLogger(__name__)

PATH = "/api/v1/heartbeats/{name}/ping"
OPSGENIE_PATH = "/v2/heartbeats/{name}/ping"
SCHEMES = ("bearer", "geniekey")
PONG = "PONG - Heartbeat received"


def _config(ctx: ApiContext) -> ConfigSet:
    with Session(ctx.engine) as session:
        return ctx.config(session)


def authorized(authorization: str | None, secret: str) -> bool:
    """`Bearer <secret>` or `GenieKey <secret>`, compared in constant time."""
    if not secret or not authorization:
        return False
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() not in SCHEMES or not token.strip():
        return False
    return hmac.compare_digest(token.strip().encode("utf-8"), secret.encode("utf-8"))


class Refused(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


async def _ping(ctx: ApiContext, request: Request) -> tuple[Heartbeat, heartbeats.Pinged]:
    """Find, authenticate and store the ping; Refused with the status to answer."""
    name = request.path_params["name"]
    try:
        config = ctx.fresh_config()
        if config is None:
            config = await run_in_threadpool(_config, ctx)
    except Exception as exc:
        if database_unavailable(exc):
            raise Refused(503, "the database is unavailable; ping again",
                          {"Retry-After": str(ctx.retry_after)}) from exc
        raise
    beat = config.heartbeats.get(name)
    if beat is None:
        raise Refused(404, f"no heartbeat named {name!r} is applied")
    try:
        secret = resolve_env(beat.secret, ctx.environ)
    except MissingSecret as exc:
        log.error("heartbeat %s: %s", name, exc)
        secret = ""
    if not authorized(request.headers.get("authorization"), secret):
        log.info("heartbeat %s: ping refused: missing or wrong credentials", name)
        raise Refused(401, "missing or invalid credentials for this heartbeat",
                      {"WWW-Authenticate": 'Bearer realm="oncall"'})
    now = ctx.clock()
    try:
        pinged = await run_in_threadpool(heartbeats.ping, ctx.engine, config, beat, now)
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("heartbeat %s: database unavailable: %s", name, exc)
            raise Refused(503, "the database is unavailable; nothing was stored",
                          {"Retry-After": str(ctx.retry_after)}) from exc
        raise
    if pinged.incident_ids:
        ctx.wake()
    return beat, pinged


async def ping(ctx: ApiContext, request: Request) -> Response:
    path = request.url.path
    try:
        beat, pinged = await _ping(ctx, request)
    except Refused as refused:
        if refused.status == 503:
            return problems.unavailable(ctx.retry_after, instance=path)
        return problems.problem(refused.status, refused.detail, instance=path,
                                headers=refused.headers)
    return JSONResponse({"heartbeat": beat.name, "status": "pong",
                         "recovered": pinged.recovered, "incidents": pinged.incident_ids},
                        status_code=202)


async def opsgenie_ping(ctx: ApiContext, request: Request) -> Response:
    """Opsgenie's answer, for its clients: `result`, or `message` on an error."""
    started = time.monotonic()
    try:
        await _ping(ctx, request)
    except Refused as refused:
        return JSONResponse({"message": refused.detail, "took": _took(started),
                             "requestId": request_id(request)},
                            status_code=refused.status, headers=refused.headers)
    return JSONResponse({"result": PONG, "took": _took(started),
                         "requestId": request_id(request)}, status_code=202)


def _took(started: float) -> float:
    return round(time.monotonic() - started, 3)


_NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "The Heartbeat's name in the config",
    "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,63}$"},
    "examples": {"backup": {"value": "payments-db-nightly-backup"}},
}
_SECURITY: list[dict[str, list[str]]] = [{"integrationBearer": []}]

def _ping_operation(method: str) -> Operation:
    return {
    "operationId": f"pingHeartbeat{method.capitalize()}",
        "summary": "Ping a heartbeat (a dead man's switch)",
        "description": "Records a ping now; a ping after a missed one resolves its incident. "
                       "Authorization: Bearer (or GenieKey) with the heartbeat's secret.",
        "tags": ["ingest"],
        "security": _SECURITY,
        "parameters": [_NAME],
        "responses": {
            "202": json_body({
                "type": "object",
                "required": ["heartbeat", "status", "recovered", "incidents"],
                "properties": {
                    "heartbeat": {"type": "string"},
                    "status": {"const": "pong"},
                    "recovered": {"type": "boolean"},
                    "incidents": {"type": "array", "items": {"type": "integer"}},
                },
            }, "Stored; `recovered` when it ended a missed-ping incident"),
            "401": problem("Missing or wrong credentials; nothing was stored"),
            "404": problem("No heartbeat of that name is applied"),
            "503": UNAVAILABLE,
        },
    }


def _opsgenie(description: str, key: str) -> dict[str, Any]:
    return json_body({
        "type": "object",
        "required": [key, "took", "requestId"],
        "properties": {key: {"type": "string"}, "took": {"type": "number"},
                       "requestId": {"type": "string"}},
    }, description)


def _opsgenie_ping(method: str) -> Operation:
    return {
        "operationId": f"opsgeniePingHeartbeat{method.capitalize()}",
        "summary": "Ping a heartbeat, Opsgenie-compatible (Heartbeat API v2)",
        "description": "As Opsgenie's ping: Authorization: GenieKey (or Bearer) with the "
                       "heartbeat's secret; answered in Opsgenie's shape.",
        "tags": ["ingest"],
        "security": _SECURITY,
        "parameters": [_NAME],
        "responses": {
            "202": _opsgenie("PONG - Heartbeat received", "result"),
            "401": _opsgenie("Missing or wrong credentials; nothing was stored", "message"),
            "404": _opsgenie("No heartbeat of that name is applied", "message"),
            "503": _opsgenie("The database is unavailable; nothing was stored", "message"),
        },
    }


OPSGENIE_METHODS = ("GET", "POST", "PUT", "PATCH")


def openapi_paths() -> dict[str, Any]:
    return {
        PATH: {"get": _ping_operation("GET"), "post": _ping_operation("POST")},
        OPSGENIE_PATH: {m.lower(): _opsgenie_ping(m) for m in OPSGENIE_METHODS},
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [
        Route(PATH, bind(ping, ctx), methods=["GET", "POST"], name="heartbeat-ping"),
        Route(OPSGENIE_PATH, bind(opsgenie_ping, ctx), methods=list(OPSGENIE_METHODS),
              name="heartbeat-ping-opsgenie"),
    ]
