"""Services, people and the audit log for bots and scripts: read-only, from the applied config
and the database.

Every route authenticates with an API key. Services (with their open incidents, highest
priority and maintenance now) and users (email, name, roles; never contact addresses) are open
to every valid key; the audit log holds every change to every team, so it is for platform
admins only (403 for anyone else). The log is read newest first, a page at a time: `cursor` is
the `next_cursor` of the page before, opaque to the caller.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.api.openapi import json_body, problem
from oncall.api.rest import MAX_ID, Problem, no_nul, run
from oncall.api.routing import Operation, bind
from oncall.api.schedules import (
    AUTH,
    BAD_QUERY,
    STEPS,
    WHEN,
    bad,
    query_time,
    reading,
    steps_json,
    when,
)
from oncall.config.configset import ConfigSet
from oncall.config.models import Service
from oncall.core.routing import maintenance_for
from oncall.db.models import AuditEventRow, IncidentRow, ServiceRow
from oncall.incidents.actors import Actor
from oncall.schedules_service import escalation_at

SERVICES = "/api/v1/services"
SERVICE = SERVICES + "/{name}"
USERS = "/api/v1/users"
AUDIT = "/api/v1/audit"
OPEN = ("triggered", "acknowledged")
DEFAULT_LIMIT = 100
MAX_LIMIT = 500


# --- services -----------------------------------------------------------------------------------


def _open_incidents(session: Session) -> dict[str, dict[str, Any]]:
    """Per service name: open incidents by status and the highest priority among them."""
    found: dict[str, dict[str, Any]] = {}
    rows = session.execute(
        select(ServiceRow.name, IncidentRow.status, func.count(), func.min(IncidentRow.priority))
        .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
        .where(IncidentRow.status.in_(OPEN))
        .group_by(ServiceRow.name, IncidentRow.status)
    )
    for name, status, count, highest in rows:
        entry = found.setdefault(name, {"triggered": 0, "acknowledged": 0, "highest": None})
        entry[status] = int(count)
        if highest is not None and (entry["highest"] is None or highest < entry["highest"]):
            entry["highest"] = highest
    return found


def service_json(config: ConfigSet, service: Service, incidents: dict[str, Any] | None,
                 now: datetime) -> dict[str, Any]:
    counts = incidents or {"triggered": 0, "acknowledged": 0, "highest": None}
    return {
        "name": service.name,
        "team": service.team,
        "description": service.description,
        "escalation_policy": service.escalation_policy,
        "urgency": service.urgency,
        "status": {
            "open_incidents": counts["triggered"] + counts["acknowledged"],
            "triggered": counts["triggered"],
            "acknowledged": counts["acknowledged"],
            "highest_priority": counts["highest"],
            "maintenance": list(maintenance_for(config, service.name, now)),
        },
    }


async def services(ctx: ApiContext, request: Request) -> Response:
    def work(session: Session, config: ConfigSet, _actor: Actor, now: datetime) -> Response:
        incidents = _open_incidents(session)
        return JSONResponse({"items": [
            service_json(config, config.services[n], incidents.get(n), now)
            for n in sorted(config.services)]})

    return await run(ctx, request, reading(ctx, request, work))


async def service(ctx: ApiContext, request: Request) -> Response:
    """One service, with who each step of its escalation policy would page now."""

    def work(session: Session, config: ConfigSet, _actor: Actor, now: datetime) -> Response:
        name = str(request.path_params["name"])
        found = config.services.get(name)
        if found is None:
            raise Problem(problems.problem(404, f"no service {name[:255]!r}",
                                           instance=request.url.path))
        body = service_json(config, found, _open_incidents(session).get(name), now)
        body["depends_on"] = list(found.depends_on)
        body["steps"] = steps_json(config, escalation_at(session, config, name, now))
        return JSONResponse(body)

    return await run(ctx, request, reading(ctx, request, work))


# --- users --------------------------------------------------------------------------------------


async def users(ctx: ApiContext, request: Request) -> Response:
    """The people of the applied config's teams: no contact addresses."""

    def work(_session: Session, config: ConfigSet, _actor: Actor, _now: datetime) -> Response:
        admins = config.platform_admins
        found = config.users
        return JSONResponse({"items": [
            {"email": email, "name": found[email].name, "roles": dict(found[email].roles),
             "platform_admin": email in admins}
            for email in sorted(found)]})

    return await run(ctx, request, reading(ctx, request, work))


# --- audit --------------------------------------------------------------------------------------


def _limit(request: Request) -> int:
    raw = (request.query_params.get("limit") or "").strip()
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise bad(request, "limit", f"expected a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def _cursor(request: Request) -> int | None:
    raw = (request.query_params.get("cursor") or "").strip()
    if not raw:
        return None
    no_nul(raw, "cursor", request.url.path)
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise bad(request, "cursor", "expected the next_cursor of a previous page")
    return int(raw)


def event_json(e: AuditEventRow) -> dict[str, Any]:
    return {"id": e.id, "at": when(e.at), "actor": e.actor, "type": e.type,
            "incident_id": e.incident_id, "subject_kind": e.subject_kind,
            "subject_name": e.subject_name, "before": e.before, "after": e.after,
            "data": e.data}


async def audit(ctx: ApiContext, request: Request) -> Response:
    """Audit events in [since, until), newest first, `limit` a page."""

    def work(session: Session, _config: ConfigSet, actor: Actor, _now: datetime) -> Response:
        if not actor.platform_admin:
            raise Problem(problems.problem(
                403, f"{actor.name} is not a platform admin: the audit log is theirs to read",
                instance=request.url.path))
        since, until = query_time(request, "since"), query_time(request, "until")
        limit, cursor = _limit(request), _cursor(request)
        query = select(AuditEventRow).order_by(AuditEventRow.id.desc()).limit(limit + 1)
        if since is not None:
            query = query.where(AuditEventRow.at >= since)
        if until is not None:
            query = query.where(AuditEventRow.at < until)
        if cursor is not None:
            query = query.where(AuditEventRow.id < cursor)
        rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        return JSONResponse({"items": [event_json(e) for e in rows],
                             "next_cursor": str(rows[-1].id) if more else None})

    return await run(ctx, request, reading(ctx, request, work))


# --- OpenAPI ------------------------------------------------------------------------------------

_STRING = {"type": "string"}
_NULLABLE = {"type": ["string", "null"]}
_COUNT = {"type": "integer", "minimum": 0}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(properties), "properties": properties}


_SERVICE_FIELDS = {
    "name": _STRING, "team": _STRING, "description": _NULLABLE, "escalation_policy": _NULLABLE,
    "urgency": {"enum": ["high", "low"]},
    "status": _object({"open_incidents": _COUNT, "triggered": _COUNT, "acknowledged": _COUNT,
                       "highest_priority": _NULLABLE,
                       "maintenance": {"type": "array", "items": _STRING}}),
}
_SERVICE = _object(_SERVICE_FIELDS)
_SERVICE_DETAIL = _object({**_SERVICE_FIELDS,
                           "depends_on": {"type": "array", "items": _STRING}, "steps": STEPS})
_USER = _object({"email": _STRING, "name": _NULLABLE,
                 "roles": {"type": "object", "additionalProperties": _STRING},
                 "platform_admin": {"type": "boolean"}})
_ANY = {"type": ["object", "array", "string", "number", "boolean", "null"]}
_EVENT = _object({"id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"},
                  "actor": _STRING, "type": _STRING,
                  "incident_id": {"type": ["integer", "null"]}, "subject_kind": _NULLABLE,
                  "subject_name": _NULLABLE, "before": _ANY, "after": _ANY,
                  "data": {"type": ["object", "null"]}})

SERVICES_OP: Operation = {
    "operationId": "listServices",
    "summary": "The applied services and their status now",
    "tags": ["directory"],
    "responses": {"200": json_body(_object({"items": {"type": "array", "items": _SERVICE}}),
                                   "The services, by name"), **AUTH},
}

SERVICE_OP: Operation = {
    "operationId": "getService",
    "summary": "One service, and who each step of its escalation policy would page now",
    "tags": ["directory"],
    "parameters": [{"name": "name", "in": "path", "required": True,
                    "schema": {"type": "string"}}],
    "responses": {"200": json_body(_SERVICE_DETAIL, "The service"),
                  "404": problem("No such service"), **AUTH},
}

USERS_OP: Operation = {
    "operationId": "listUsers",
    "summary": "The people of the applied config's teams (no contact addresses)",
    "tags": ["directory"],
    "responses": {"200": json_body(_object({"items": {"type": "array", "items": _USER}}),
                                   "The users, by email"), **AUTH},
}

AUDIT_OP: Operation = {
    "operationId": "listAuditEvents",
    "summary": "The audit log, newest first (platform admins only)",
    "tags": ["directory"],
    "parameters": [
        {"name": "since", "in": "query", "schema": WHEN},
        {"name": "until", "in": "query", "schema": WHEN},
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT}},
        {"name": "cursor", "in": "query",
         "schema": {"type": "string", "description": "next_cursor of the previous page"}},
    ],
    "responses": {
        "200": json_body(_object({"items": {"type": "array", "items": _EVENT},
                                  "next_cursor": _NULLABLE}), "A page of events"),
        "403": problem("The key's user is not a platform admin"),
        "422": BAD_QUERY,
        **AUTH,
    },
}


def openapi_paths() -> dict[str, Any]:
    return {SERVICES: {"get": SERVICES_OP}, SERVICE: {"get": SERVICE_OP},
            USERS: {"get": USERS_OP}, AUDIT: {"get": AUDIT_OP}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [
        Route(SERVICES, bind(services, ctx), methods=["GET"], name="services"),
        Route(SERVICE, bind(service, ctx), methods=["GET"], name="service"),
        Route(USERS, bind(users, ctx), methods=["GET"], name="users"),
        Route(AUDIT, bind(audit, ctx), methods=["GET"], name="audit"),
    ]
