"""`POST /api/v1/integrations/{name}/changes`: a change (a deploy, a flag flip, a migration)
reported by an integration, in PagerDuty's change event shape.

It is authenticated exactly as the integration's alerts are (`oncall.api.ingest`: its bearer
secret, its HMAC signature with the same replay guard, or HTTP Basic for a cloudwatch
integration with a secret; SNS messages carry alerts only), and stored against the
integration's service, where a postmortem's timeline finds it. Nothing is paged and nothing
is queued: a change is context, not an alert.

Order of checks, each a problem document: unknown integration 404; credentials 401 (nothing
stored); media type 415; JSON and shape 400 naming the field; a signed request seen before
409; the database unreachable 503 with Retry-After.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext, database_unavailable
from oncall.api.ingest import applied_integration, authenticate_delivery, media_type, unauthorized
from oncall.api.openapi import UNAVAILABLE, json_body, problem
from oncall.api.routing import Operation, bind
from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.db.engine import write_session
from oncall.ingest import auth, limits, replays
from oncall.store import changes

log = logging.getLogger(__name__)

PATH = "/api/v1/integrations/{name}/changes"
MAX_SUMMARY = 1024
MAX_SOURCE = 1024
MAX_LINKS = 20
MAX_URL = 2048


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Link(_Body):
    href: str = Field(min_length=1, max_length=MAX_URL)
    text: str | None = Field(None, max_length=1024)

    @field_validator("href")
    @classmethod
    def _web(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("a link starts with https:// or http://")
        return value


class Payload(_Body):
    summary: str = Field(min_length=1, max_length=MAX_SUMMARY)
    timestamp: datetime | None = None
    """ISO 8601; without an offset, UTC. Absent: when it was received."""
    source: str | None = Field(None, max_length=MAX_SOURCE)
    custom_details: dict[str, Any] | None = None

    @field_validator("summary")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the summary is empty")
        return value.strip()

    @field_validator("timestamp", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("expected an ISO 8601 date and time")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("expected an ISO 8601 date and time, e.g. "
                             "2026-11-25T12:00:00Z") from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class ChangeEvent(_Body):
    """PagerDuty's change event (Events API v2): `routing_key` is accepted and ignored, the
    integration in the path says where the change belongs."""

    routing_key: str | None = Field(None, max_length=256)
    payload: Payload
    links: list[Link] = Field(default_factory=list, max_length=MAX_LINKS)


def _has_nul(value: Any) -> bool:
    """PostgreSQL's text and JSONB hold no NUL character: refused up front, never a 500."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def parse(raw: bytes, path: str) -> ChangeEvent | Response:
    """The change event, or the 400 naming what is wrong with it."""
    try:
        data: Any = limits.loads(raw)
    except limits.TooDeep as exc:
        return problems.problem(400, f"the body is not acceptable JSON: {exc}", instance=path)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return problems.problem(400, f"the body is not valid JSON: {exc}", instance=path)
    found = validate(data)
    if isinstance(found, ChangeEvent):
        return found
    return problems.problem(400, f"{found[0][0] or 'body'}: {found[0][1]}", instance=path,
                            invalid_params=found)


def validate(data: Any) -> ChangeEvent | list[tuple[str, str]]:
    """The change event in parsed JSON, or what is wrong with it as (field, reason) pairs
    (field `` is the body); shared with PagerDuty's own `/v2/change/enqueue`."""
    if not isinstance(data, dict):
        return [("", "expected a JSON object")]
    if _has_nul(data):
        return [("", "must not contain NUL characters")]
    try:
        return ChangeEvent.model_validate(data)
    except ValidationError as exc:
        found = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            reason = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            found.append((loc, reason.removeprefix("Value error, ")))
        return found


def store(ctx: ApiContext, config: ConfigSet, integration: Integration, event: ChangeEvent,
          mark: replays.Mark | None, now: datetime) -> int:
    """Record the change against the integration's service, in one transaction; its id."""
    payload = event.payload
    with write_session(ctx.engine) as session:
        ctx.ingest.claim(session, mark)
        conn = session.connection()
        return changes.record(
            conn, integration=integration.name,
            service_id=ctx.services.id_of(conn, config, integration.service),
            summary=payload.summary, source=payload.source,
            links=[link.model_dump(exclude_none=True) for link in event.links],
            details=payload.custom_details, occurred_at=payload.timestamp or now,
            received_at=now)


async def receive(ctx: ApiContext, request: Request) -> Response:
    name = request.path_params["name"]
    path = request.url.path
    body = await request.body()
    now = ctx.clock()
    found = await applied_integration(ctx, name, path)
    if isinstance(found, Response):
        return found
    config, integration = found
    try:
        proof = authenticate_delivery(ctx, integration, request, body, now)
        if integration.type == "cloudwatch" and integration.secret is None:
            raise auth.AuthError("a cloudwatch integration without a secret takes SNS alerts "
                                 "only")
    except auth.AuthError as exc:
        log.info("changes %s: refused: %s", name, exc)
        return unauthorized(integration, path)
    media = media_type(request)
    if media is not None and media != "application/json" and not media.endswith("+json"):
        return problems.problem(415, f"expected application/json, got {media}", instance=path)
    event = parse(body, path)
    if isinstance(event, Response):
        return event
    mark = (replays.Mark(integration.name, proof.digest, proof.expires_at)
            if proof is not None else None)
    try:
        change_id = await run_in_threadpool(store, ctx, config, integration, event, mark, now)
    except replays.Replayed as exc:
        log.warning("changes %s: refused a replayed signed request: %s", name, exc)
        return problems.problem(
            409, "this signed request was accepted before; nothing was stored again",
            instance=path)
    except Exception as exc:
        if database_unavailable(exc):
            return problems.unavailable(ctx.retry_after, instance=path)
        raise
    return JSONResponse({"status": "accepted", "id": change_id}, status_code=202)


_LINK = {"type": "object", "required": ["href"], "additionalProperties": False,
         "properties": {"href": {"type": "string", "format": "uri", "maxLength": MAX_URL},
                        "text": {"type": "string", "maxLength": 1024}}}

RECEIVE_CHANGE: Operation = {
    "operationId": "postChangeEvent",
    "summary": "Report a change (a deploy, a flag flip) in PagerDuty's change event shape",
    "description": (
        "Authenticated as the integration's alerts are. Stored against the integration's "
        "service; postmortems of incidents of that service (and the services depending on "
        "it) show it on their timeline when it falls in their window. `timestamp` (ISO "
        "8601, default: when received) is when the change happened. See "
        "docs/integrations.md."),
    "tags": ["ingest"],
    "security": [{"integrationBearer": []}, {"integrationHmac": []}],
    "parameters": [{
        "name": "name", "in": "path", "required": True,
        "description": "The Integration's name in the config",
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$", "maxLength": 63},
    }],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object",
        "required": ["payload"],
        "additionalProperties": False,
        "properties": {
            "routing_key": {"type": "string", "maxLength": 256,
                            "description": "Accepted and ignored"},
            "payload": {
                "type": "object",
                "required": ["summary"],
                "additionalProperties": False,
                "properties": {
                    "summary": {"type": "string", "minLength": 1, "maxLength": MAX_SUMMARY},
                    "timestamp": {"type": "string", "format": "date-time"},
                    "source": {"type": "string", "maxLength": MAX_SOURCE},
                    "custom_details": {"type": "object"},
                },
            },
            "links": {"type": "array", "maxItems": MAX_LINKS, "items": _LINK},
        },
    }}}},
    "responses": {
        "202": json_body({"type": "object", "required": ["status", "id"],
                          "properties": {"status": {"const": "accepted"},
                                         "id": {"type": "integer"}}},
                         "Stored; the change event's id"),
        "400": problem("The body is not JSON or not a change event; invalid-params names "
                       "the field"),
        "401": problem("Missing or wrong credentials; nothing was stored"),
        "404": problem("No integration of that name is applied"),
        "409": problem("A signed request already accepted (HMAC replay); nothing was stored "
                       "again"),
        "413": problem("The body is larger than 1 MB"),
        "415": problem("The body is not JSON"),
        "503": UNAVAILABLE,
    },
}


def openapi_paths() -> dict[str, Any]:
    return {PATH: {"post": RECEIVE_CHANGE}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [Route(PATH, bind(receive, ctx), methods=["POST"], name="changes")]
