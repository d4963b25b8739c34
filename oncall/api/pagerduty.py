"""PagerDuty's Events API v2, wire-compatible: `POST /v2/enqueue` and `POST /v2/change/enqueue`.

A monitor moving in keeps its integration key and its payloads: only the events URL changes.
The `routing_key` in the body names an Integration of `type: pagerduty` whose `secret` is that
key (compared in constant time); the integration's own URL,
`/api/v1/integrations/{name}/alerts`, takes the same events when the body's key is that
integration's (`receive_at_integration`, called by `oncall.api.ingest`).

Answers are PagerDuty's: `202 {"status": "success", "message": "Event processed",
"dedup_key": ...}` (a trigger without `dedup_key` gets a new one, returned here); change events
`202 {"status": "success", "message": "Change event processed"}`; a bad event
`400 {"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`.
A missing or unknown routing key is such a 400 (errors: "Invalid routing key") and stores
nothing. Acknowledge and resolve of a dedup key with no open alert change nothing and are still
202, as PagerDuty drops them. The database unreachable: 503 with Retry-After, as PagerDuty's
5xx, which its clients retry.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import changes, throttle
from oncall.api.app import ApiContext, database_unavailable
from oncall.api.openapi import json_body
from oncall.api.routing import Operation
from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.config.types import MissingSecret, resolve_env
from oncall.core.ratelimit import Decision
from oncall.ingest import limits
from oncall.ingest.normalizers import PayloadError, normalize
from oncall.ingest.normalizers.pagerduty import with_dedup_key

log = logging.getLogger(__name__)

ENQUEUE = "/v2/enqueue"
CHANGE_ENQUEUE = "/v2/change/enqueue"
INVALID = "Event object is invalid"
BAD_KEY = "Invalid routing key"
THROTTLED = "Requests for this service are arriving too quickly. Please retry later."


# --- finding the integration by its key ----------------------------------------------------------


class KeyedIntegrations:
    """The integrations of one type by their resolved secret, per applied ConfigSet.

    Built lazily the first time a ConfigSet is asked; a key is compared with every candidate
    in constant time, so the answer's timing says nothing about how much of a key was right.
    """

    def __init__(self, integration_type: str) -> None:
        self._type = integration_type
        self._lock = threading.Lock()
        self._config: ConfigSet | None = None
        self._keys: list[tuple[bytes, Integration]] = []

    def _build(self, config: ConfigSet, environ: Any) -> list[tuple[bytes, Integration]]:
        keys: list[tuple[bytes, Integration]] = []
        for integration in sorted(config.integrations.values(), key=lambda i: i.name):
            if integration.type != self._type or integration.secret is None:
                continue
            try:
                secret = resolve_env(integration.secret, environ)
            except MissingSecret as exc:
                log.error("integration %s: %s", integration.name, exc)
                continue
            twin = next((i for k, i in keys if k == secret.encode("utf-8")), None)
            if twin is not None:  # validate sees variable names only, not their values
                log.error("integrations %s and %s hold the same key: its events go to %s "
                          "only; give each its own key", twin.name, integration.name, twin.name)
            keys.append((secret.encode("utf-8"), integration))
        return keys

    def find(self, config: ConfigSet, environ: Any, key: str) -> Integration | None:
        with self._lock:
            if self._config is not config:
                self._keys, self._config = self._build(config, environ), config
            keys = self._keys
        return matching(key, keys)


def matching(key: str, candidates: Iterable[tuple[bytes, Integration]]) -> Integration | None:
    """The candidate whose secret is `key`; every candidate is compared, in constant time."""
    given = key.encode("utf-8")
    found: Integration | None = None
    for secret, integration in candidates:
        if hmac.compare_digest(given, secret) and found is None:
            found = integration
    return found


def key_of(ctx: ApiContext, integration: Integration) -> bytes | None:
    """The integration's resolved secret, None when its environment variable is missing."""
    if integration.secret is None:
        return None
    try:
        return resolve_env(integration.secret, ctx.environ).encode("utf-8")
    except MissingSecret as exc:
        log.error("integration %s: %s", integration.name, exc)
        return None


def _load_config(ctx: ApiContext) -> ConfigSet:
    with Session(ctx.engine) as session:
        return ctx.config(session)


async def applied_config(ctx: ApiContext) -> ConfigSet:
    """From the cache when fresh (no thread hop, no query), else read from the database."""
    config = ctx.fresh_config()
    if config is not None:
        return config
    return await run_in_threadpool(_load_config, ctx)


# --- answers -------------------------------------------------------------------------------------


def invalid(*errors: str) -> JSONResponse:
    return JSONResponse({"status": "invalid event", "message": INVALID, "errors": list(errors)},
                        status_code=400)


def unavailable(ctx: ApiContext) -> JSONResponse:
    return JSONResponse({"status": "unavailable", "message": "Try again later", "errors": []},
                        status_code=503, headers={"Retry-After": str(ctx.retry_after)})


def _event(body: bytes) -> dict[str, Any] | JSONResponse:
    try:
        data: Any = limits.loads(body)
    except (limits.TooDeep, UnicodeDecodeError, json.JSONDecodeError):
        return invalid("Malformed JSON")
    if not isinstance(data, dict):
        return invalid("Event is not a JSON object")
    return data


def _routing_key(event: dict[str, Any]) -> str | JSONResponse:
    key = event.get("routing_key")
    if not isinstance(key, str) or not key.strip():
        return invalid("'routing_key' is missing or blank")
    return key


# --- alert events --------------------------------------------------------------------------------


def throttled(decision: Decision) -> JSONResponse:
    """PagerDuty's answer to an integration over its rate limit: its clients retry a 429."""
    return JSONResponse({"status": "throttle exceeded", "message": THROTTLED},
                        status_code=429, headers={"Retry-After": throttle.retry_after(decision)})


async def _enqueue(ctx: ApiContext, config: ConfigSet, integration: Integration,
                   event: dict[str, Any], now: datetime) -> Response:
    """Normalise, store and answer one alert event for `integration` (its key checked)."""
    admitted = await throttle.admit_alert(ctx, config, integration)
    if not admitted.allowed:
        return throttled(admitted)
    event, dedup_key = with_dedup_key(event, uuid.uuid4().hex)
    try:
        alerts = [a.for_integration(integration.name)
                  for a in normalize("pagerduty", event, now)]
    except PayloadError as exc:
        return invalid(*(reason for _, reason in exc.problems))
    except ValueError as exc:  # e.g. a NUL character PostgreSQL cannot store
        return invalid(str(exc))
    try:
        result = await ctx.ingest.accept(config, integration, alerts, now, ctx.services, None)
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("pagerduty %s: database unavailable: %s", integration.name, exc)
            return unavailable(ctx)
        raise
    if result.incident_ids:
        ctx.wake()
    return JSONResponse({"status": "success", "message": "Event processed",
                         "dedup_key": dedup_key}, status_code=202)


async def _keyed(ctx: ApiContext, keys: KeyedIntegrations, request: Request, what: str
                 ) -> tuple[dict[str, Any], ConfigSet, Integration] | Response:
    """The event posted to a shared endpoint and the integration its routing key names."""
    event = _event(await request.body())
    if isinstance(event, Response):
        return event
    key = _routing_key(event)
    if isinstance(key, Response):
        return key
    try:
        config = await applied_config(ctx)
    except Exception as exc:
        if database_unavailable(exc):
            return unavailable(ctx)
        raise
    integration = keys.find(config, ctx.environ, key)
    if integration is None:
        log.info("pagerduty: refused %s with an unknown routing key", what)
        return invalid(BAD_KEY)
    return event, config, integration


async def enqueue(ctx: ApiContext, keys: KeyedIntegrations, request: Request) -> Response:
    now = ctx.clock()
    found = await _keyed(ctx, keys, request, "an event")
    if isinstance(found, Response):
        return found
    event, config, integration = found
    return await _enqueue(ctx, config, integration, event, now)


async def receive_at_integration(ctx: ApiContext, config: ConfigSet, integration: Integration,
                                 body: bytes, now: datetime) -> Response:
    """An event posted to the integration's own URL: its routing key must be this
    integration's secret."""
    event = _event(body)
    if isinstance(event, Response):
        return event
    key = _routing_key(event)
    if isinstance(key, Response):
        return key
    secret = key_of(ctx, integration)
    if secret is None or matching(key, [(secret, integration)]) is None:
        log.info("pagerduty %s: refused an event with another routing key", integration.name)
        return invalid(BAD_KEY)
    return await _enqueue(ctx, config, integration, event, now)


# --- change events -------------------------------------------------------------------------------


async def change_enqueue(ctx: ApiContext, keys: KeyedIntegrations, request: Request
                         ) -> Response:
    now = ctx.clock()
    found = await _keyed(ctx, keys, request, "a change event")
    if isinstance(found, Response):
        return found
    event, config, integration = found
    admitted = await throttle.admit_alert(ctx, config, integration)
    if not admitted.allowed:
        return throttled(admitted)
    change = changes.validate(event)
    if not isinstance(change, changes.ChangeEvent):
        return invalid(*(f"'{field or 'body'}' {reason}" for field, reason in change))
    try:
        await run_in_threadpool(changes.store, ctx, config, integration, change, None, now)
    except Exception as exc:
        if database_unavailable(exc):
            return unavailable(ctx)
        raise
    return JSONResponse({"status": "success", "message": "Change event processed"},
                        status_code=202)


# --- routes and their document -------------------------------------------------------------------

_ANSWER = {"type": "object", "required": ["status", "message"],
           "properties": {"status": {"type": "string"}, "message": {"type": "string"},
                          "dedup_key": {"type": "string"},
                          "errors": {"type": "array", "items": {"type": "string"}}}}
_LINKS = {"type": "array", "items": {"type": "object"}}
_RESPONSES = {
    "400": json_body(_ANSWER, "`status: invalid event`; `errors` says why (an unknown or "
                              "missing routing key: \"Invalid routing key\"). Nothing stored"),
    "413": json_body({"type": "object"}, "The body is larger than 1 MB"),
    "503": json_body(_ANSWER, "The database is unavailable; nothing was stored. Retry"),
}

ENQUEUE_OPERATION: Operation = {
    "operationId": "pagerdutyEnqueue",
    "summary": "PagerDuty Events API v2: trigger, acknowledge or resolve an alert",
    "description": "PagerDuty's own request and answer (see docs/integrations.md). The "
                   "`routing_key` is the `secret` of an Integration of type pagerduty.",
    "tags": ["ingest"],
    "security": [],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["routing_key", "event_action"],
        "properties": {
            "routing_key": {"type": "string"},
            "event_action": {"enum": ["trigger", "acknowledge", "resolve"]},
            "dedup_key": {"type": "string", "maxLength": 255},
            "payload": {"type": "object", "properties": {
                "summary": {"type": "string", "maxLength": 1024},
                "source": {"type": "string"},
                "severity": {"enum": ["critical", "error", "warning", "info"]},
                "timestamp": {"type": "string"},
                "component": {"type": "string"},
                "group": {"type": "string"},
                "class": {"type": "string"},
                "custom_details": {},
            }},
            "images": _LINKS,
            "links": _LINKS,
            "client": {"type": "string"},
            "client_url": {"type": "string"},
        },
    }}}},
    "responses": {"202": json_body(_ANSWER, "Event processed; the dedup_key"), **_RESPONSES},
}

CHANGE_OPERATION: Operation = {
    "operationId": "pagerdutyChangeEnqueue",
    "summary": "PagerDuty Events API v2: a change event (a deploy, a flag flip)",
    "description": "Stored against the service of the Integration whose secret is the "
                   "`routing_key`; shown on that service and on its incidents.",
    "tags": ["ingest"],
    "security": [],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["routing_key", "payload"],
        "properties": {"routing_key": {"type": "string"}, "payload": {"type": "object"},
                       "links": _LINKS},
    }}}},
    "responses": {"202": json_body(_ANSWER, "Change event processed"), **_RESPONSES},
}


def openapi_paths() -> dict[str, Any]:
    return {ENQUEUE: {"post": ENQUEUE_OPERATION}, CHANGE_ENQUEUE: {"post": CHANGE_OPERATION}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    keys = KeyedIntegrations("pagerduty")

    async def post_enqueue(request: Request) -> Response:
        return await enqueue(ctx, keys, request)

    async def post_change(request: Request) -> Response:
        return await change_enqueue(ctx, keys, request)

    return [Route(ENQUEUE, post_enqueue, methods=["POST"], name="pagerduty-enqueue"),
            Route(CHANGE_ENQUEUE, post_change, methods=["POST"], name="pagerduty-change")]
