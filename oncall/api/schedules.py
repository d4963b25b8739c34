"""Schedules for bots and scripts: who is on call, the final shifts, and the overrides made in
the app, all through `oncall.schedules_service`.

Every route authenticates with an API key. Reading is open to every valid key (schedules hold
names and addresses of people on call, nothing more); overrides are made and cancelled as the
key's user, by the same rule as in the web app (`schedules_service.may_override`: platform
admins and admins of the schedule's team for anyone, a responder of the team only for their own
shifts), and audited the same way. Answers come from the applied config with the app's
overrides laid over it, the same answer escalation, the web app and `oncall who` give.
Refusals: a bad parameter or body 422 naming it, an unknown schedule or override 404, a
refused permission 403, `replaces` no longer holding the window 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.api.openapi import UNAVAILABLE, json_body, problem
from oncall.api.rest import MAX_ID, Problem, authenticate, no_nul, parse_body, run
from oncall.api.routing import Operation, bind
from oncall.config.configset import ConfigSet
from oncall.config.models import Schedule
from oncall.core.schedule import Shift, shifts
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor, Forbidden
from oncall.schedules_service import (
    AppOverride,
    Conflict,
    Invalid,
    NotFound,
    TargetNow,
    active_overrides,
    cancel_override,
    create_override,
    effective_schedule,
    escalation_at,
    get_override,
    on_call_at,
)

ONCALL = "/api/v1/oncall"
SCHEDULES = "/api/v1/schedules"
SCHEDULE = SCHEDULES + "/{name}"
SHIFTS = SCHEDULE + "/shifts"
OVERRIDES = SCHEDULE + "/overrides"
OVERRIDE = OVERRIDES + "/{identifier}"
"""`identifier`: the override's id, as `id` in its answers."""
MAX_WINDOW = timedelta(days=90)
"""The longest `since`..`until` a listing of shifts or overrides may ask for."""
DEFAULT_SHIFTS = timedelta(days=7)
MAX_NAME = 255
EARLIEST = datetime(1971, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""Instants outside these are refused: far from both, schedule arithmetic would overflow."""


# --- parameters ---------------------------------------------------------------------------------


def bad(request: Request, param: str, reason: str) -> Problem:
    return Problem(problems.unprocessable(param, reason, instance=request.url.path))


def instant(request: Request, param: str, value: datetime) -> datetime:
    """`value` in UTC, or a 422 naming `param` when it is out of range."""
    try:
        found = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        found = LATEST
    if not EARLIEST <= found < LATEST:
        raise bad(request, param, "out of range: expected an instant between 1971 and 9000")
    return found


def query_time(request: Request, param: str) -> datetime | None:
    """An ISO 8601 instant from the query (`2026-11-25T12:00Z`; without an offset, UTC)."""
    raw = (request.query_params.get(param) or "").strip()
    if not raw:
        return None
    no_nul(raw, param, request.url.path)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise bad(request, param, "expected an ISO 8601 time like 2026-11-25T12:00:00Z") from None
    return instant(request, param, value)


def query_name(request: Request, param: str) -> str | None:
    raw = (request.query_params.get(param) or "").strip()
    if not raw:
        return None
    no_nul(raw, param, request.url.path)
    if len(raw) > MAX_NAME:
        raise bad(request, param, f"expected a name of at most {MAX_NAME} characters")
    return raw


def window(request: Request, now: datetime, default: timedelta) -> tuple[datetime, datetime]:
    """[since, until) from the query: since defaults to now, until to since + `default`; at most
    MAX_WINDOW long."""
    since = query_time(request, "since") or now
    until = query_time(request, "until")
    if until is None:
        until = min(since + default, LATEST)
    if until <= since:
        raise bad(request, "until", "must be after since")
    if until - since > MAX_WINDOW:
        raise bad(request, "until", f"the window is longer than {MAX_WINDOW.days} days: "
                                    "ask for a shorter one")
    return since, until


# --- answers ------------------------------------------------------------------------------------


def when(value: datetime) -> str:
    return value.isoformat()


def person(config: ConfigSet, email: str | None) -> dict[str, Any] | None:
    if email is None:
        return None
    user = config.users.get(email)
    return {"email": email, "name": user.name if user else None}


def shift_json(config: ConfigSet, s: Shift) -> dict[str, Any]:
    return {
        "start": when(s.start),
        "end": when(s.end),
        "user": person(config, s.who),
        "source": "gap" if s.who is None else s.source,
        "layer": s.layer,
    }


def on_call_json(session: Session, config: ConfigSet, schedule: Schedule,
                 at: datetime) -> dict[str, Any]:
    return {"schedule": schedule.name, "team": schedule.team,
            "timezone": schedule.timezone.key,
            **shift_json(config, on_call_at(session, schedule, at))}


def steps_json(config: ConfigSet, steps: list[list[TargetNow]]) -> list[dict[str, Any]]:
    return [
        {"step": index, "targets": [
            {"kind": t.kind, "ref": t.ref, "on_call": [person(config, p) for p in t.people]}
            for t in targets]}
        for index, targets in enumerate(steps, start=1)
    ]


def override_json(o: AppOverride) -> dict[str, Any]:
    return {"id": o.id, "schedule": o.schedule, "user": o.who, "replaces": o.replaces,
            "start": when(o.starts_at), "end": when(o.ends_at), "reason": o.reason,
            "created_by": o.created_by}


def schedule_json(s: Schedule) -> dict[str, Any]:
    return {"name": s.name, "team": s.team, "timezone": s.timezone.key,
            "description": s.description,
            "layers": [{"name": layer.name, "members": list(layer.members)}
                       for layer in s.layers]}


# --- plumbing -----------------------------------------------------------------------------------

Work = Callable[[Session, ConfigSet, Actor, datetime], Response]


def refusal(request: Request, exc: Exception) -> Problem:
    path = request.url.path
    if isinstance(exc, Forbidden):
        return Problem(problems.problem(403, str(exc), instance=path))
    if isinstance(exc, NotFound):
        return Problem(problems.problem(404, str(exc), instance=path))
    if isinstance(exc, Conflict):
        return Problem(problems.problem(409, str(exc), instance=path))
    field = exc.field if isinstance(exc, Invalid) else None
    return Problem(problems.unprocessable(field or "", str(exc), instance=path))


def reading(ctx: ApiContext, request: Request, work: Work) -> Callable[[], Response]:
    """Authenticate, then read, in one transaction."""

    def go() -> Response:
        now = ctx.clock()
        with Session(ctx.engine) as session, session.begin():
            actor = authenticate(session, request, now)
            try:
                return work(session, ctx.config(session), actor, now)
            except (Forbidden, Invalid) as exc:
                raise refusal(request, exc) from None

    return go


def _schedule(request: Request, config: ConfigSet) -> Schedule:
    name = str(request.path_params["name"])
    found = config.schedules.get(name)
    if found is None:
        raise Problem(problems.problem(404, f"no schedule {name[:MAX_NAME]!r}",
                                       instance=request.url.path))
    return found


def _override_id(request: Request) -> int:
    raw = str(request.path_params["identifier"])
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        raise Problem(problems.problem(404, f"no override {raw[:40]!r}",
                                       instance=request.url.path))
    return int(raw)


# --- handlers -----------------------------------------------------------------------------------


async def oncall(ctx: ApiContext, request: Request) -> Response:
    """Who is on call at `at` (default now): per schedule, and per step of a service's policy."""

    def work(session: Session, config: ConfigSet, _actor: Actor, now: datetime) -> Response:
        at = query_time(request, "at") or now
        schedule_name, service_name = query_name(request, "schedule"), query_name(request,
                                                                                  "service")
        if schedule_name is not None and schedule_name not in config.schedules:
            raise Problem(problems.problem(404, f"no schedule {schedule_name!r}",
                                           instance=request.url.path))
        if service_name is not None and service_name not in config.services:
            raise Problem(problems.problem(404, f"no service {service_name!r}",
                                           instance=request.url.path))
        service: dict[str, Any] | None = None
        names = sorted(config.schedules)
        if service_name is not None:
            found = config.services[service_name]
            policy = config.policies.get(found.escalation_policy or "")
            service = {"name": found.name, "team": found.team,
                       "escalation_policy": found.escalation_policy,
                       "steps": steps_json(config, escalation_at(session, config, found.name,
                                                                 at))}
            targets = [t for step in policy.steps for t in step.targets] if policy else []
            names = list(dict.fromkeys(t.ref for t in targets if t.kind == "schedule"
                                       and t.ref in config.schedules))
        if schedule_name is not None:
            names = [schedule_name]
        return JSONResponse({
            "at": when(at),
            "schedules": [on_call_json(session, config, config.schedules[n], at) for n in names],
            "service": service,
        })

    return await run(ctx, request, reading(ctx, request, work))


async def index(ctx: ApiContext, request: Request) -> Response:
    def work(_session: Session, config: ConfigSet, _actor: Actor, _now: datetime) -> Response:
        return JSONResponse({"items": [schedule_json(config.schedules[n])
                                       for n in sorted(config.schedules)]})

    return await run(ctx, request, reading(ctx, request, work))


async def list_shifts(ctx: ApiContext, request: Request) -> Response:
    """The final shifts of [since, until), the app's overrides laid on."""

    def work(session: Session, config: ConfigSet, _actor: Actor, now: datetime) -> Response:
        schedule = _schedule(request, config)
        since, until = window(request, now, DEFAULT_SHIFTS)
        found = shifts(effective_schedule(session, schedule, since, until), since, until)
        return JSONResponse({"schedule": schedule.name, "timezone": schedule.timezone.key,
                             "since": when(since), "until": when(until),
                             "shifts": [shift_json(config, s) for s in found]})

    return await run(ctx, request, reading(ctx, request, work))


async def list_overrides(ctx: ApiContext, request: Request) -> Response:
    """The app's live overrides of the schedule overlapping [since, until), oldest first."""

    def work(session: Session, config: ConfigSet, _actor: Actor, now: datetime) -> Response:
        schedule = _schedule(request, config)
        since, until = window(request, now, MAX_WINDOW)
        found = active_overrides(session, schedule.name, since, until)
        return JSONResponse({"schedule": schedule.name, "since": when(since),
                             "until": when(until), "items": [override_json(o) for o in found]})

    return await run(ctx, request, reading(ctx, request, work))


async def show_override(ctx: ApiContext, request: Request) -> Response:
    def work(session: Session, config: ConfigSet, _actor: Actor, _now: datetime) -> Response:
        schedule = _schedule(request, config)
        return JSONResponse(override_json(get_override(session, schedule.name,
                                                       _override_id(request))))

    return await run(ctx, request, reading(ctx, request, work))


class OverrideBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: AwareDatetime
    end: AwareDatetime
    user: str = Field(min_length=1, max_length=320, description="Who covers: a user's email")
    replaces: str | None = Field(None, min_length=1, max_length=320)
    reason: str | None = Field(None, max_length=2000)


async def add_override(ctx: ApiContext, request: Request) -> Response:
    """Give [start, end) of the schedule to `user`; 201 with the override and its Location."""
    raw = await request.body()

    def go() -> Response:
        now = ctx.clock()
        with write_session(ctx.engine) as session:
            actor = authenticate(session, request, now)
            body = parse_body(request, raw, OverrideBody)
            schedule = _schedule(request, ctx.config(session))
            start, end = instant(request, "start", body.start), instant(request, "end", body.end)
            try:
                made = create_override(
                    session, ctx.config(session), actor, schedule_name=schedule.name,
                    who=body.user, start=start, end=end, reason=body.reason, now=now,
                    replaces=body.replaces)
            except (Forbidden, Invalid) as exc:
                raise refusal(request, exc) from None
        location = f"{request.url.path.rstrip('/')}/{made.id}"
        return JSONResponse(override_json(made), status_code=201, headers={"Location": location})

    return await run(ctx, request, go)


async def delete_override(ctx: ApiContext, request: Request) -> Response:
    """Cancel an override: the schedule is as if it had never been made, from now on."""

    def go() -> Response:
        now = ctx.clock()
        with write_session(ctx.engine) as session:
            actor = authenticate(session, request, now)
            config = ctx.config(session)
            schedule = _schedule(request, config)
            try:
                cancel_override(session, config, actor, _override_id(request), now,
                                schedule_name=schedule.name)
            except (Forbidden, Invalid) as exc:
                raise refusal(request, exc) from None
        return Response(status_code=204)

    return await run(ctx, request, go)


# --- OpenAPI ------------------------------------------------------------------------------------

_STRING = {"type": "string"}
_NULLABLE = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
PERSON = {"type": ["object", "null"], "required": ["email", "name"],
          "properties": {"email": _STRING, "name": _NULLABLE}}
_SHIFT_FIELDS = {"start": _TIME, "end": _TIME, "user": PERSON,
                 "source": {"enum": ["layer", "override", "gap"]}, "layer": _NULLABLE}
_SHIFT = {"type": "object", "required": list(_SHIFT_FIELDS), "properties": _SHIFT_FIELDS}
_ON_CALL = {"type": "object",
            "required": ["schedule", "team", "timezone", *_SHIFT_FIELDS],
            "properties": {"schedule": _STRING, "team": _STRING, "timezone": _STRING,
                           **_SHIFT_FIELDS}}
STEPS = {"type": "array", "items": {
    "type": "object", "required": ["step", "targets"],
    "properties": {"step": {"type": "integer"}, "targets": {"type": "array", "items": {
        "type": "object", "required": ["kind", "ref", "on_call"],
        "properties": {"kind": {"enum": ["schedule", "user", "team"]}, "ref": _STRING,
                       "on_call": {"type": "array", "items": PERSON}}}}}}}
_OVERRIDE_FIELDS = {"id": {"type": "integer"}, "schedule": _STRING, "user": _STRING,
                    "replaces": _NULLABLE, "start": _TIME, "end": _TIME, "reason": _NULLABLE,
                    "created_by": _NULLABLE}
_OVERRIDE = {"type": "object", "required": list(_OVERRIDE_FIELDS),
             "properties": _OVERRIDE_FIELDS}
_SCHEDULE = {"type": "object",
             "required": ["name", "team", "timezone", "description", "layers"],
             "properties": {"name": _STRING, "team": _STRING, "timezone": _STRING,
                            "description": _NULLABLE,
                            "layers": {"type": "array", "items": {
                                "type": "object", "required": ["name", "members"],
                                "properties": {"name": _STRING, "members": {
                                    "type": "array", "items": _STRING}}}}}}

WHEN = {"type": "string", "description": "ISO 8601 instant; without an offset, UTC"}
_NAME = {"name": "name", "in": "path", "required": True, "description": "The schedule",
         "schema": {"type": "string"}}
_ID = {"name": "identifier", "in": "path", "required": True,
       "description": "The override's id", "schema": {"type": "string"}}
_SINCE = {"name": "since", "in": "query", "schema": WHEN}
_UNTIL = {"name": "until", "in": "query", "schema": WHEN}
AUTH = {"401": problem("Missing or invalid API key"), "503": UNAVAILABLE}
BAD_QUERY = problem("A parameter is invalid (a time, a window longer than 90 days); "
                    "invalid-params names it")
_NO_SCHEDULE = problem("No such schedule")


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": list(properties), "properties": properties}


ONCALL_OP: Operation = {
    "operationId": "whoIsOnCall",
    "summary": "Who is on call now or at a time",
    "description": (
        "Per schedule (all, the one named by `schedule`, or those of the service's policy), "
        "the shift holding `at` with the app's overrides applied; with `service`, who each "
        "step of its escalation policy would page at `at`."),
    "tags": ["schedules"],
    "parameters": [
        {"name": "at", "in": "query", "schema": WHEN},
        {"name": "schedule", "in": "query", "schema": {"type": "string",
                                                       "maxLength": MAX_NAME}},
        {"name": "service", "in": "query", "schema": {"type": "string", "maxLength": MAX_NAME}},
    ],
    "responses": {
        "200": json_body(_object({
            "at": _TIME, "schedules": {"type": "array", "items": _ON_CALL},
            "service": {"type": ["object", "null"],
                        "required": ["name", "team", "escalation_policy", "steps"],
                        "properties": {"name": _STRING, "team": _STRING,
                                       "escalation_policy": _NULLABLE, "steps": STEPS}},
        }), "Who is on call"),
        "404": problem("No such schedule or service"),
        "422": BAD_QUERY,
        **AUTH,
    },
}

INDEX_OP: Operation = {
    "operationId": "listSchedules", "summary": "The applied schedules", "tags": ["schedules"],
    "responses": {"200": json_body(_object({"items": {"type": "array", "items": _SCHEDULE}}),
                                   "The schedules, by name"), **AUTH},
}

SHIFTS_OP: Operation = {
    "operationId": "listShifts",
    "summary": "A schedule's final shifts over a window",
    "description": "Shifts tiling [since, until) (default: now and 7 days on; at most 90 "
                   "days), gaps included, with the app's overrides applied.",
    "tags": ["schedules"],
    "parameters": [_NAME, _SINCE, _UNTIL],
    "responses": {
        "200": json_body(_object({"schedule": _STRING, "timezone": _STRING, "since": _TIME,
                                  "until": _TIME,
                                  "shifts": {"type": "array", "items": _SHIFT}}), "The shifts"),
        "404": _NO_SCHEDULE, "422": BAD_QUERY, **AUTH,
    },
}

LIST_OVERRIDES_OP: Operation = {
    "operationId": "listOverrides",
    "summary": "Overrides made in the app",
    "description": "Live overrides of the schedule overlapping [since, until) (default: now "
                   "and 90 days on; at most 90 days), oldest first: a later one wins.",
    "tags": ["schedules"],
    "parameters": [_NAME, _SINCE, _UNTIL],
    "responses": {
        "200": json_body(_object({"schedule": _STRING, "since": _TIME, "until": _TIME,
                                  "items": {"type": "array", "items": _OVERRIDE}}),
                         "The overrides"),
        "404": _NO_SCHEDULE, "422": BAD_QUERY, **AUTH,
    },
}

SHOW_OVERRIDE_OP: Operation = {
    "operationId": "getOverride", "summary": "One live override", "tags": ["schedules"],
    "parameters": [_NAME, _ID],
    "responses": {"200": json_body(_OVERRIDE, "The override"),
                  "404": problem("No such schedule, or no live override of it by that id"),
                  **AUTH},
}

ADD_OVERRIDE_OP: Operation = {
    "operationId": "createOverride",
    "summary": "Give a window of a schedule to someone",
    "description": (
        "Platform admins and admins of the schedule's team may give anyone's time; a "
        "responder of the team only their own shifts. With `replaces`, only if that person "
        "is on call for the whole window now (409 otherwise). At most 90 days, ending in the "
        "future, whole seconds."),
    "tags": ["schedules"],
    "parameters": [_NAME],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False, "required": ["start", "end", "user"],
        "properties": {"start": _TIME, "end": _TIME,
                       "user": {"type": "string", "minLength": 1, "maxLength": 320},
                       "replaces": {"type": ["string", "null"], "minLength": 1,
                                    "maxLength": 320},
                       "reason": {"type": ["string", "null"], "maxLength": 2000}}}}}},
    "responses": {
        "201": {**json_body(_OVERRIDE, "The override made"),
                "headers": {"Location": {"description": "The override's URL",
                                         "schema": {"type": "string"}}}},
        "400": problem("The body is not JSON"),
        "403": problem("The key's user may not override this window"),
        "404": _NO_SCHEDULE,
        "409": problem("`replaces` is not on call for the whole window"),
        "413": problem("The body is larger than 1 MB"),
        "415": problem("The body is not JSON"),
        "422": problem("The body is not of this shape, or the service refused a value (an "
                       "unknown user, a window too long or in the past); invalid-params "
                       "names the field"),
        **AUTH,
    },
}

DELETE_OVERRIDE_OP: Operation = {
    "operationId": "cancelOverride", "summary": "Cancel an override", "tags": ["schedules"],
    "parameters": [_NAME, _ID],
    "responses": {
        "204": {"description": "Cancelled"},
        "403": problem("The key's user may not cancel it"),
        "404": problem("No such schedule, or no live override of it by that id"),
        **AUTH,
    },
}


def openapi_paths() -> dict[str, Any]:
    return {
        ONCALL: {"get": ONCALL_OP},
        SCHEDULES: {"get": INDEX_OP},
        SHIFTS: {"get": SHIFTS_OP},
        OVERRIDES: {"get": LIST_OVERRIDES_OP, "post": ADD_OVERRIDE_OP},
        OVERRIDE: {"get": SHOW_OVERRIDE_OP, "delete": DELETE_OVERRIDE_OP},
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [
        Route(ONCALL, bind(oncall, ctx), methods=["GET"], name="oncall"),
        Route(SCHEDULES, bind(index, ctx), methods=["GET"], name="schedules"),
        Route(SHIFTS, bind(list_shifts, ctx), methods=["GET"], name="schedule-shifts"),
        Route(OVERRIDES, bind(list_overrides, ctx), methods=["GET"], name="schedule-overrides"),
        Route(OVERRIDES, bind(add_override, ctx), methods=["POST"], name="add-override"),
        Route(OVERRIDE, bind(show_override, ctx), methods=["GET"], name="schedule-override"),
        Route(OVERRIDE, bind(delete_override, ctx), methods=["DELETE"],
              name="cancel-override"),
    ]
