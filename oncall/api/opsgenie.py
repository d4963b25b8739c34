"""Opsgenie's Alert API, wire-compatible for the calls monitors make.

`POST /v2/alerts` creates an alert (a create with the alias of an open alert is a repeat of
it); `POST /v2/alerts/{identifier}/acknowledge` and `.../close` act on it, the identifier
read as `identifierType` says (`id`, Opsgenie's default, or `alias`). Every call carries
`Authorization: GenieKey <key>`, the `secret` of an Integration of `type: opsgenie`; a wrong or
missing key is 401 and stores nothing.

An alert's `id` is our alert's id (a decimal string), answered beside Opsgenie's fields as
`data.alertId` (with `data.alias`), so a client that closes by id has one to close by. An
`id` that names no alert of this integration is 404; an alias with no open alert is 202 and
changes nothing, as Opsgenie processes these requests later and drops them.

Answers are Opsgenie's: `202 {"result": "Request will be processed", "took": …,
"requestId": …}`; errors `{"message": …, "took": …, "requestId": …}` (422 with an `errors`
map of field → reason for a body it cannot process).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import throttle
from oncall.api.app import ApiContext, database_unavailable, request_id
from oncall.api.openapi import json_body
from oncall.api.pagerduty import KeyedIntegrations, applied_config, key_of, matching
from oncall.api.routing import Operation
from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.core.alerts import Alert
from oncall.db.models import AlertRow
from oncall.ingest import limits
from oncall.ingest.normalizers import PayloadError, normalize
from oncall.ingest.normalizers.opsgenie import acted, with_alias

log = logging.getLogger(__name__)

ALERTS = "/v2/alerts"
ACKNOWLEDGE = "/v2/alerts/{identifier}/acknowledge"
CLOSE = "/v2/alerts/{identifier}/close"
SCHEME = "geniekey"
UNPROCESSABLE = "Request body is not processable. Please check the errors."


THROTTLED = "You are making too many requests! To avoid errors, we recommend you limit requests."


class _Call:
    """One request's id and clock, for Opsgenie's `requestId` (the id the API gives every
    request, also its X-Request-ID) and `took`."""

    def __init__(self, request: Request) -> None:
        self.request_id = request_id(request) or str(uuid.uuid4())
        self._started = time.perf_counter()

    def answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
               ) -> JSONResponse:
        took = round(time.perf_counter() - self._started, 3)
        return JSONResponse({**body, "took": took, "requestId": self.request_id},
                            status_code=status, headers=headers)

    def error(self, status: int, message: str, errors: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"message": message}
        if errors:
            body["errors"] = errors
        return self.answer(status, body, headers)

    def accepted(self, data: dict[str, str] | None = None) -> JSONResponse:
        body: dict[str, Any] = {"result": "Request will be processed"}
        if data:
            body["data"] = data
        return self.answer(202, body)

    def unavailable(self, ctx: ApiContext) -> JSONResponse:
        return self.error(503, "Service unavailable, try again later",
                          headers={"Retry-After": str(ctx.retry_after)})

    def unauthorized(self) -> JSONResponse:
        return self.error(401, "Could not authenticate")


def genie_key(request: Request) -> str | None:
    """The key of `Authorization: GenieKey <key>`, None without one."""
    scheme, _, key = (request.headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() != SCHEME or not key.strip():
        return None
    return key.strip()


def _body(call: _Call, raw: bytes, required: bool) -> dict[str, Any] | JSONResponse:
    if not raw.strip() and not required:
        return {}
    try:
        data: Any = limits.loads(raw)
    except (limits.TooDeep, UnicodeDecodeError, json.JSONDecodeError):
        return call.error(400, "Could not parse the request body as JSON")
    if not isinstance(data, dict):
        return call.error(422, UNPROCESSABLE, {"body": "must be a JSON object"})
    return data


async def _integration(ctx: ApiContext, call: _Call, keys: KeyedIntegrations,
                       request: Request) -> tuple[ConfigSet, Integration] | JSONResponse:
    key = genie_key(request)
    if key is None:
        return call.unauthorized()
    try:
        config = await applied_config(ctx)
    except Exception as exc:
        if database_unavailable(exc):
            return call.unavailable(ctx)
        raise
    integration = keys.find(config, ctx.environ, key)
    if integration is None:
        log.info("opsgenie: refused a request with an unknown GenieKey")
        return call.unauthorized()
    return config, integration


async def _accept(ctx: ApiContext, call: _Call, config: ConfigSet, integration: Integration,
                  alert: Alert, now: datetime) -> list[int] | JSONResponse:
    admitted = await throttle.admit_alert(ctx, config, integration)
    if not admitted.allowed:  # Opsgenie's own answer, which its clients back off from
        return call.error(429, THROTTLED,
                          headers={"Retry-After": throttle.retry_after(admitted)})
    try:
        result = await ctx.ingest.accept(config, integration, [alert], now, ctx.services, None)
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("opsgenie %s: database unavailable: %s", integration.name, exc)
            return call.unavailable(ctx)
        raise
    if result.incident_ids:
        ctx.wake()
    return result.alert_ids


async def _create(ctx: ApiContext, call: _Call, config: ConfigSet, integration: Integration,
                  raw: bytes, now: datetime) -> Response:
    body = _body(call, raw, required=True)
    if isinstance(body, Response):
        return body
    body, alias = with_alias(body, uuid.uuid4().hex)
    try:
        alerts = normalize("opsgenie", body, now)
    except PayloadError as exc:
        return call.error(422, UNPROCESSABLE, {field or "body": reason
                                               for field, reason in exc.problems})
    except ValueError as exc:
        return call.error(422, UNPROCESSABLE, {"body": str(exc)})
    stored = await _accept(ctx, call, config, integration,
                           alerts[0].for_integration(integration.name), now)
    if isinstance(stored, Response):
        return stored
    data = {"alias": alias}
    if stored:
        data["alertId"] = str(stored[0])
    return call.accepted(data)


async def create(ctx: ApiContext, keys: KeyedIntegrations, request: Request) -> Response:
    call = _Call(request)
    raw = await request.body()
    now = ctx.clock()
    found = await _integration(ctx, call, keys, request)
    if isinstance(found, Response):
        return found
    return await _create(ctx, call, *found, raw, now)


async def receive_at_integration(ctx: ApiContext, integration: Integration, config: ConfigSet,
                                 request: Request, raw: bytes, now: datetime) -> Response:
    """A create-alert request posted to the integration's own URL: its GenieKey must be this
    integration's secret."""
    call = _Call(request)
    key = genie_key(request)
    secret = key_of(ctx, integration)
    if key is None or secret is None or matching(key, [(secret, integration)]) is None:
        return call.unauthorized()
    return await _create(ctx, call, config, integration, raw, now)


def _alias_of(ctx: ApiContext, integration: Integration, identifier: str) -> str | None:
    if not identifier.isascii() or not identifier.isdigit() or len(identifier) > 18:
        return None
    with Session(ctx.engine) as session:
        return session.scalar(select(AlertRow.dedup_key).where(
            AlertRow.id == int(identifier), AlertRow.integration_name == integration.name))


async def act(ctx: ApiContext, keys: KeyedIntegrations, action: Literal["acknowledge", "close"],
              request: Request) -> Response:
    call = _Call(request)
    raw = await request.body()
    now = ctx.clock()
    found = await _integration(ctx, call, keys, request)
    if isinstance(found, Response):
        return found
    config, integration = found
    identifier = request.path_params["identifier"]
    kind = request.query_params.get("identifierType", "id")
    if kind not in ("id", "alias"):
        return call.error(422, f"Invalid identifierType [{kind}]: expected id or alias")
    body = _body(call, raw, required=False)
    if isinstance(body, Response):
        return body
    alias = identifier
    if kind == "id":
        try:
            known = await run_in_threadpool(_alias_of, ctx, integration, identifier)
        except Exception as exc:
            if database_unavailable(exc):
                return call.unavailable(ctx)
            raise
        if known is None:
            return call.error(404, f"Alert with id [{identifier}] does not exist")
        alias = known
    try:
        alert = acted(alias, action, body, now).for_integration(integration.name)
    except ValueError as exc:
        return call.error(422, UNPROCESSABLE, {"body": str(exc)})
    stored = await _accept(ctx, call, config, integration, alert, now)
    if isinstance(stored, Response):
        return stored
    return call.accepted()


# --- routes and their document -------------------------------------------------------------------

_ANSWER = {"type": "object", "required": ["took", "requestId"],
           "properties": {"result": {"type": "string"}, "message": {"type": "string"},
                          "took": {"type": "number"}, "requestId": {"type": "string"},
                          "data": {"type": "object"}, "errors": {"type": "object"}}}
_ERRORS = {
    "400": json_body(_ANSWER, "The body is not JSON"),
    "401": json_body(_ANSWER, "Missing or unknown GenieKey; nothing was stored"),
    "413": json_body({"type": "object"}, "The body is larger than 1 MB"),
    "422": json_body(_ANSWER, "The body is not processable; `errors` names the fields"),
    "503": json_body(_ANSWER, "The database is unavailable; nothing was stored. Retry"),
}
_IDENTIFIER = [
    {"name": "identifier", "in": "path", "required": True, "schema": {"type": "string"},
     "description": "The alert's id (data.alertId of the create answer) or alias"},
    {"name": "identifierType", "in": "query", "required": False,
     "schema": {"enum": ["id", "alias"], "default": "id"}},
]
_ACTION_BODY = {"required": False, "content": {"application/json": {"schema": {
    "type": "object", "properties": {"user": {"type": "string"}, "source": {"type": "string"},
                                     "note": {"type": "string"}}}}}}


def _action(verb: str) -> Operation:
    return {
        "operationId": f"opsgenie{verb.capitalize()}",
        "summary": f"Opsgenie Alert API: {verb} an alert by id or alias",
        "tags": ["ingest"],
        "security": [],
        "parameters": _IDENTIFIER,
        "requestBody": _ACTION_BODY,
        "responses": {"202": json_body(_ANSWER, "Request will be processed"), **_ERRORS,
                      "404": json_body(_ANSWER, "No alert of this integration has that id")},
    }


CREATE_OPERATION: Operation = {
    "operationId": "opsgenieCreateAlert",
    "summary": "Opsgenie Alert API: create an alert",
    "description": "Opsgenie's own request and answer (see docs/integrations.md); "
                   "`Authorization: GenieKey <key>`, the secret of an Integration of type "
                   "opsgenie.",
    "tags": ["ingest"],
    "security": [],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["message"],
        "properties": {
            "message": {"type": "string"},
            "alias": {"type": "string", "maxLength": 512},
            "description": {"type": "string"},
            "priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]},
            "tags": {"type": "array", "items": {"type": "string"}},
            "details": {"type": "object"},
            "entity": {"type": "string"},
            "source": {"type": "string"},
            "user": {"type": "string"},
            "note": {"type": "string"},
            "actions": {"type": "array"},
            "responders": {"type": "array"},
        },
    }}}},
    "responses": {"202": json_body(_ANSWER, "Request will be processed; data.alertId and "
                                            "data.alias"), **_ERRORS},
}


def openapi_paths() -> dict[str, Any]:
    return {ALERTS: {"post": CREATE_OPERATION},
            ACKNOWLEDGE: {"post": _action("acknowledge")},
            CLOSE: {"post": _action("close")}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    keys = KeyedIntegrations("opsgenie")

    async def post_alert(request: Request) -> Response:
        return await create(ctx, keys, request)

    async def post_acknowledge(request: Request) -> Response:
        return await act(ctx, keys, "acknowledge", request)

    async def post_close(request: Request) -> Response:
        return await act(ctx, keys, "close", request)

    return [Route(ALERTS, post_alert, methods=["POST"], name="opsgenie-create"),
            Route(ACKNOWLEDGE, post_acknowledge, methods=["POST"], name="opsgenie-acknowledge"),
            Route(CLOSE, post_close, methods=["POST"], name="opsgenie-close")]
