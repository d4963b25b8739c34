"""`GET /api/v1/delivery-health`: the delivery health figures of the web app's page, per window.

Every valid API key may read them: channel and provider names and counts, nothing about an
incident or a person. Computed in the thread pool (`oncall.observability.delivery` reads,
`oncall.core.delivery_health` computes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api.app import ApiContext
from oncall.api.openapi import UNAVAILABLE, json_body, problem
from oncall.api.rest import authenticate, run
from oncall.api.routing import Operation, bind
from oncall.core.delivery_health import Health, Window
from oncall.observability import delivery

PATH = "/api/v1/delivery-health"


def _row(r: Health) -> dict[str, Any]:
    return {"channel": r.channel or None, "provider": r.provider, "attempts": r.attempts,
            "sent": r.sent, "failed": r.failed, "timeouts": r.timeouts,
            "success_rate": r.success_rate, "p50_seconds": r.p50_seconds,
            "p95_seconds": r.p95_seconds, "retries": r.retries, "circuit": r.circuit}


def _window(w: Window) -> dict[str, Any]:
    return {"since": w.since.isoformat(), "until": w.until.isoformat(),
            "attempts": w.attempts, "success_rate": w.success_rate, "retries": w.retries,
            "open_circuits": list(w.open_circuits), "rows": [_row(r) for r in w.rows]}


async def show(ctx: ApiContext, request: Request) -> Response:
    now = ctx.clock()

    def work() -> Response:
        with Session(ctx.engine) as session, session.begin():
            authenticate(session, request, now)
            report = delivery.read(session, now)
        return JSONResponse({"windows": {name: _window(w) for name, w in report.windows.items()},
                             "truncated": report.truncated})

    return await run(ctx, request, work)


_NUMBER_OR_NULL = {"type": ["number", "null"]}
_ROW = {
    "type": "object",
    "required": ["channel", "provider", "attempts", "sent", "failed", "success_rate",
                 "p50_seconds", "p95_seconds", "retries", "circuit"],
    "properties": {
        "channel": {"type": ["string", "null"],
                    "description": "null for a provider with an open circuit and no call"},
        "provider": {"type": "string"},
        "attempts": {"type": "integer", "description": "Provider calls started in the window"},
        "sent": {"type": "integer"},
        "failed": {"type": "integer"},
        "timeouts": {"type": "integer"},
        "success_rate": {**_NUMBER_OR_NULL, "description": "sent / attempts, 0 to 1"},
        "p50_seconds": _NUMBER_OR_NULL,
        "p95_seconds": _NUMBER_OR_NULL,
        "retries": {"type": "integer", "description": "Calls after their notification's "
                                                      "first: retries and failovers"},
        "circuit": {"enum": ["closed", "open", "half_open"]},
    },
}
_WINDOW = {
    "type": "object",
    "required": ["since", "until", "attempts", "success_rate", "retries", "open_circuits",
                 "rows"],
    "properties": {
        "since": {"type": "string", "format": "date-time"},
        "until": {"type": "string", "format": "date-time"},
        "attempts": {"type": "integer"},
        "success_rate": _NUMBER_OR_NULL,
        "retries": {"type": "integer"},
        "open_circuits": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": _ROW},
    },
}

SHOW: Operation = {
    "operationId": "getDeliveryHealth",
    "summary": "Delivery health per channel and provider",
    "description": (
        "For the last hour (`1h`) and the last 24 hours (`24h`): per channel and provider, the "
        "provider calls started, how many got the notice out, the median and 95th-percentile "
        "call duration, the calls after a notification's first (retries and failovers), and "
        "the circuit breaker's state; a provider whose circuit is open is listed even without "
        "a call. `truncated`: more calls were made than are read (50 000): the figures are of "
        "the latest ones."),
    "tags": ["reports"],
    "responses": {
        "200": json_body({"type": "object", "required": ["windows", "truncated"],
                          "properties": {
                              "windows": {"type": "object", "required": ["1h", "24h"],
                                          "properties": {"1h": _WINDOW, "24h": _WINDOW}},
                              "truncated": {"type": "boolean"}}},
                         "The figures of each window"),
        "401": problem("Missing or invalid API key"),
        "503": UNAVAILABLE,
    },
}


def openapi_paths() -> dict[str, Any]:
    return {PATH: {"get": SHOW}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [Route(PATH, bind(show, ctx), methods=["GET"], name="delivery-health")]
