"""The incidents REST API: list, get, and the responder actions, all through the service layer.

Every request authenticates with an API key (`Authorization: Bearer oncall_…`) and acts as the
key's user with that user's current roles. Who may act on which incident is decided in one place
(`oncall.incidents.access`): responders and admins of the team that owns the incident's service,
people the incident paged, and platform admins; anyone else's key reads but cannot act (403).
Actions are idempotent: acknowledging an acknowledged incident answers 200 with
`"changed": false`; asking for a transition the state does not allow (acknowledging a resolved
incident) answers 409. A committed change wakes the worker, which sends what it queued (updates,
a page to a new assignee) at once.

A key's user may also declare an incident by hand (`POST /api/v1/incidents`: responders and
admins of the service's team, platform admins), ask for the next escalation step now, and
set the incident roles (commander, scribe, communications).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.api.openapi import UNAVAILABLE, json_body, problem, ref
from oncall.api.rest import (
    MAX_ID,
    M,
    Problem,
    authenticate,
    no_nul,
    parse_body,
    run,
)
from oncall.api.routing import Operation, bind
from oncall.db.engine import write_session
from oncall.db.models import AlertRow, AuditEventRow, UserRow
from oncall.incidents import roles, runbooks, service
from oncall.incidents.actors import Actor, Forbidden
from oncall.incidents.queries import (
    MAX_LIMIT,
    IncidentDetail,
    IncidentFilter,
    IncidentItem,
    incident_detail,
    list_incidents,
)

BASE = "/api/v1/incidents"
STATUSES = (service.TRIGGERED, service.ACKNOWLEDGED, service.RESOLVED)


# --- request bodies -----------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResolveBody(_Body):
    note: str | None = Field(None, max_length=20_000)


class AcknowledgeBody(_Body):
    pass


class NoteBody(_Body):
    text: str = Field(min_length=1, max_length=20_000)


class ReassignBody(_Body):
    assignee: str = Field(min_length=3, max_length=320, description="The new assignee's email")


class PriorityBody(_Body):
    priority: str = Field(pattern=r"^P[1-5]$")


class DeclareBody(_Body):
    service: str = Field(max_length=255)
    title: str
    priority: str | None = None
    description: str | None = None


class EscalateBody(_Body):
    pass


class RoleBody(_Body):
    user: str | None = Field(None, max_length=320,
                             description="Email of the holder; omitted: the key's user")


# --- serialisation ------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def incident_json(item: IncidentItem) -> dict[str, Any]:
    i = item.incident
    return {
        "id": i.id,
        "title": i.title,
        "status": i.status,
        "priority": i.priority,
        "urgency": i.urgency,
        "service": item.service,
        "team": item.team,
        "group_key": i.group_key,
        "labels": i.labels,
        "assignee": item.assignee,
        "alert_count": i.alert_count,
        "escalation_policy": i.escalation_policy_name,
        "triggered_at": _time(i.triggered_at),
        "last_alert_at": _time(i.last_alert_at),
        "acknowledged_at": _time(i.acknowledged_at),
        "resolved_at": _time(i.resolved_at),
        "updated_at": _time(i.updated_at),
        "version": i.version,
    }


def alert_json(a: AlertRow) -> dict[str, Any]:
    return {
        "id": a.id,
        "integration": a.integration_name,
        "status": a.status,
        "severity": a.severity,
        "summary": a.summary,
        "source": a.source,
        "dedup_key": a.dedup_key,
        "labels": a.labels,
        "routing_rule": a.routing_rule_name,
        "suppressed_reason": a.suppressed_reason,
        "occurred_at": _time(a.occurred_at),
        "received_at": _time(a.received_at),
        "resolved_at": _time(a.resolved_at),
    }


def event_json(e: AuditEventRow) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": _time(e.at),
        "actor": e.actor,
        "type": e.type,
        "before": e.before,
        "after": e.after,
        "data": e.data,
    }


def detail_json(d: IncidentDetail, held: dict[str, roles.Holder]) -> dict[str, Any]:
    i = d.item.incident
    return {
        **incident_json(d.item),
        "description": i.description,
        "roles": roles.as_json(held),
        "acknowledged_by": d.users.get(i.acknowledged_by_id) if i.acknowledged_by_id else None,
        "resolved_by": d.users.get(i.resolved_by_id) if i.resolved_by_id else None,
        "alerts": [alert_json(a) for a in d.alerts],
        "timeline": [event_json(e) for e in d.timeline],
    }


# --- request helpers ----------------------------------------------------------------------------


def _values(request: Request, name: str, allowed: tuple[str, ...] | None = None
            ) -> tuple[str, ...]:
    """A filter given as repeated parameters and/or comma-separated values."""
    out: list[str] = []
    for raw in request.query_params.getlist(name):
        for part in raw.split(","):
            part = no_nul(part.strip(), name, request.url.path)
            if not part:
                continue
            if allowed is not None and part not in allowed:
                raise Problem(problems.unprocessable(
                    name, f"unknown value {part!r}: expected one of {', '.join(allowed)}",
                    instance=request.url.path,
                ))
            out.append(part)
    return tuple(dict.fromkeys(out))


def _int_param(request: Request, name: str, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.strip().isdigit() or not low <= int(raw) <= high:
        raise Problem(problems.unprocessable(
            name, f"expected a whole number from {low} to {high}", instance=request.url.path
        ))
    return int(raw)


def encode_cursor(before: int) -> str:
    return base64.urlsafe_b64encode(f"before:{before}".encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    kind, _, number = text.partition(":")
    if kind != "before" or not number.isdigit() or int(number) > MAX_ID:
        return None
    return int(number)


def _incident_id(request: Request) -> int:
    incident_id: int = request.path_params["incident_id"]
    if incident_id < 1 or incident_id > MAX_ID:
        raise Problem(problems.problem(404, f"incident {incident_id} does not exist",
                                       instance=request.url.path))
    return incident_id


# --- OpenAPI ------------------------------------------------------------------------------------

_ID = {
    "name": "incident_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
}

_COMMON_ERRORS = {
    "401": problem("Missing or invalid API key"),
    "404": problem("No such incident"),
    "503": UNAVAILABLE,
}


def _action_operation(op_id: str, summary: str, body: dict[str, Any],
                      required: bool) -> Operation:
    return {
        "operationId": op_id,
        "summary": summary,
        "tags": ["incidents"],
        "parameters": [_ID],
        "requestBody": {"required": required, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": json_body(ref("ActionResult"), "Done (or already so: changed is false)"),
            "400": problem("The body is not JSON"),
            "403": problem("The key's user may not do this (an observer)"),
            "409": problem("The incident's state does not allow this now"),
            "413": problem("The body is larger than 1 MB"),
            "415": problem("The body is not JSON"),
            "422": problem("A field is invalid; invalid-params names it"),
            **_COMMON_ERRORS,
        },
    }


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


_CSV = {"type": "string", "maxLength": 200}


# --- handlers -----------------------------------------------------------------------------------

INDEX: Operation = {
    "operationId": "listIncidents",
    "summary": "List incidents, newest first",
    "tags": ["incidents"],
    "parameters": [
        {"name": "status", "in": "query", "description":
         "triggered, acknowledged, resolved (comma-separated for several)",
         "schema": {"type": "string",
                    "pattern": "^(triggered|acknowledged|resolved)"
                               "(,(triggered|acknowledged|resolved))*$"}},
        {"name": "service", "in": "query", "schema": _CSV},
        {"name": "team", "in": "query", "schema": _CSV},
        {"name": "priority", "in": "query",
         "schema": {"type": "string", "pattern": "^P[1-5](,P[1-5])*$"}},
        {"name": "q", "in": "query", "description": "Words of the title, or an incident number",
         "schema": {"type": "string", "maxLength": 200}},
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
        {"name": "cursor", "in": "query", "description": "next_cursor of the previous answer",
         "schema": {"type": "string"}},
        {"name": "page", "in": "query", "description":
         "1-based page number (instead of cursor); the answer has total",
         "schema": {"type": "integer", "minimum": 1, "maximum": 1000000}},
    ],
    "responses": {
        "200": json_body(ref("IncidentList"), "A page of incidents"),
        "401": _COMMON_ERRORS["401"],
        "422": problem("A filter is invalid; invalid-params names it"),
        "503": UNAVAILABLE,
    },
}


def _filter(request: Request) -> tuple[IncidentFilter, int, int | None, int | None]:
    """The list's filter, page size, cursor position and page number from the query."""
    path = request.url.path
    flt = IncidentFilter(
        status=_values(request, "status", STATUSES),
        service=_values(request, "service"),
        team=_values(request, "team"),
        priority=_values(request, "priority", service.PRIORITIES),
        q=no_nul(request.query_params.get("q") or "", "q", path) or None,
    )
    limit = _int_param(request, "limit", 1, MAX_LIMIT) or 50
    page = _int_param(request, "page", 1, 1_000_000)
    cursor = request.query_params.get("cursor")
    before = None
    if cursor:
        before = decode_cursor(cursor)
        if before is None:
            raise Problem(problems.unprocessable(
                "cursor", "not a cursor from a previous answer", instance=path))
    if cursor and page is not None:
        raise Problem(problems.unprocessable(
            "page", "use either cursor or page, not both", instance=path))
    return flt, limit, before, page


async def index(ctx: ApiContext, request: Request) -> Response:
    """A page of incidents; the query is checked before the database is touched."""
    try:
        flt, limit, before, page = _filter(request)
    except Problem as p:
        return p.response

    def work() -> Response:
        with Session(ctx.engine) as session, session.begin():
            authenticate(session, request, ctx.clock())
            result = list_incidents(session, flt, limit=limit, before=before, page=page)
            body: dict[str, Any] = {
                "items": [incident_json(item) for item in result.items],
                "next_cursor": encode_cursor(result.next_before)
                if result.next_before is not None and page is None else None,
            }
            if page is not None:
                body["page"] = page
                body["total"] = result.total
        return JSONResponse(body)

    return await run(ctx, request, work)


SHOW: Operation = {
    "operationId": "getIncident",
    "summary": "One incident with its alerts and timeline",
    "tags": ["incidents"],
    "parameters": [_ID],
    "responses": {"200": json_body(ref("IncidentDetail"), "The incident"), **_COMMON_ERRORS},
}


async def show(ctx: ApiContext, request: Request) -> Response:
    """One incident with its alerts and timeline."""
    try:
        incident_id = _incident_id(request)
    except Problem as p:
        return p.response

    def work() -> Response:
        with Session(ctx.engine) as session, session.begin():
            authenticate(session, request, ctx.clock())
            detail = incident_detail(session, incident_id)
            if detail is None:
                raise Problem(problems.problem(
                    404, f"incident {incident_id} does not exist", instance=request.url.path))
            body = detail_json(detail, roles.holders(session, incident_id))
        return JSONResponse(body)

    return await run(ctx, request, work)


Perform = Callable[[ApiContext, Session, int, Actor, M, datetime], service.Outcome | None]
"""An action through the service layer; None where it always changes something (a note)."""


def _perform(ctx: ApiContext, request: Request, raw: bytes, incident_id: int,
             model: type[M], perform: Perform[M], target: str | None) -> Response:
    """Authenticate, parse, act and commit; then wake the worker for what the change queued."""
    now = ctx.clock()
    path = request.url.path
    with write_session(ctx.engine) as session:
        actor = authenticate(session, request, now)
        body = parse_body(request, raw, model)
        try:
            outcome = perform(ctx, session, incident_id, actor, body, now)
        except Forbidden as exc:
            raise Problem(problems.problem(403, str(exc), instance=path)) from None
        except service.NotFound as exc:
            raise Problem(problems.problem(404, str(exc), instance=path)) from None
        except service.Invalid as exc:
            raise Problem(problems.problem(409, str(exc), instance=path)) from None
        changed = outcome.changed if outcome is not None else True
        if (outcome is not None and not changed and target is not None
                and outcome.incident.status != target):
            raise Problem(problems.problem(
                409, f"incident {incident_id} is {outcome.incident.status}", instance=path))
        detail = incident_detail(session, incident_id)
        assert detail is not None
        result = {"changed": changed, "incident": incident_json(detail.item)}
    if changed:
        ctx.wake()
    return JSONResponse(result)


async def _action(ctx: ApiContext, request: Request, model: type[M], perform: Perform[M],
                  target: str | None = None) -> Response:
    """A responder action: `target` is the status it leads to, if asking twice is harmless."""
    try:
        incident_id = _incident_id(request)
    except Problem as p:
        return p.response
    raw = await request.body()
    return await run(ctx, request, lambda: _perform(
        ctx, request, raw, incident_id, model, perform, target))


ACKNOWLEDGE = _action_operation("acknowledgeIncident", "Acknowledge: stops escalation",
                                _object({}, []), required=False)


def _acknowledge(_ctx: ApiContext, s: Session, i: int, a: Actor, _b: AcknowledgeBody,
                 now: datetime) -> service.Outcome:
    return service.acknowledge(s, i, a, now)


async def acknowledge(ctx: ApiContext, request: Request) -> Response:
    return await _action(ctx, request, AcknowledgeBody, _acknowledge, service.ACKNOWLEDGED)


RESOLVE = _action_operation("resolveIncident", "Resolve, with an optional note",
                            _object({"note": {"type": "string", "maxLength": 20000}}, []),
                            required=False)


def _resolve(_ctx: ApiContext, s: Session, i: int, a: Actor, b: ResolveBody,
             now: datetime) -> service.Outcome:
    return service.resolve(s, i, a, now, note=b.note or None)


async def resolve(ctx: ApiContext, request: Request) -> Response:
    return await _action(ctx, request, ResolveBody, _resolve, service.RESOLVED)


ADD_NOTE = _action_operation(
    "addIncidentNote", "Add a note to the timeline",
    _object({"text": {"type": "string", "minLength": 1, "maxLength": 20000}}, ["text"]),
    required=True)


def _add_note(_ctx: ApiContext, s: Session, i: int, a: Actor, b: NoteBody,
              now: datetime) -> None:
    if not b.text.strip():
        raise Problem(problems.unprocessable("text", "a note cannot be empty"))
    service.add_note(s, i, a, b.text, now)


async def add_note(ctx: ApiContext, request: Request) -> Response:
    return await _action(ctx, request, NoteBody, _add_note)


REASSIGN = _action_operation(
    "reassignIncident", "Hand the incident to someone (paged now)",
    _object({"assignee": {"type": "string", "minLength": 3, "maxLength": 320,
                          "description": "Email of a user in the config"}}, ["assignee"]),
    required=True)


def _reassign(ctx: ApiContext, s: Session, i: int, a: Actor, b: ReassignBody,
              now: datetime) -> service.Outcome:
    incident = service.authorize(s, i, a, "reassign")
    user = s.scalar(select(UserRow).where(UserRow.email == b.assignee.strip().lower()))
    if user is None or user.disabled_at is not None:
        raise Problem(problems.unprocessable("assignee", f"unknown user {b.assignee!r}"))
    policy = ctx.config(s).policies.get(incident.escalation_policy_name or "")
    steps = len(policy.steps) if policy is not None else 1
    return service.reassign(s, i, a, user.email, now, policy_steps=steps)


async def reassign(ctx: ApiContext, request: Request) -> Response:
    return await _action(ctx, request, ReassignBody, _reassign)


CHANGE_PRIORITY = _action_operation(
    "changeIncidentPriority", "Change the priority",
    _object({"priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]}}, ["priority"]),
    required=True)


def _change_priority(_ctx: ApiContext, s: Session, i: int, a: Actor, b: PriorityBody,
                     now: datetime) -> service.Outcome:
    return service.change_priority(s, i, a, b.priority, now)


async def change_priority(ctx: ApiContext, request: Request) -> Response:
    return await _action(ctx, request, PriorityBody, _change_priority)


ESCALATE = _action_operation(
    "escalateIncident", "Page the next escalation step now instead of at its timeout",
    _object({}, []), required=False)


def _escalate(_ctx: ApiContext, s: Session, i: int, a: Actor, _b: EscalateBody,
              now: datetime) -> service.Outcome:
    outcome = service.escalate_now(s, i, a, now)
    if not outcome.changed:
        status = outcome.incident.status
        raise service.Invalid(
            f"incident {i} has no further escalation step" if status == service.TRIGGERED
            else f"incident {i} is {status}: only a triggered incident escalates")
    return outcome


async def escalate(ctx: ApiContext, request: Request) -> Response:
    return await _action(ctx, request, EscalateBody, _escalate)


DECLARE: Operation = {
    "operationId": "declareIncident",
    "summary": "Declare an incident by hand on a service; the key's user becomes commander",
    "description": (
        "Opens an incident on `service` that escalates through the service's escalation "
        "policy like one opened by an alert. Platform admins and the responders and admins "
        "of the service's team may declare. `priority` defaults to P3. The answer is the "
        "incident as `GET /api/v1/incidents/{incident_id}` returns it; Location names it."),
    "tags": ["incidents"],
    "requestBody": {"required": True, "content": {"application/json": {"schema": _object({
        "service": {"type": "string", "maxLength": 255},
        "title": {"type": "string", "minLength": 1, "maxLength": service.TITLE_MAX},
        "priority": {"enum": ["P1", "P2", "P3", "P4", "P5"]},
        "description": {"type": "string", "maxLength": service.DESCRIPTION_MAX,
                        "description": "Markdown"},
    }, ["service", "title"])}}},
    "responses": {
        "201": json_body(ref("IncidentDetail"), "Declared"),
        "400": problem("The body is not JSON"),
        "401": _COMMON_ERRORS["401"],
        "403": problem("The key's user may not declare incidents on this service"),
        "413": problem("The body is larger than 1 MB"),
        "415": problem("The body is not JSON"),
        "422": problem("Unknown service, blank title or bad priority; invalid-params names it"),
        "503": UNAVAILABLE,
    },
}


def _declare(ctx: ApiContext, request: Request, raw: bytes) -> Response:
    now = ctx.clock()
    path = request.url.path
    with write_session(ctx.engine) as session:
        actor = authenticate(session, request, now)
        body = parse_body(request, raw, DeclareBody)
        try:
            incident_id = service.declare(
                session, actor, service_name=body.service, title=body.title,
                priority=body.priority, description=body.description, now=now).id
        except service.Rejected as exc:
            raise Problem(problems.unprocessable(exc.field, str(exc), instance=path)) from None
        except Forbidden as exc:
            raise Problem(problems.problem(403, str(exc), instance=path)) from None
        detail = incident_detail(session, incident_id)
        assert detail is not None
        answer = detail_json(detail, roles.holders(session, incident_id))
    ctx.wake()
    return JSONResponse(answer, status_code=201, headers={"Location": f"{BASE}/{incident_id}"})


async def declare(ctx: ApiContext, request: Request) -> Response:
    raw = await request.body()
    return await run(ctx, request, lambda: _declare(ctx, request, raw))


_ROLE = {"name": "name", "in": "path", "required": True, "description": "The role",
         "schema": {"enum": list(roles.ROLES)}}
_ROLE_RESPONSES = {
    "200": json_body({"type": "object", "required": ["changed", "incident", "roles"],
                      "properties": {"changed": {"type": "boolean"},
                                     "incident": ref("Incident"),
                                     "roles": {"type": "object"}}},
                     "Done (or already so: changed is false)"),
    "403": problem("The key's user may not act on this incident"),
    **_COMMON_ERRORS,
    "404": problem("No such incident or role"),
}
SET_ROLE: Operation = {
    "operationId": "setIncidentRole",
    "summary": "Take a role (no user) or give it to someone (a member of any team)",
    "tags": ["incidents"],
    "parameters": [_ID, _ROLE],
    "requestBody": {"required": False, "content": {"application/json": {"schema": _object(
        {"user": {"type": "string", "maxLength": 320,
                  "description": "Email of the new holder; omitted: the key's user"}}, [])}}},
    "responses": {
        **_ROLE_RESPONSES,
        "400": problem("The body is not JSON"),
        "413": problem("The body is larger than 1 MB"),
        "415": problem("The body is not JSON"),
        "422": problem("The user is not a member of any team"),
    },
}
CLEAR_ROLE: Operation = {
    "operationId": "clearIncidentRole",
    "summary": "Nobody holds the role any more",
    "tags": ["incidents"],
    "parameters": [_ID, _ROLE],
    "responses": _ROLE_RESPONSES,
}


def _change_role(ctx: ApiContext, request: Request, raw: bytes, incident_id: int,
                 role: str) -> Response:
    now = ctx.clock()
    path = request.url.path
    with write_session(ctx.engine) as session:
        actor = authenticate(session, request, now)
        if role not in roles.ROLES:
            raise Problem(problems.problem(
                404, f"no role {role!r}: the roles are {', '.join(roles.ROLES)}",
                instance=path))
        try:
            if request.method == "DELETE":
                outcome = service.clear_role(session, incident_id, actor, role, now)
            else:
                body = parse_body(request, raw, RoleBody)
                outcome = service.assign_role(session, incident_id, actor, role, body.user,
                                              now)
        except Forbidden as exc:
            raise Problem(problems.problem(403, str(exc), instance=path)) from None
        except service.NotFound as exc:
            raise Problem(problems.problem(404, str(exc), instance=path)) from None
        except service.Rejected as exc:
            raise Problem(problems.unprocessable(exc.field, str(exc), instance=path)) from None
        detail = incident_detail(session, incident_id)
        assert detail is not None
        answer = {"changed": outcome.changed, "incident": incident_json(detail.item),
                  "roles": roles.as_json(outcome.holders)}
    return JSONResponse(answer)


async def change_role(ctx: ApiContext, request: Request) -> Response:
    try:
        incident_id = _incident_id(request)
    except Problem as p:
        return p.response
    role = str(request.path_params["name"])
    raw = await request.body()
    return await run(ctx, request, lambda: _change_role(ctx, request, raw, incident_id, role))


class RunbookBody(_Body):
    params: dict[str, Any] = Field(default_factory=dict)


RUN_RUNBOOK: Operation = {
    "operationId": "runIncidentRunbook",
    "summary": "Run one of the service's automated runbooks on the incident",
    "description": (
        "Queues one run of a runbook the incident's service lists (`runbooks: [{runbook: "
        "NAME}]`) and that is in the applied config. `params` are validated against the "
        "runbook's JSON Schema, its defaults applied, before anything is queued; each "
        "problem is named in invalid-params. The worker calls the runbook, retries it as "
        "configured and writes the result (status and a response excerpt) on the timeline. "
        "Only platform admins and the owning team's responders and admins may run one. "
        "With an Idempotency-Key header, asking again with the same key queues nothing new."),
    "tags": ["incidents"],
    "parameters": [
        _ID,
        {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "maxLength": 63}},
        {"name": "Idempotency-Key", "in": "header", "required": False,
         "schema": {"type": "string", "maxLength": 100}},
    ],
    "requestBody": {"required": False, "content": {"application/json": {
        "schema": _object({"params": {"type": "object"}}, [])}}},
    "responses": {
        "202": json_body(ref("RunbookRun"), "Queued (queued is false: queued before)"),
        "400": problem("The body is not JSON"),
        "403": problem("The key's user may not run runbooks on this incident"),
        "413": problem("The body is larger than 1 MB"),
        "415": problem("The body is not JSON"),
        "422": problem("A parameter is invalid; invalid-params names each"),
        **_COMMON_ERRORS,
        "404": problem("No such incident, or the service does not offer the runbook"),
    },
}


def _run_runbook(ctx: ApiContext, request: Request, raw: bytes, incident_id: int,
                 name: str) -> Response:
    now = ctx.clock()
    path = request.url.path
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key.strip()) <= 100:
        raise Problem(problems.unprocessable(
            "Idempotency-Key", "must be 1 to 100 characters", instance=path))
    with write_session(ctx.engine) as session:
        actor = authenticate(session, request, now)
        body = parse_body(request, raw, RunbookBody)
        config = ctx.config(session)
        try:
            done = runbooks.run_runbook(
                session, config, incident_id, actor, name, body.params, now,
                request=f"{actor.user_id}:{key.strip()}" if key else None)
        except service.NotFound as exc:
            raise Problem(problems.problem(404, str(exc), instance=path)) from None
        except Forbidden as exc:
            raise Problem(problems.problem(403, str(exc), instance=path)) from None
        except runbooks.NotRunnable as exc:
            raise Problem(problems.problem(404, str(exc), instance=path)) from None
        except runbooks.Rejected as exc:
            found = [(f"params.{k}" if k else "params", v) for k, v in exc.problems.items()]
            raise Problem(problems.unprocessable(found[0][0], found[0][1], found,
                                                 instance=path)) from None
    if done.queued:
        ctx.wake()
    return JSONResponse({"incident": incident_id, "runbook": done.runbook, "run": done.run,
                         "params": done.params, "queued": done.queued}, status_code=202)


async def run_runbook(ctx: ApiContext, request: Request) -> Response:
    try:
        incident_id = _incident_id(request)
    except Problem as p:
        return p.response
    name = str(request.path_params["name"])
    raw = await request.body()
    return await run(ctx, request, lambda: _run_runbook(ctx, request, raw, incident_id, name))


ONE = BASE + "/{incident_id}"


def openapi_paths() -> dict[str, Any]:
    return {
        BASE: {"get": INDEX, "post": DECLARE},
        ONE: {"get": SHOW},
        ONE + "/escalate": {"post": ESCALATE},
        ONE + "/roles/{name}": {"put": SET_ROLE, "delete": CLEAR_ROLE},
        ONE + "/acknowledge": {"post": ACKNOWLEDGE},
        ONE + "/resolve": {"post": RESOLVE},
        ONE + "/notes": {"post": ADD_NOTE},
        ONE + "/reassign": {"post": REASSIGN},
        ONE + "/priority": {"post": CHANGE_PRIORITY},
        ONE + "/runbooks/{name}": {"post": RUN_RUNBOOK},
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    one = BASE + "/{incident_id:int}"
    return [
        Route(BASE, bind(index, ctx), methods=["GET"], name="incidents"),
        Route(BASE, bind(declare, ctx), methods=["POST"], name="incident-declare"),
        Route(one, bind(show, ctx), methods=["GET"], name="incident"),
        Route(one + "/escalate", bind(escalate, ctx), methods=["POST"],
              name="incident-escalate"),
        Route(one + "/roles/{name}", bind(change_role, ctx), methods=["PUT", "DELETE"],
              name="incident-role"),
        Route(one + "/acknowledge", bind(acknowledge, ctx), methods=["POST"],
              name="incident-acknowledge"),
        Route(one + "/resolve", bind(resolve, ctx), methods=["POST"], name="incident-resolve"),
        Route(one + "/notes", bind(add_note, ctx), methods=["POST"], name="incident-notes"),
        Route(one + "/reassign", bind(reassign, ctx), methods=["POST"],
              name="incident-reassign"),
        Route(one + "/priority", bind(change_priority, ctx), methods=["POST"],
              name="incident-priority"),
        Route(one + "/runbooks/{name}", bind(run_runbook, ctx), methods=["POST"],
              name="incident-runbook"),
    ]
