"""The OpenAPI 3.1 document, served at `/api/v1/openapi.json`.

Written by hand, next to the handlers it describes: each route module defines the operation of
each of its routes beside the handler and contributes them through `openapi_paths()`; this
module only assembles the document and holds what the modules share (Problem and the other
components, the response helpers). Fuzzing it with schemathesis in the test suite keeps it
honest (declared status codes, media types, schemas).
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall import __version__
from oncall.api.app import ApiContext
from oncall.api.routing import Operation, bind

PATH = "/api/v1/openapi.json"
PROBLEM = "application/problem+json"

_DATETIME = {"type": "string", "format": "date-time"}
_NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
_NULLABLE_STRING = {"type": ["string", "null"]}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM: {"schema": ref("Problem")}},
    }
    if headers:
        out["headers"] = headers
    return out


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                                "schema": {"type": "string"}}}
UNAVAILABLE = problem("The database is unavailable; nothing was stored", _RETRY_AFTER)


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RATE_LIMITED = problem("Over the API key's or the integration's rate limit: nothing was done; "
                       "retry after Retry-After seconds", _RETRY_AFTER)
_VENDOR_PATHS = ("/v2/enqueue", "/v2/change/enqueue", "/v2/alerts")
"""PagerDuty's and Opsgenie's APIs, which answer a refusal in their vendor's own shape."""


def _rate_limited(path: str, operation: dict[str, Any]) -> dict[str, Any] | None:
    """The 429 an operation may answer (`oncall.api.throttle`), None if it is not limited."""
    if path.startswith(_VENDOR_PATHS):
        return {**json_body({"type": "object"}, "Over the integration's rate limit, in the "
                                                "vendor's own shape"), "headers": _RETRY_AFTER}
    if path.startswith("/api/v1/integrations/"):
        return RATE_LIMITED
    security = operation.get("security")
    if security is None or {"apiKey": []} in security:
        return RATE_LIMITED
    return None


def with_rate_limits(paths: dict[str, Any]) -> dict[str, Any]:
    """Every rate-limited operation documents its 429 (the limits are in one place, not in
    every route module)."""
    out: dict[str, Any] = {}
    for path, item in paths.items():
        out[path] = dict(item)
        for method, operation in item.items():
            if not isinstance(operation, dict) or not isinstance(operation.get("responses"), dict):
                continue
            answer = _rate_limited(path, operation)
            if answer is not None:
                out[path][method] = {**operation,
                                     "responses": {"429": answer, **operation["responses"]}}
    return out


# --- components ---------------------------------------------------------------------------------

SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 7807 problem details",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
            "invalid-params": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "reason"],
                    "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
                },
            },
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["status", "alerts", "incidents", "outcomes"],
        "properties": {
            "status": {"const": "accepted"},
            "alerts": {"type": "array", "items": {"type": "integer"}},
            "incidents": {"type": "array", "items": {"type": "integer"}},
            "outcomes": {
                "type": "array",
                "items": {"enum": ["new", "deduplicated", "stale", "resolved", "acknowledged",
                                   "unknown-alert", "suppressed", "duplicate"]},
            },
        },
    },
    "SubscriptionAnswer": {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"enum": ["confirmed", "unsubscribed"]},
            "topic": _NULLABLE_STRING,
        },
    },
    "Incident": {
        "type": "object",
        "required": ["id", "title", "status", "service", "team", "alert_count",
                     "triggered_at", "version"],
        "properties": {
            "id": {"type": "integer"},
            "title": {"type": "string"},
            "status": {"enum": ["triggered", "acknowledged", "resolved"]},
            "priority": {"type": ["string", "null"]},
            "urgency": {"type": "string"},
            "service": {"type": "string"},
            "team": {"type": "string"},
            "group_key": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": True},
            "assignee": _NULLABLE_STRING,
            "alert_count": {"type": "integer"},
            "escalation_policy": _NULLABLE_STRING,
            "triggered_at": _DATETIME,
            "last_alert_at": _NULLABLE_DATETIME,
            "acknowledged_at": _NULLABLE_DATETIME,
            "resolved_at": _NULLABLE_DATETIME,
            "updated_at": _DATETIME,
            "version": {"type": "integer"},
        },
    },
    "Alert": {
        "type": "object",
        "required": ["id", "integration", "status", "summary"],
        "properties": {
            "id": {"type": "integer"},
            "integration": {"type": "string"},
            "status": {"enum": ["firing", "resolved"]},
            "severity": _NULLABLE_STRING,
            "summary": {"type": "string"},
            "source": _NULLABLE_STRING,
            "dedup_key": _NULLABLE_STRING,
            "labels": {"type": "object"},
            "routing_rule": _NULLABLE_STRING,
            "suppressed_reason": _NULLABLE_STRING,
            "occurred_at": _NULLABLE_DATETIME,
            "received_at": _DATETIME,
            "resolved_at": _NULLABLE_DATETIME,
        },
    },
    "TimelineEvent": {
        "type": "object",
        "required": ["id", "at", "actor", "type"],
        "properties": {
            "id": {"type": "integer"},
            "at": _DATETIME,
            "actor": {"type": "string"},
            "type": {"type": "string"},
            "before": {},
            "after": {},
            "data": {"type": ["object", "null"]},
        },
    },
    "IncidentDetail": {
        "allOf": [
            ref("Incident"),
            {
                "type": "object",
                "required": ["alerts", "timeline", "roles"],
                "properties": {
                    "description": {**_NULLABLE_STRING,
                                    "description": "Markdown, given when the incident was "
                                                   "declared by hand"},
                    "roles": {
                        "type": "object",
                        "description": "Who holds each incident role now (null: nobody)",
                        "properties": {role: {"oneOf": [{"type": "null"}, ref("RoleHolder")]}
                                       for role in ("commander", "scribe", "communications")},
                    },
                    "acknowledged_by": _NULLABLE_STRING,
                    "resolved_by": _NULLABLE_STRING,
                    "alerts": {"type": "array", "items": ref("Alert")},
                    "timeline": {"type": "array", "items": ref("TimelineEvent")},
                },
            },
        ]
    },
    "RoleHolder": {
        "type": "object",
        "required": ["user", "assigned_by", "assigned_at"],
        "properties": {
            "user": {"type": "string", "description": "The holder's email"},
            "name": _NULLABLE_STRING,
            "assigned_by": {"type": "string", "description": "Who gave the role (an actor)"},
            "assigned_at": _DATETIME,
        },
    },
    "IncidentList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": ref("Incident")},
            "next_cursor": _NULLABLE_STRING,
            "page": {"type": "integer"},
            "total": {"type": "integer"},
        },
    },
    "RunbookRun": {
        "type": "object",
        "required": ["incident", "runbook", "run", "params", "queued"],
        "properties": {
            "incident": {"type": "integer"},
            "runbook": {"type": "string"},
            "run": {"type": "string", "description":
                    "The run's key; the timeline's workflow.step_* events with data.run "
                    "equal to it tell the outcome"},
            "params": {"type": "object", "description": "As validated, defaults applied"},
            "queued": {"type": "boolean", "description":
                       "False: the same Idempotency-Key was queued before"},
        },
    },
    "ActionResult": {
        "type": "object",
        "required": ["changed", "incident"],
        "properties": {"changed": {"type": "boolean"}, "incident": ref("Incident")},
    },
}

SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `oncall api-key create`; acts as its user.",
    },
    "integrationBearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The Integration's secret (auth: bearer, the default).",
    },
    "integrationHmac": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Oncall-Signature",
        "description": "sha256=<hex HMAC-SHA256(secret, X-Oncall-Timestamp + '.' + body)>",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "ONCALL_METRICS_TOKEN, for Prometheus scrapes.",
    },
}


# --- paths --------------------------------------------------------------------------------------


def document(modules: list[ModuleType]) -> dict[str, Any]:
    """The whole document: each route module's `openapi_paths()`, then the shared parts."""
    paths: dict[str, Any] = {}
    for module in modules:
        contribute = getattr(module, "openapi_paths", None)
        if contribute is not None:
            paths.update(contribute())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "oncall API",
            "version": __version__,
            "description": "Alert ingest, the incidents REST API, and the callbacks of Slack, "
                           "Twilio and acknowledge links. Errors are RFC 7807 problem "
                           "documents (application/problem+json) unless a route says otherwise.",
        },
        "paths": with_rate_limits(paths),
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
        "security": [{"apiKey": []}],
    }


SERVE_DOCUMENT: Operation = {
    "operationId": "getOpenApi",
    "summary": "This document",
    "tags": ["meta"],
    "security": [],
    "responses": {"200": json_body({"type": "object"}, "OpenAPI 3.1 document")},
}


async def serve_document(ctx: ApiContext, request: Request) -> Response:
    """The document, assembled once: the route modules do not change while the app runs."""
    return JSONResponse(_document_of(tuple(ctx.route_modules)))


@functools.lru_cache(maxsize=8)
def _document_of(modules: tuple[ModuleType, ...]) -> dict[str, Any]:
    return document(list(modules))


def openapi_paths() -> dict[str, Any]:
    return {PATH: {"get": SERVE_DOCUMENT}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [Route(PATH, bind(serve_document, ctx), methods=["GET"], name="openapi")]
