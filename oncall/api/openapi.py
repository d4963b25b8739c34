"""The OpenAPI 3.1 document, served at `/api/v1/openapi.json`.

Written by hand, next to the handlers it describes: each route module contributes its paths
through `openapi_paths()`, and this module adds the shared components. Fuzzing it with
schemathesis in the test suite keeps it honest (declared status codes, media types, schemas).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall import __version__
from oncall.api.app import ApiContext

PATH = "/api/v1/openapi.json"
PROBLEM = "application/problem+json"

_DATETIME = {"type": "string", "format": "date-time"}
_NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
_NULLABLE_STRING = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM: {"schema": _ref("Problem")}},
    }
    if headers:
        out["headers"] = headers
    return out


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                                "schema": {"type": "string"}}}
_UNAVAILABLE = _problem("The database is unavailable; nothing was stored", _RETRY_AFTER)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


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
            _ref("Incident"),
            {
                "type": "object",
                "required": ["alerts", "timeline"],
                "properties": {
                    "acknowledged_by": _NULLABLE_STRING,
                    "resolved_by": _NULLABLE_STRING,
                    "alerts": {"type": "array", "items": _ref("Alert")},
                    "timeline": {"type": "array", "items": _ref("TimelineEvent")},
                },
            },
        ]
    },
    "IncidentList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("Incident")},
            "next_cursor": _NULLABLE_STRING,
            "page": {"type": "integer"},
            "total": {"type": "integer"},
        },
    },
    "ActionResult": {
        "type": "object",
        "required": ["changed", "incident"],
        "properties": {"changed": {"type": "boolean"}, "incident": _ref("Incident")},
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
}


# --- paths --------------------------------------------------------------------------------------


def ingest_paths() -> dict[str, Any]:
    return {
        "/api/v1/integrations/{name}/alerts": {
            "post": {
                "operationId": "postAlerts",
                "summary": "Send alerts from a monitoring tool",
                "description": "The body is the tool's own payload (see docs/integrations.md). "
                               "Accepted only after it is stored.",
                "tags": ["ingest"],
                "security": [{"integrationBearer": []}, {"integrationHmac": []}],
                "parameters": [
                    {
                        "name": "name",
                        "in": "path",
                        "required": True,
                        "description": "The Integration's name in the config",
                        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$",
                                   "maxLength": 63},
                        "examples": {"generic": {"value": "synthetic-checks"}},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": _json(_ref("SubscriptionAnswer"),
                                 "SNS subscription confirmed or unsubscription recorded"),
                    "202": _json(_ref("Accepted"), "Stored; the alert and incident ids"),
                    "400": _problem("The body is not JSON, or nested deeper than 32 levels"),
                    "401": _problem("Missing or wrong credentials; nothing was stored"),
                    "403": _problem("An SNS message from a topic the integration does not "
                                    "list in topic_arns; nothing was stored or confirmed"),
                    "404": _problem("No integration of that name is applied"),
                    "409": _problem("A signed request already accepted (HMAC replay); "
                                    "nothing was stored again"),
                    "413": _problem("The body is larger than 1 MB, or holds more than 500 "
                                    "alerts"),
                    "415": _problem("The body is not JSON"),
                    "422": _problem("The payload is not one this integration reads (or an "
                                    "alert has too many labels); invalid-params names the "
                                    "field"),
                    "503": _UNAVAILABLE,
                },
            }
        }
    }


_ID = {
    "name": "incident_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
}

_COMMON_ERRORS = {
    "401": _problem("Missing or invalid API key"),
    "404": _problem("No such incident"),
    "503": _UNAVAILABLE,
}


def _action(op_id: str, summary: str, body: dict[str, Any] | None,
            required: bool) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": op_id,
        "summary": summary,
        "tags": ["incidents"],
        "parameters": [_ID],
        "responses": {
            "200": _json(_ref("ActionResult"), "Done (or already so: changed is false)"),
            "400": _problem("The body is not JSON"),
            "403": _problem("The key's user may not do this (an observer)"),
            "409": _problem("The incident's state does not allow this now"),
            "413": _problem("The body is larger than 1 MB"),
            "415": _problem("The body is not JSON"),
            "422": _problem("A field is invalid; invalid-params names it"),
            **_COMMON_ERRORS,
        },
    }
    if body is not None:
        op["requestBody"] = {
            "required": required,
            "content": {"application/json": {"schema": body}},
        }
    return {"post": op}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


def incident_paths() -> dict[str, Any]:
    csv = {"type": "string", "maxLength": 200}
    base = "/api/v1/incidents"
    one = base + "/{incident_id}"
    return {
        base: {
            "get": {
                "operationId": "listIncidents",
                "summary": "List incidents, newest first",
                "tags": ["incidents"],
                "parameters": [
                    {"name": "status", "in": "query", "description":
                     "triggered, acknowledged, resolved (comma-separated for several)",
                     "schema": {"type": "string",
                                "pattern": "^(triggered|acknowledged|resolved)"
                                           "(,(triggered|acknowledged|resolved))*$"}},
                    {"name": "service", "in": "query", "schema": csv},
                    {"name": "team", "in": "query", "schema": csv},
                    {"name": "priority", "in": "query",
                     "schema": {"type": "string", "pattern": "^P[1-5](,P[1-5])*$"}},
                    {"name": "q", "in": "query", "description":
                     "Words of the title, or an incident number",
                     "schema": {"type": "string", "maxLength": 200}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                "default": 50}},
                    {"name": "cursor", "in": "query", "description":
                     "next_cursor of the previous answer", "schema": {"type": "string"}},
                    {"name": "page", "in": "query", "description":
                     "1-based page number (instead of cursor); the answer has total",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
                ],
                "responses": {
                    "200": _json(_ref("IncidentList"), "A page of incidents"),
                    "401": _COMMON_ERRORS["401"],
                    "422": _problem("A filter is invalid; invalid-params names it"),
                    "503": _UNAVAILABLE,
                },
            }
        },
        one: {
            "get": {
                "operationId": "getIncident",
                "summary": "One incident with its alerts and timeline",
                "tags": ["incidents"],
                "parameters": [_ID],
                "responses": {
                    "200": _json(_ref("IncidentDetail"), "The incident"),
                    **_COMMON_ERRORS,
                },
            }
        },
        one + "/acknowledge": _action(
            "acknowledgeIncident", "Acknowledge: stops escalation",
            _body({}, []), required=False),
        one + "/resolve": _action(
            "resolveIncident", "Resolve, with an optional note",
            _body({"note": {"type": "string", "maxLength": 20000}}, []), required=False),
        one + "/notes": _action(
            "addIncidentNote", "Add a note to the timeline",
            _body({"text": {"type": "string", "minLength": 1, "maxLength": 20000}}, ["text"]),
            required=True),
        one + "/reassign": _action(
            "reassignIncident", "Hand the incident to someone (paged now)",
            _body({"assignee": {"type": "string", "minLength": 3, "maxLength": 320,
                                "description": "Email of a user in the config"}},
                  ["assignee"]),
            required=True),
        one + "/priority": _action(
            "changeIncidentPriority", "Change the priority",
            _body({"priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]}}, ["priority"]),
            required=True),
    }


def _own_paths() -> dict[str, Any]:
    return {
        PATH: {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "tags": ["meta"],
                "security": [],
                "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1 document")},
            }
        }
    }


def document(modules: list[ModuleType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for module in modules:
        contribute = getattr(module, "openapi_paths", None)
        if contribute is not None:
            paths.update(contribute())
    paths.update(_own_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "oncall API",
            "version": __version__,
            "description": "Alert ingest and the incidents REST API. Errors are RFC 7807 "
                           "problem documents (application/problem+json).",
        },
        "paths": paths,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
        "security": [{"apiKey": []}],
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    cached: dict[str, Any] = {}

    async def serve(request: Request) -> Response:
        if "doc" not in cached:
            cached["doc"] = document(ctx.route_modules)
        return JSONResponse(cached["doc"])

    return [Route(PATH, serve, methods=["GET"], name="openapi")]
