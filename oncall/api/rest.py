"""What the REST routes share: the API key's person, JSON bodies parsed safely, problems
raised as exceptions and answered, sync database work run off the event loop."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from redis.exceptions import RedisError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from oncall.api import problems, throttle
from oncall.api.app import ApiContext, database_unavailable
from oncall.api.keys import actor_for_key, key_prefix
from oncall.incidents.actors import Actor
from oncall.ingest import limits

log = logging.getLogger(__name__)

MAX_ID = 2**63 - 1
"""The largest id a path may name (PostgreSQL's bigint): a larger one is simply not found."""
M = TypeVar("M", bound=BaseModel)


class Problem(Exception):
    """Answered as the problem document it carries."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def authenticate(session: Session, request: Request, now: datetime) -> Actor:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.strip().partition(" ")
    actor = None
    if scheme.lower() == "bearer" and token.strip():
        actor = actor_for_key(session, token.strip(), now)
    if actor is None:
        raise Problem(problems.problem(
            401, "a valid API key is required: Authorization: Bearer <key>",
            instance=request.url.path, headers={"WWW-Authenticate": 'Bearer realm="oncall"'},
        ))
    _within_limit(session, request, token)
    return actor


def _within_limit(session: Session, request: Request, token: str) -> None:
    """The key's call against its bucket (only a valid key has one): 429 when over."""
    app = request.scope.get("app")
    ctx = getattr(app.state, "ctx", None) if app is not None else None
    prefix = key_prefix(token)
    if ctx is None or prefix is None:
        return
    try:
        decision = throttle.admit_api_key(ctx, session.connection(), ctx.process.config(session),
                                          prefix)
    except RedisError as exc:  # fail open: the buckets are out of reach, the call is not
        log.warning("rate limit of API key %s not checked: %s", prefix, exc)
        return
    if not decision.allowed:
        raise Problem(throttle.too_many(decision, "this API key", request.url.path))


def no_nul(value: str, name: str, path: str) -> str:
    if "\x00" in value:
        raise Problem(problems.unprocessable(name, "must not contain NUL characters",
                                             instance=path))
    return value


def parse_body(request: Request, raw: bytes, model: type[M]) -> M:
    """The action's JSON body, parsed only after `authenticate` (an anonymous body is never
    parsed) and with the nesting limit of `oncall.ingest.limits` (400, never a 500)."""
    path = request.url.path
    if not raw.strip():
        data: Any = {}
    else:
        media = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media and media != "application/json" and not media.endswith("+json"):
            raise Problem(problems.problem(415, f"expected application/json, got {media}",
                                           instance=path))
        try:
            data = limits.loads(raw)
        except limits.TooDeep as exc:
            raise Problem(problems.problem(400, f"the body is not acceptable JSON: {exc}",
                                           instance=path)) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Problem(problems.problem(400, f"the body is not valid JSON: {exc}",
                                           instance=path)) from None
    if not isinstance(data, dict):
        raise Problem(problems.unprocessable("", "expected a JSON object", instance=path))
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        found = []
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"])
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            found.append((loc, msg))
        raise Problem(problems.unprocessable(found[0][0], found[0][1], found,
                                             instance=path)) from None
    for name, value in body.model_dump().items():
        if isinstance(value, str):
            no_nul(value, name, path)
    return body


async def run(ctx: ApiContext, request: Request, work: Callable[[], Response]) -> Response:
    try:
        return await run_in_threadpool(work)
    except Problem as p:
        return p.response
    except Exception as exc:
        if database_unavailable(exc):
            return problems.unavailable(ctx.retry_after, instance=request.url.path)
        raise
