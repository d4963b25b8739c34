"""The API key's own person: their notification rules and a test page to themselves.

Rules are read and written through `oncall.contacts.rules`, the one writer of the
notification_rules table (the profile page uses the same operations), with its permission check
and audit events. A PUT replaces the rules of each urgency it names, in one transaction, after
checking every rule: a refusal (422) lists each offending field (`high[1].contact_method_id`)
and changes nothing. The test page is queued in the outbox like the profile page's.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.api.openapi import UNAVAILABLE, json_body, problem
from oncall.api.rest import MAX_ID, Problem, authenticate, parse_body, run
from oncall.api.routing import Operation, bind
from oncall.contacts.access import Invalid
from oncall.contacts.rules import (
    MAX_DELAY,
    URGENCIES,
    EffectiveRule,
    InvalidRules,
    NotificationRule,
    RuleSpec,
    effective_rules,
    notification_rules,
    replace_rules,
)
from oncall.core.notification_rules import Channel
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor, Forbidden
from oncall.web import profile

ME = "/api/v1/users/me"
RULES = ME + "/notification-rules"
TEST_PAGE = ME + "/test-page"
MAX_MINUTES = int(MAX_DELAY.total_seconds() // 60)
READ_ONLY = frozenset({"channel", "address", "usable"})
"""Fields of a rule that GET shows and PUT ignores, so a GET's lists can be sent back as is."""
MAX_RULES = 50
"""Per urgency: far more than anyone needs, few enough to check quickly."""


# --- answers ------------------------------------------------------------------------------------


def minutes(delay: timedelta) -> int:
    return int(delay.total_seconds() // 60)


def rule_json(rule: NotificationRule) -> dict[str, Any]:
    return {"delay_minutes": minutes(rule.delay), "contact_method_id": rule.contact_method_id,
            "channel": rule.channel, "address": rule.address, "usable": rule.usable}


def effective_json(rule: EffectiveRule) -> dict[str, Any]:
    return {"delay_minutes": minutes(rule.delay), "contact_method_id": rule.contact_method_id,
            "channel": rule.channel, "address": rule.address, "default": rule.default}


def rules_json(session: Session, actor: Actor, user_id: int, enabled: set[Channel]
               ) -> dict[str, Any]:
    """The person's rules, and what a page does now over the channels this installation has
    providers for (`ProviderSettings.channels`)."""
    own = notification_rules(session, actor, user_id)
    out: dict[str, Any] = {u: [rule_json(r) for r in own if r.urgency == u] for u in URGENCIES}
    out["effective"] = {
        u: [effective_json(r) for r in effective_rules(session, actor, user_id, u, enabled)]
        for u in URGENCIES}
    return out


# --- the body of a PUT --------------------------------------------------------------------------


class AnyObject(BaseModel):
    """Any JSON object: `specs` checks it field by field, naming each field as the API does."""

    model_config = ConfigDict(extra="allow")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def specs(body: dict[str, Any]) -> tuple[dict[str, list[RuleSpec]], list[tuple[str, str]]]:
    """The replacement lists of a PUT body, and the problems of its shape (a missing or
    non-integer field, a list that is not one)."""
    found: dict[str, list[RuleSpec]] = {}
    bad: list[tuple[str, str]] = []
    for urgency, items in body.items():
        if urgency == "effective":
            continue  # what GET shows; it cannot be set
        if urgency not in URGENCIES:
            bad.append((urgency, f"urgency must be one of {', '.join(URGENCIES)}, "
                                 f"not {urgency[:40]!r}"))
            continue
        if not isinstance(items, list):
            bad.append((urgency, "expected a list of rules"))
            continue
        if len(items) > MAX_RULES:
            bad.append((urgency, f"at most {MAX_RULES} rules per urgency"))
            continue
        found[urgency] = []
        for index, item in enumerate(items):
            at, before = f"{urgency}[{index}]", len(bad)
            if not isinstance(item, dict):
                bad.append((at, "expected an object with delay_minutes and contact_method_id"))
                continue
            for name in sorted(set(item) - {"delay_minutes", "contact_method_id"} - READ_ONLY):
                bad.append((f"{at}.{name[:40]}", "unknown field"))
            delay: Any = item.get("delay_minutes")
            method: Any = item.get("contact_method_id")
            if not _whole(delay):
                bad.append((f"{at}.delay_minutes", "expected a whole number of minutes"))
            elif not 0 <= delay <= MAX_MINUTES:
                bad.append((f"{at}.delay_minutes",
                            f"must be from 0 to {MAX_MINUTES} minutes"))
            if not _whole(method) or not 1 <= method <= MAX_ID:
                bad.append((f"{at}.contact_method_id", "expected the id of a contact method"))
            if len(bad) == before:
                found[urgency].append(RuleSpec(timedelta(minutes=delay), method))
    return found, bad


# --- handlers -----------------------------------------------------------------------------------


def _refused(request: Request, exc: Exception) -> Problem:
    path = request.url.path
    if isinstance(exc, Forbidden):
        return Problem(problems.problem(403, str(exc), instance=path))
    if isinstance(exc, InvalidRules):
        first = exc.problems[0]
        return Problem(problems.unprocessable(first[0], first[1], exc.problems, instance=path))
    return Problem(problems.unprocessable("", str(exc), instance=path))


def _user_id(request: Request, actor: Actor) -> int:
    if actor.user_id is None:  # an API key always acts as a person; kept for safety
        raise Problem(problems.problem(403, "the key acts as no person", instance=request.url.path))
    return actor.user_id


async def get_rules(ctx: ApiContext, request: Request) -> Response:
    """The key's person's own rules per urgency, and what a page of each would do now."""

    def go() -> Response:
        now = ctx.clock()
        with Session(ctx.engine) as session, session.begin():
            actor = authenticate(session, request, now)
            return JSONResponse(rules_json(session, actor, _user_id(request, actor),
                                           ctx.settings.providers.channels))

    return await run(ctx, request, go)


async def put_rules(ctx: ApiContext, request: Request) -> Response:
    """Replace the rules of the urgencies in the body; 200 with what GET then answers."""
    raw = await request.body()

    def go() -> Response:
        now = ctx.clock()
        with write_session(ctx.engine) as session:
            actor = authenticate(session, request, now)
            user_id = _user_id(request, actor)
            body = parse_body(request, raw, AnyObject).model_extra or {}
            found, bad = specs(body)
            if bad:
                raise Problem(problems.unprocessable(bad[0][0], bad[0][1], bad,
                                                     instance=request.url.path))
            try:
                replace_rules(session, actor, user_id, found, now)
            except (Forbidden, Invalid) as exc:
                raise _refused(request, exc) from None
            return JSONResponse(rules_json(session, actor, user_id,
                                           ctx.settings.providers.channels))

    return await run(ctx, request, go)


class TestPageBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    contact_method_id: int | None = None


async def test_page(ctx: ApiContext, request: Request) -> Response:
    """Queue a test notification to the person's verified methods (or the one named); 202."""
    raw = await request.body()

    def go() -> Response:
        now = ctx.clock()
        with write_session(ctx.engine) as session:
            actor = authenticate(session, request, now)
            _user_id(request, actor)
            body = parse_body(request, raw, TestPageBody)
            try:
                queued = profile.send_test_page(session, actor, body.contact_method_id, now)
            except profile.Invalid as exc:
                field = "contact_method_id" if body.contact_method_id is not None else ""
                raise Problem(problems.unprocessable(field, str(exc),
                                                     instance=request.url.path)) from None
        ctx.wake()
        return JSONResponse({"queued": queued}, status_code=202)

    return await run(ctx, request, go)


# --- OpenAPI ------------------------------------------------------------------------------------

_INT = {"type": "integer"}
_DELAY = {"type": "integer", "minimum": 0, "maximum": MAX_MINUTES,
          "description": "Minutes after the page"}
_CHANNEL = {"enum": ["push", "slack", "sms", "voice", "email"]}
_RULE_FIELDS = {"delay_minutes": _DELAY, "contact_method_id": _INT, "channel": _CHANNEL,
                "address": {"type": "string"},
                "usable": {"type": "boolean",
                           "description": "False while the method is unverified or off: the "
                                          "rule is skipped"}}
_RULE = {"type": "object", "required": list(_RULE_FIELDS), "properties": _RULE_FIELDS}
_EFFECTIVE_FIELDS = {"delay_minutes": _DELAY,
                     "contact_method_id": {"type": ["integer", "null"],
                                           "description": "null: the person's email or Slack "
                                                          "identity"},
                     "channel": _CHANNEL, "address": {"type": "string"},
                     "default": {"type": "boolean",
                                 "description": "From the defaults: no own rules for this "
                                                "urgency"}}
_EFFECTIVE = {"type": "object", "required": list(_EFFECTIVE_FIELDS),
              "properties": _EFFECTIVE_FIELDS}
_LIST = {"type": "array", "items": _RULE}
_PLANS = {"type": "array", "items": _EFFECTIVE}
_ANSWER = {"type": "object", "required": ["high", "low", "effective"],
           "properties": {"high": _LIST, "low": _LIST,
                          "effective": {"type": "object", "required": ["high", "low"],
                                        "properties": {"high": _PLANS, "low": _PLANS}}}}
_NEW_RULE = {"type": "object", "required": ["delay_minutes", "contact_method_id"],
             "properties": {"delay_minutes": _DELAY,
                            "contact_method_id": {"type": "integer", "minimum": 1,
                                                  "maximum": MAX_ID},
                            "channel": {"description": "Ignored"},
                            "address": {"description": "Ignored"},
                            "usable": {"description": "Ignored"}},
             "additionalProperties": False}
_NEW_LIST = {"type": "array", "items": _NEW_RULE, "maxItems": MAX_RULES}
AUTH = {"401": problem("Missing or invalid API key"),
        "429": problem("The API key is over its rate limit",
                       {"Retry-After": {"description": "Seconds to wait before retrying",
                                        "schema": {"type": "string"}}}),
        "503": UNAVAILABLE}
_BAD_BODY = {"400": problem("The body is not JSON"),
             "413": problem("The body is larger than 1 MB"),
             "415": problem("The body is not JSON")}

GET_RULES_OP: Operation = {
    "operationId": "getMyNotificationRules",
    "summary": "The key's person's notification rules, and what a page does now",
    "description": (
        "`high` and `low`: the person's own rules, by delay. `effective`: per urgency, the "
        "notifications a page would send now: their own usable rules, or without any the "
        "defaults (`default: true`) over their verified methods and email/Slack identity."),
    "tags": ["users"],
    "responses": {"200": json_body(_ANSWER, "The rules"), **AUTH},
}

PUT_RULES_OP: Operation = {
    "operationId": "replaceMyNotificationRules",
    "summary": "Replace the key's person's rules of the urgencies in the body",
    "description": (
        "Each urgency named is replaced by its list (empty: the defaults apply again); an "
        "urgency left out keeps its rules. One transaction, audited like edits on the profile "
        "page. Every rule is checked first: a refusal names each field and changes nothing."),
    "tags": ["users"],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False,
        "properties": {"high": _NEW_LIST, "low": _NEW_LIST,
                       "effective": {"description": "Ignored"}}}}}},
    "responses": {
        "200": json_body(_ANSWER, "The rules after the change"),
        **_BAD_BODY,
        "422": problem("An unknown urgency, a delay out of range, a method that is not the "
                       "person's, voice for low urgency, a rule listed twice; invalid-params "
                       "names each field (`high[1].contact_method_id`)"),
        **AUTH,
    },
}

TEST_PAGE_OP: Operation = {
    "operationId": "sendMyTestPage",
    "summary": "Send the key's person a test page",
    "description": "Queued in the outbox to each verified contact method (or only the one "
                   "named) and delivered by a worker like a page.",
    "tags": ["users"],
    "requestBody": {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False,
        "properties": {"contact_method_id": {"type": ["integer", "null"]}}}}}},
    "responses": {
        "202": json_body({"type": "object", "required": ["queued"],
                          "properties": {"queued": _INT}}, "How many notifications were queued"),
        **_BAD_BODY,
        "422": problem("No verified contact method (or not the one named)"),
        **AUTH,
    },
}


def openapi_paths() -> dict[str, Any]:
    return {RULES: {"get": GET_RULES_OP, "put": PUT_RULES_OP}, TEST_PAGE: {"post": TEST_PAGE_OP}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [
        Route(RULES, bind(get_rules, ctx), methods=["GET"], name="my-notification-rules"),
        Route(RULES, bind(put_rules, ctx), methods=["PUT"], name="replace-notification-rules"),
        Route(TEST_PAGE, bind(test_page, ctx), methods=["POST"], name="my-test-page"),
    ]

