"""The postmortems REST API: open, read, edit and export postmortems and their action items,
all through `oncall.postmortems.service`.

Every request authenticates with an API key and acts as the key's user with that user's
current roles; who may read and edit which postmortem is decided in one place
(`oncall.postmortems.access`). The service's refusals map to problem documents: `Invalid` 400,
`Forbidden` 403, `NotFound` 404 (also for a draft the key's user may not read, so its
existence is not confirmed), `Conflict` 409 with the version now saved and who saved it. A
body that is not the operation's shape is a 422 naming the field, as in the incidents API.
Edits write no outbox rows (a postmortem's events are about the postmortem, never on an
incident's timeline), so nothing wakes the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection
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
from oncall.core.postmortem import SEVERITIES, Entry, ItemStatus, KeyFigures, Status
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor, Forbidden
from oncall.postmortems import export, queries, service
from oncall.postmortems.queries import Item, NotFound, Postmortem, Summary

BASE = "/api/v1/postmortems"
ITEMS = "/api/v1/action-items"
ONE = BASE + "/{postmortem_id:int}"
ITEM = ITEMS + "/{item_id:int}"
B = TypeVar("B", bound=BaseModel)
MAX_ENTRY_KEY = 40

IncidentId = Annotated[int, Field(ge=1, le=MAX_ID)]


# --- request bodies -----------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenBody(_Body):
    incidents: list[IncidentId] = Field(min_length=1, max_length=service.MAX_INCIDENTS)
    title: str | None = Field(None, max_length=service.MAX_TITLE)
    template: str | None = Field(None, max_length=63)
    severity: str | None = Field(None, max_length=8)
    owner: str | None = Field(None, max_length=320, description="The owner's email")


class SaveBody(_Body):
    version: int = Field(ge=0, le=MAX_ID)
    title: str | None = Field(None, max_length=service.MAX_TITLE)
    body: str | None = Field(None, max_length=service.MAX_BODY)
    severity: str | None = Field(None, max_length=8)
    owner: str | None = Field(None, max_length=320)
    status: str | None = Field(None, max_length=16)


class LinkBody(_Body):
    incidents: list[IncidentId] = Field(min_length=1, max_length=service.MAX_INCIDENTS)


class ChooseBody(_Body):
    kept: bool
    note: str | None = Field(None, max_length=service.MAX_NOTE)


class AddItemBody(_Body):
    title: str = Field(min_length=1, max_length=service.MAX_TITLE)
    owner: str | None = Field(None, max_length=320)
    due_on: str | None = Field(None, max_length=32, description="YYYY-MM-DD")
    url: str | None = Field(None, max_length=2048)


class UpdateItemBody(_Body):
    title: str | None = Field(None, max_length=service.MAX_TITLE)
    owner: str | None = Field(None, max_length=320)
    due_on: str | None = Field(None, max_length=32, description="YYYY-MM-DD; \"\" clears it")
    url: str | None = Field(None, max_length=2048)
    status: str | None = Field(None, max_length=16)


# --- serialisation ------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _seconds(value: Any) -> float | None:
    return value.total_seconds() if value is not None else None


def figures_json(f: KeyFigures) -> dict[str, Any]:
    return {
        "started_at": _time(f.started_at),
        "time_to_acknowledge_seconds": _seconds(f.time_to_acknowledge),
        "time_to_resolve_seconds": _seconds(f.time_to_resolve),
        "people_paged": list(f.people_paged),
        "pages": f.pages,
        "pages_by_channel": dict(f.pages_by_channel),
        "night_pages": f.night_pages,
        "night_pages_by_person": dict(f.night_pages_by_person),
    }


def entry_json(e: Entry) -> dict[str, Any]:
    return {"key": e.key, "at": e.at.isoformat(), "kind": e.kind.value, "text": e.text,
            "actor": e.actor, "incident_id": e.incident_id, "kept": e.kept, "note": e.note,
            "chosen": e.chosen}


def item_json(i: Item, today: date) -> dict[str, Any]:
    return {
        "id": i.id,
        "postmortem_id": i.postmortem_id,
        "postmortem_title": i.postmortem_title,
        "title": i.title,
        "owner": i.owner,
        "status": i.status,
        "due_on": i.due_on.isoformat() if i.due_on else None,
        "overdue": i.overdue(today),
        "url": i.url,
        "teams": list(i.teams),
        "created_at": _time(i.created_at),
        "completed_at": _time(i.completed_at),
    }


def _fields(pm: Postmortem | Summary) -> dict[str, Any]:
    return {"id": pm.id, "title": pm.title, "status": pm.status, "severity": pm.severity,
            "owner": pm.owner, "teams": list(pm.teams), "updated_at": _time(pm.updated_at),
            "published_at": _time(pm.published_at)}


def summary_json(s: Summary) -> dict[str, Any]:
    return {**_fields(s), "incidents": list(s.incident_ids), "open_items": s.open_items}


def view_json(v: service.View, today: date) -> dict[str, Any]:
    pm = v.postmortem
    return {
        **_fields(pm),
        "template": pm.template,
        "body": pm.body,
        "version": pm.version,
        "created_by": pm.created_by,
        "created_at": _time(pm.created_at),
        "updated_by": pm.updated_by,
        "can_edit": v.can_edit,
        "incidents": [{"id": i.id, "title": i.title, "service": i.service, "team": i.team,
                       "priority": i.priority, "status": i.status,
                       "triggered_at": _time(i.triggered_at),
                       "acknowledged_at": _time(i.acknowledged_at),
                       "resolved_at": _time(i.resolved_at)} for i in pm.incidents],
        "figures": figures_json(v.figures),
        "timeline": [entry_json(e) for e in v.timeline],
        "action_items": [item_json(i, today) for i in pm.items],
    }


# --- request helpers ----------------------------------------------------------------------------


def _id(request: Request, name: str, what: str) -> int:
    value: int = request.path_params[name]
    if value < 1 or value > MAX_ID:
        raise Problem(problems.problem(404, f"no {what} #{value}", instance=request.url.path))
    return value


def _query(request: Request, name: str, allowed: tuple[str, ...] | None = None,
           limit: int = 320) -> str | None:
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    path = request.url.path
    no_nul(raw, name, path)
    if len(raw) > limit:
        raise Problem(problems.unprocessable(name, f"at most {limit} characters", instance=path))
    if allowed is not None and raw not in allowed:
        raise Problem(problems.unprocessable(
            name, f"unknown value {raw!r}: expected one of {', '.join(allowed)}",
            instance=path))
    return raw


def _refusal(exc: Exception, path: str) -> Problem:
    """The problem a service refusal is answered with."""
    if isinstance(exc, service.Conflict):
        current = exc.current
        return Problem(problems.problem(409, str(exc), instance=path, extra={
            "current_version": current.version, "updated_by": current.updated_by,
            "updated_at": _time(current.updated_at)}))
    status = 403 if isinstance(exc, Forbidden) else 404 if isinstance(exc, NotFound) else 400
    return Problem(problems.problem(status, str(exc), instance=path))


@dataclass
class Call:
    """One authenticated request's transaction: the session, its connection (what the
    service takes), who asks and when."""

    ctx: ApiContext
    session: Session
    actor: Actor
    now: datetime

    @property
    def conn(self) -> Connection:
        self.session.flush()
        return self.session.connection()

    @property
    def config(self) -> ConfigSet:
        return self.ctx.config(self.session)

    def view(self, postmortem_id: int) -> dict[str, Any]:
        return view_json(service.view(self.conn, self.config, self.actor, postmortem_id,
                                      self.now), self.now.date())


Work = Callable[[Call], Response]
Edit = Callable[[Call, B], Response]


def _reading(ctx: ApiContext, request: Request, work: Work) -> Response:
    """Authenticate, then read, in one transaction."""
    now = ctx.clock()
    with Session(ctx.engine) as session, session.begin():
        actor = authenticate(session, request, now)
        try:
            return work(Call(ctx, session, actor, now))
        except (Forbidden, NotFound, service.Invalid) as exc:
            raise _refusal(exc, request.url.path) from None


def _writing(ctx: ApiContext, request: Request, raw: bytes, model: type[B],
             edit: Edit[B]) -> Response:
    """Authenticate, parse the body, then change and answer in one write transaction (a
    refusal rolls everything back)."""
    now = ctx.clock()
    with write_session(ctx.engine) as session:
        actor = authenticate(session, request, now)
        body = parse_body(request, raw, model)
        try:
            return edit(Call(ctx, session, actor, now), body)
        except (Forbidden, NotFound, service.Invalid, service.Conflict) as exc:
            raise _refusal(exc, request.url.path) from None


async def _read(ctx: ApiContext, request: Request, work: Work) -> Response:
    return await run(ctx, request, lambda: _reading(ctx, request, work))


async def _write(ctx: ApiContext, request: Request, model: type[B], edit: Edit[B]) -> Response:
    raw = await request.body()
    return await run(ctx, request, lambda: _writing(ctx, request, raw, model, edit))


# --- handlers -----------------------------------------------------------------------------------


def _open(c: Call, body: OpenBody) -> Response:
    opened = service.open_postmortem(c.conn, c.config, c.actor, body.incidents, c.now,
                                     title=body.title or None, template=body.template or None,
                                     severity=body.severity or None, owner=body.owner or None)
    return JSONResponse(c.view(opened.id), status_code=201 if opened.created else 200)


async def open_postmortem(ctx: ApiContext, request: Request) -> Response:
    """Open a postmortem of the incidents; asked about one incident that has one, that one."""
    return await _write(ctx, request, OpenBody, _open)


async def index(ctx: ApiContext, request: Request) -> Response:
    """The postmortems the key's user may read, most recently changed first."""

    def work(c: Call) -> Response:
        status = _query(request, "status", tuple(s.value for s in Status))
        team = _query(request, "team", limit=255)
        found = service.readable_summaries(c.conn, c.actor, status=status, team=team)
        return JSONResponse({"items": [summary_json(s) for s in found]})

    return await _read(ctx, request, work)


async def show(ctx: ApiContext, request: Request) -> Response:
    def work(c: Call) -> Response:
        return JSONResponse(c.view(_id(request, "postmortem_id", "postmortem")))

    return await _read(ctx, request, work)


async def save(ctx: ApiContext, request: Request) -> Response:
    """Save an edit made on `version`: 409 with the current version if someone saved since."""

    def edit(c: Call, body: SaveBody) -> Response:
        postmortem_id = _id(request, "postmortem_id", "postmortem")
        service.save(c.conn, c.actor, postmortem_id, body.version, c.now, title=body.title,
                     body=body.body, severity=body.severity, owner=body.owner,
                     status=body.status)
        return JSONResponse(c.view(postmortem_id))

    return await _write(ctx, request, SaveBody, edit)


async def link(ctx: ApiContext, request: Request) -> Response:
    def edit(c: Call, body: LinkBody) -> Response:
        postmortem_id = _id(request, "postmortem_id", "postmortem")
        service.link_incidents(c.conn, c.actor, postmortem_id, body.incidents, c.now)
        return JSONResponse(c.view(postmortem_id))

    return await _write(ctx, request, LinkBody, edit)


class _NoBody(_Body):
    pass


async def unlink(ctx: ApiContext, request: Request) -> Response:
    def edit(c: Call, _body: _NoBody) -> Response:
        postmortem_id = _id(request, "postmortem_id", "postmortem")
        incident_id = _id(request, "incident_id", "incident")
        if not service.unlink_incident(c.conn, c.actor, postmortem_id, incident_id, c.now):
            raise NotFound(f"incident #{incident_id} is not reviewed by postmortem "
                           f"#{postmortem_id}")
        return JSONResponse(c.view(postmortem_id))

    return await _write(ctx, request, _NoBody, edit)


async def choose(ctx: ApiContext, request: Request) -> Response:
    """Keep or drop one timeline entry, with a note."""

    def edit(c: Call, body: ChooseBody) -> Response:
        postmortem_id = _id(request, "postmortem_id", "postmortem")
        key = str(request.path_params["entry_key"])
        if len(key) > MAX_ENTRY_KEY:
            raise service.Invalid(f"no timeline entry {key[:MAX_ENTRY_KEY]!r}…")
        service.choose(c.conn, c.actor, postmortem_id, key, body.kept, body.note, c.now)
        return JSONResponse({"key": key, "kept": body.kept, "note": body.note or None})

    return await _write(ctx, request, ChooseBody, edit)


async def add_item(ctx: ApiContext, request: Request) -> Response:
    def edit(c: Call, body: AddItemBody) -> Response:
        postmortem_id = _id(request, "postmortem_id", "postmortem")
        item_id = service.add_item(c.conn, c.actor, postmortem_id, c.now, title=body.title,
                                   owner=body.owner or None, due_on=body.due_on or None,
                                   url=body.url or None)
        return JSONResponse(item_json(queries.item(c.conn, item_id), c.now.date()),
                            status_code=201)

    return await _write(ctx, request, AddItemBody, edit)


async def update_item(ctx: ApiContext, request: Request) -> Response:
    """Change an action item; `owner`, `due_on` and `url` given as "" clear them."""

    def edit(c: Call, body: UpdateItemBody) -> Response:
        item_id = _id(request, "item_id", "action item")
        changed = service.update_item(c.conn, c.actor, item_id, c.now, title=body.title,
                                      owner=body.owner, due_on=body.due_on, url=body.url,
                                      status=body.status)
        return JSONResponse({"changed": changed,
                             "item": item_json(queries.item(c.conn, item_id), c.now.date())})

    return await _write(ctx, request, UpdateItemBody, edit)


async def delete_item(ctx: ApiContext, request: Request) -> Response:
    def edit(c: Call, _body: _NoBody) -> Response:
        service.delete_item(c.conn, c.actor, _id(request, "item_id", "action item"), c.now)
        return Response(status_code=204)

    return await _write(ctx, request, _NoBody, edit)


ITEM_STATUSES = (*(s.value for s in ItemStatus), "all")


async def items(ctx: ApiContext, request: Request) -> Response:
    """Action items across the postmortems the key's user may read, soonest due first."""

    def work(c: Call) -> Response:
        status = _query(request, "status", ITEM_STATUSES) or ItemStatus.OPEN.value
        found = service.readable_items(c.conn, c.actor, team=_query(request, "team", limit=255),
                                       owner=_query(request, "owner"),
                                       status=None if status == "all" else status)
        today = c.now.date()
        return JSONResponse({"items": [item_json(i, today) for i in found]})

    return await _read(ctx, request, work)


async def export_markdown(ctx: ApiContext, request: Request) -> Response:
    """The postmortem as one Markdown file to commit into a repository."""

    def work(c: Call) -> Response:
        view = service.view(c.conn, c.config, c.actor,
                            _id(request, "postmortem_id", "postmortem"), c.now)
        return Response(export.markdown(view), media_type="text/markdown; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{export.filename(view)}"'})

    return await _read(ctx, request, work)


# --- OpenAPI ------------------------------------------------------------------------------------

_STRING = {"type": "string"}
_NULLABLE = {"type": ["string", "null"]}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_SECONDS = {"type": ["number", "null"]}
_INTS = {"type": "array", "items": {"type": "integer"}}
_STRINGS = {"type": "array", "items": _STRING}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}


def _object(properties: dict[str, Any], required: list[str] | None = None,
            closed: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": properties,
                           "required": list(properties) if required is None else required}
    if closed:
        out["additionalProperties"] = False
    return out


_ITEM = _object({
    "id": {"type": "integer"}, "postmortem_id": {"type": "integer"},
    "postmortem_title": _STRING, "title": _STRING, "owner": _NULLABLE,
    "status": {"enum": [s.value for s in ItemStatus]},
    "due_on": {"type": ["string", "null"], "format": "date"}, "overdue": {"type": "boolean"},
    "url": _NULLABLE, "teams": _STRINGS, "created_at": _TIME, "completed_at": _NULLABLE_TIME,
})
_FIELDS = {
    "id": {"type": "integer"}, "title": _STRING,
    "status": {"enum": [s.value for s in Status]},
    "severity": {"type": ["string", "null"]}, "owner": _NULLABLE, "teams": _STRINGS,
    "updated_at": _TIME, "published_at": _NULLABLE_TIME,
}
_SUMMARY = _object({**_FIELDS, "incidents": _INTS, "open_items": {"type": "integer"}})
_POSTMORTEM = _object({
    **_FIELDS,
    "template": _NULLABLE, "body": _STRING, "version": {"type": "integer"},
    "created_by": _STRING, "created_at": _TIME, "updated_by": _STRING,
    "can_edit": {"type": "boolean"},
    "incidents": {"type": "array", "items": _object({
        "id": {"type": "integer"}, "title": _STRING, "service": _STRING, "team": _STRING,
        "priority": _NULLABLE, "status": _STRING, "triggered_at": _TIME,
        "acknowledged_at": _NULLABLE_TIME, "resolved_at": _NULLABLE_TIME})},
    "figures": _object({
        "started_at": _NULLABLE_TIME, "time_to_acknowledge_seconds": _SECONDS,
        "time_to_resolve_seconds": _SECONDS, "people_paged": _STRINGS,
        "pages": {"type": "integer"}, "pages_by_channel": _COUNTS,
        "night_pages": {"type": "integer"}, "night_pages_by_person": _COUNTS}),
    "timeline": {"type": "array", "items": _object({
        "key": _STRING, "at": _TIME, "kind": _STRING, "text": _STRING, "actor": _STRING,
        "incident_id": {"type": ["integer", "null"]}, "kept": {"type": "boolean"},
        "note": _NULLABLE, "chosen": {"type": "boolean"}})},
    "action_items": {"type": "array", "items": _ITEM},
})

_PM_ID = {"name": "postmortem_id", "in": "path", "required": True,
          "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
_ITEM_ID = {"name": "item_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
_INCIDENTS = {"type": "array", "minItems": 1, "maxItems": service.MAX_INCIDENTS,
              "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}
_SEVERITY = {"type": "string", "description": f"{', '.join(SEVERITIES)}; \"\" clears it"}
_EMAIL = {"type": "string", "maxLength": 320, "description": "A user's email"}

_AUTH = {"401": problem("Missing or invalid API key"), "503": UNAVAILABLE}
_BODY_ERRORS = {
    "400": problem("The body is not JSON, or the service refused a value (an unknown "
                   "template, severity, owner or status; an empty title)"),
    "413": problem("The body is larger than 1 MB"),
    "415": problem("The body is not JSON"),
    "422": problem("The body is not of this operation's shape; invalid-params names the "
                   "field"),
}
_NOT_FOUND = problem("No such postmortem (or one the key's user may not read)")
_FORBIDDEN = problem("The key's user may read but not edit it (not a responder or admin of "
                     "a team whose incidents it reviews)")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _edit_operation(op_id: str, summary: str, parameters: list[dict[str, Any]],
                    body: dict[str, Any] | None, ok: dict[str, Any],
                    **responses: dict[str, Any]) -> Operation:
    out: Operation = {
        "operationId": op_id, "summary": summary, "tags": ["postmortems"],
        "parameters": parameters,
        "responses": {**ok, **_BODY_ERRORS, "403": _FORBIDDEN, "404": _NOT_FOUND, **_AUTH,
                      **responses},
    }
    if body is not None:
        out["requestBody"] = _json(body)
    return out


OPEN = _edit_operation(
    "openPostmortem", "Open a postmortem of one or more incidents", [],
    _object({"incidents": _INCIDENTS, "title": {"type": "string", "maxLength": 1024},
             "template": {"type": "string", "maxLength": 63,
                          "description": "A PostmortemTemplate's name"},
             "severity": _SEVERITY, "owner": _EMAIL}, ["incidents"], closed=True),
    {"201": json_body(_POSTMORTEM, "Opened"),
     "200": json_body(_POSTMORTEM, "The one incident asked about has a postmortem: that one")})
OPEN["responses"]["404"] = problem("No such incident")
OPEN["responses"]["403"] = problem("The key's user may not open a postmortem of an incident")

INDEX: Operation = {
    "operationId": "listPostmortems", "summary": "Postmortems, most recently changed first",
    "tags": ["postmortems"],
    "parameters": [
        {"name": "status", "in": "query", "schema": {"enum": [s.value for s in Status]}},
        {"name": "team", "in": "query", "schema": {"type": "string", "maxLength": 255}},
    ],
    "responses": {
        "200": json_body(_object({"items": {"type": "array", "items": _SUMMARY}}),
                         "The postmortems the key's user may read"),
        "422": problem("A filter is invalid"), **_AUTH,
    },
}

SHOW: Operation = {
    "operationId": "getPostmortem",
    "summary": "One postmortem: fields, incidents, key figures, timeline, action items",
    "tags": ["postmortems"], "parameters": [_PM_ID],
    "responses": {"200": json_body(_POSTMORTEM, "The postmortem"), "404": _NOT_FOUND,
                  **_AUTH},
}

SAVE = _edit_operation(
    "savePostmortem", "Save an edit made on `version`", [_PM_ID],
    _object({"version": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
             "title": {"type": "string", "maxLength": 1024},
             "body": {"type": "string", "maxLength": service.MAX_BODY,
                      "description": "Markdown"},
             "severity": _SEVERITY, "owner": {**_EMAIL, "description": "\"\" clears it"},
             "status": {"enum": [s.value for s in Status]}}, ["version"], closed=True),
    {"200": json_body(_POSTMORTEM, "Saved (the new version)")},
    **{"409": problem("Someone saved since `version`: current_version, updated_by and "
                      "updated_at say who and when; nothing was saved")})

LINK = _edit_operation(
    "linkPostmortemIncidents", "Add incidents to the postmortem", [_PM_ID],
    _object({"incidents": _INCIDENTS}, closed=True),
    {"200": json_body(_POSTMORTEM, "The postmortem")})

UNLINK = _edit_operation(
    "unlinkPostmortemIncident", "Remove an incident from the postmortem",
    [_PM_ID, {"name": "incident_id", "in": "path", "required": True,
              "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID}}],
    None, {"200": json_body(_POSTMORTEM, "The postmortem")})
UNLINK["responses"]["400"] = problem("It is the postmortem's only incident")
UNLINK["responses"]["404"] = problem("No such postmortem, or it does not review the incident")

CHOOSE = _edit_operation(
    "choosePostmortemEntry", "Keep or drop one timeline entry, with a note",
    [_PM_ID, {"name": "entry_key", "in": "path", "required": True,
              "description": "The entry's key (event:12, change:3, config:4, notice:5)",
              "schema": {"type": "string", "pattern": "^[a-z]+:[0-9]+$",
                         "maxLength": MAX_ENTRY_KEY}}],
    _object({"kept": {"type": "boolean"},
             "note": {"type": ["string", "null"], "maxLength": service.MAX_NOTE}},
            ["kept"], closed=True),
    {"200": json_body(_object({"key": _STRING, "kept": {"type": "boolean"},
                               "note": _NULLABLE}), "Saved for everyone")})

ADD_ITEM = _edit_operation(
    "addActionItem", "Add an action item", [_PM_ID],
    _object({"title": {"type": "string", "minLength": 1, "maxLength": 1024},
             "owner": _EMAIL,
             "due_on": {"type": "string", "format": "date", "maxLength": 32},
             "url": {"type": "string", "maxLength": 2048,
                     "description": "A ticket link (http or https)"}},
            ["title"], closed=True),
    {"201": json_body(_ITEM, "Added")})

UPDATE_ITEM = _edit_operation(
    "updateActionItem", "Change an action item (owner, due_on, url: \"\" clears)", [_ITEM_ID],
    _object({"title": {"type": "string", "maxLength": 1024}, "owner": _EMAIL,
             "due_on": {"type": "string", "maxLength": 32}, "url": {"type": "string",
                                                                   "maxLength": 2048},
             "status": {"enum": [s.value for s in ItemStatus]}}, [], closed=True),
    {"200": json_body(_object({"changed": {"type": "boolean"}, "item": _ITEM}),
                      "Changed (or already so: changed is false)")})
UPDATE_ITEM["responses"]["404"] = problem("No such action item")

DELETE_ITEM = _edit_operation("deleteActionItem", "Delete an action item", [_ITEM_ID], None,
                              {"204": {"description": "Deleted"}})
DELETE_ITEM["responses"]["404"] = problem("No such action item")

ITEMS_INDEX: Operation = {
    "operationId": "listActionItems",
    "summary": "Action items across postmortems, soonest due first",
    "tags": ["postmortems"],
    "parameters": [
        {"name": "team", "in": "query", "schema": {"type": "string", "maxLength": 255}},
        {"name": "owner", "in": "query", "schema": _EMAIL},
        {"name": "status", "in": "query",
         "schema": {"enum": list(ITEM_STATUSES), "default": "open"}},
    ],
    "responses": {
        "200": json_body(_object({"items": {"type": "array", "items": _ITEM}}),
                         "The action items of postmortems the key's user may read"),
        "422": problem("A filter is invalid"), **_AUTH,
    },
}

EXPORT: Operation = {
    "operationId": "exportPostmortem", "summary": "The postmortem as a Markdown file",
    "tags": ["postmortems"], "parameters": [_PM_ID],
    "responses": {
        "200": {"description": "Markdown: header, key figures, the kept timeline with its "
                               "notes, action items, then the body",
                "content": {"text/markdown": {"schema": {"type": "string"}}}},
        "404": _NOT_FOUND, **_AUTH,
    },
}


def openapi_paths() -> dict[str, Any]:
    one = BASE + "/{postmortem_id}"
    return {
        BASE: {"get": INDEX, "post": OPEN},
        one: {"get": SHOW, "patch": SAVE},
        one + "/incidents": {"post": LINK},
        one + "/incidents/{incident_id}": {"delete": UNLINK},
        one + "/timeline/{entry_key}": {"put": CHOOSE},
        one + "/action-items": {"post": ADD_ITEM},
        one + "/export.md": {"get": EXPORT},
        ITEMS: {"get": ITEMS_INDEX},
        ITEMS + "/{item_id}": {"patch": UPDATE_ITEM, "delete": DELETE_ITEM},
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [
        Route(BASE, bind(index, ctx), methods=["GET"], name="postmortems"),
        Route(BASE, bind(open_postmortem, ctx), methods=["POST"], name="postmortem-open"),
        Route(ONE, bind(show, ctx), methods=["GET"], name="postmortem"),
        Route(ONE, bind(save, ctx), methods=["PATCH"], name="postmortem-save"),
        Route(ONE + "/incidents", bind(link, ctx), methods=["POST"],
              name="postmortem-link"),
        Route(ONE + "/incidents/{incident_id:int}", bind(unlink, ctx), methods=["DELETE"],
              name="postmortem-unlink"),
        Route(ONE + "/timeline/{entry_key}", bind(choose, ctx), methods=["PUT"],
              name="postmortem-choose"),
        Route(ONE + "/action-items", bind(add_item, ctx), methods=["POST"],
              name="postmortem-add-item"),
        Route(ONE + "/export.md", bind(export_markdown, ctx), methods=["GET"],
              name="postmortem-export"),
        Route(ITEMS, bind(items, ctx), methods=["GET"], name="action-items"),
        Route(ITEM, bind(update_item, ctx), methods=["PATCH"], name="action-item-update"),
        Route(ITEM, bind(delete_item, ctx), methods=["DELETE"], name="action-item-delete"),
    ]
