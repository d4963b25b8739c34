"""Slack interactivity and the `/oncall` slash command.

Every request is checked with slack-sdk's signature verifier (signing secret, 5-minute window)
before anything is read. The Slack user is mapped to our user by the email on their Slack
profile, and acts with that user's roles through the service layer, so an observer's click is
refused exactly like a click in the web app. A forged request changes nothing.
"""

from __future__ import annotations

import json
import logging
import shlex
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import Clock, SignatureVerifier
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.api.openapi import json_body, problem
from oncall.api.routing import Operation, bind
from oncall.api.threads import offloaded
from oncall.config.suggest import did_you_mean
from oncall.db.engine import write_session
from oncall.incidents import roles, runbooks, service
from oncall.incidents.actors import Actor, Forbidden
from oncall.incidents.events import params_text
from oncall.incidents.people import actor_for_email
from oncall.notify.message import mrkdwn, parse_slack_action
from oncall.notify.providers.slack import KeptAliveWebClient
from oncall.paging.targets import first_responders
from oncall.postmortems import service as postmortems
from oncall.statuspages import access as status_access
from oncall.statuspages import notices

log = logging.getLogger("oncall.api.slack")

INTERACTIONS = "/api/v1/slack/interactions"
COMMANDS = "/api/v1/slack/commands"
EMAIL_CACHE_SECONDS = 300.0
MAX_ID = 2**63 - 1

UsersLookup = Callable[[str], str | None]
"""Slack user id → email on their profile (None if Slack has no email for them)."""


class _ContextClock(Clock):
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock().timestamp()


class SlackUsers:
    """Looks up a Slack user's email with `users.info`, remembering answers for a while."""

    def __init__(self, token: str, api_url: str, timeout: float = 5.0) -> None:
        self._client = KeptAliveWebClient(token=token, base_url=api_url,
                                          timeout=int(max(timeout, 1)))
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, user_id: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(user_id)
            if hit and now - hit[0] < EMAIL_CACHE_SECONDS:
                return hit[1]
        response = self._client.users_info(user=user_id)
        profile: dict[str, Any] = (response.get("user") or {}).get("profile") or {}
        email = profile.get("email")
        with self._lock:
            self._cache[user_id] = (now, email)
        return email


def _reply(text: str) -> JSONResponse:
    """An answer to the person who typed the command. It may echo what they typed (a service
    or runbook name, a parameter), so it is escaped: `/oncall who <!channel>` shows the text
    as typed instead of making a mention or a link."""
    return JSONResponse({"response_type": "ephemeral", "text": mrkdwn(text)})


def _post_to_response_url(url: str, text: str) -> None:
    """Tell the clicking user what happened (block actions answer through response_url)."""

    def post() -> None:
        body = json.dumps(
            {"response_type": "ephemeral", "replace_original": False, "text": text}
        ).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=5):
                pass
        except OSError as exc:
            log.warning("could not answer Slack at its response_url: %s", exc)

    if url.startswith(("https://", "http://")):
        threading.Thread(target=post, daemon=True).start()


@dataclass(frozen=True)
class Slack:
    """The app's Slack setup, read once from the environment: what every Slack handler gets."""

    ctx: ApiContext
    verifier: SignatureVerifier | None
    users: UsersLookup | None

    @classmethod
    def from_context(cls, ctx: ApiContext) -> Slack:
        secret = ctx.environ.get("ONCALL_SLACK_SIGNING_SECRET", "")
        token = ctx.environ.get("ONCALL_SLACK_TOKEN", "")
        api_url = ctx.environ.get("ONCALL_SLACK_API_URL", "https://slack.com/api/")
        verifier = SignatureVerifier(secret, _ContextClock(ctx.clock)) if secret else None
        users = None
        if token:
            users = SlackUsers(token, api_url if api_url.endswith("/") else api_url + "/")
        return cls(ctx, verifier, users)


def _verified_form(slack: Slack, request: Request, body: bytes) -> dict[str, str] | Response:
    """The posted form, if Slack signed it; else the refusal to answer with."""
    if slack.verifier is None:
        return problems.problem(
            503, "Slack is not configured: set ONCALL_SLACK_SIGNING_SECRET",
            instance=request.url.path,
        )
    if not slack.verifier.is_valid_request(body, dict(request.headers)):
        log.warning("refused a Slack request with a bad or stale signature")
        return problems.problem(401, "invalid Slack signature", instance=request.url.path)
    form = parse_qs(body.decode("utf-8", "replace"))
    return {k: v[0] for k, v in form.items() if v}


def _actor_of(slack: Slack, slack_user: str) -> Actor | str:
    """Our user behind a Slack user, or the sentence telling them why there is none."""
    if slack.users is None:
        return "Slack is not configured to look up users (ONCALL_SLACK_TOKEN)."
    try:
        email = slack.users(slack_user)
    except Exception as exc:  # noqa: BLE001 - Slack down: answer, do not crash
        log.warning("users.info failed for %s: %s", slack_user, exc)
        return "Could not look you up in Slack right now; try again or use the web app."
    if not email:
        return "Your Slack profile has no email address, so oncall cannot tell who you are."
    with Session(slack.ctx.engine) as session:
        actor = actor_for_email(session, email, via="slack")
    if actor is None:
        return f"{email} is not an oncall user: ask an admin to add you to a team."
    return actor


def _act(ctx: ApiContext, actor: Actor, verb: str, incident_id: int) -> str:
    """Acknowledge or resolve, wake the worker for the message updates it queued, and say so."""
    now = ctx.clock()
    try:
        with write_session(ctx.engine) as session:
            if verb == "acknowledge":
                outcome = service.acknowledge(session, incident_id, actor, now)
            else:
                outcome = service.resolve(session, incident_id, actor, now)
    except service.NotFound:
        return f"Incident #{incident_id} does not exist."
    except Forbidden as exc:
        return f"Not allowed: {exc}."
    past = "acknowledged" if verb == "acknowledge" else "resolved"
    if outcome.changed:
        ctx.wake()
        return f"Incident #{incident_id} {past}."
    return f"Incident #{incident_id} is already {outcome.incident.status}."


_FORM = {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
_SIGNATURE_ERRORS = {
    "401": problem("The Slack signature is missing, wrong or stale; nothing changed"),
    "503": problem("Slack is not configured (ONCALL_SLACK_SIGNING_SECRET)"),
}
_SLACK_JSON = {"type": "object", "properties": {"text": {"type": "string"}}}

INTERACTIONS_OPERATION: Operation = {
    "operationId": "slackInteraction",
    "summary": "A button click on an incident message (Slack interactivity)",
    "tags": ["slack"],
    "security": [],
    "requestBody": {"required": True, "content": _FORM},
    "responses": {
        "200": json_body(_SLACK_JSON, "Done or refused, in words for the clicking user"),
        "422": problem("The payload is not a Slack interaction"),
        **_SIGNATURE_ERRORS,
    },
}


def interactions(slack: Slack, request: Request, body: bytes) -> Response:
    """A click on Acknowledge or Resolve; answered in the message and at its response_url."""
    form = _verified_form(slack, request, body)
    if isinstance(form, Response):
        return form
    try:
        payload = json.loads(form.get("payload", ""))
        slack_user = str(payload["user"]["id"])
        actions = payload.get("actions") or []
    except (ValueError, KeyError, TypeError):
        return problems.unprocessable("payload", "not a Slack interaction payload")
    for raw in actions:
        action = parse_slack_action(str(raw.get("action_id", "")), str(raw.get("value", "")))
        if action is None or not action.incident_id.isdigit():
            continue
        actor = _actor_of(slack, slack_user)
        text = (actor if isinstance(actor, str)
                else _act(slack.ctx, actor, action.action, int(action.incident_id)))
        _post_to_response_url(str(payload.get("response_url", "")), text)
        return JSONResponse({"text": text})
    return Response(status_code=200)


COMMANDS_OPERATION: Operation = {
    "operationId": "slackCommand",
    "summary": "The /oncall slash command: ack, resolve, who, run, status, postmortem, "
               "declare, escalate, role",
    "tags": ["slack"],
    "security": [],
    "requestBody": {"required": True, "content": _FORM},
    "responses": {
        "200": json_body(_SLACK_JSON, "The answer, shown only to the user who typed it"),
        **_SIGNATURE_ERRORS,
    },
}


def commands(slack: Slack, request: Request, body: bytes) -> Response:
    """`/oncall ack|resolve N`, `/oncall who SERVICE`, `/oncall run RUNBOOK N key=value`,
    `/oncall status PAGE "text"|resolve`, `/oncall postmortem N`,
    `/oncall declare SERVICE "title" [P1-P5]`, `/oncall escalate N` and
    `/oncall role N ROLE [@user|email|clear]`."""
    form = _verified_form(slack, request, body)
    if isinstance(form, Response):
        return form
    words = form.get("text", "").split()
    if not words or words[0] in ("help", "?"):
        return _reply(HELP)
    verb, rest = words[0].lower(), words[1:]
    if verb == "who":
        return _reply(_who(slack.ctx, " ".join(rest)))
    if verb in ("ack", "acknowledge", "res", "resolve"):
        if len(rest) != 1 or not rest[0].lstrip("#").isdigit():
            return _reply(f"Usage: /oncall {verb} INCIDENT_NUMBER")
        actor = _actor_of(slack, form.get("user_id", ""))
        if isinstance(actor, str):
            return _reply(actor)
        full = "acknowledge" if verb.startswith("ack") else "resolve"
        return _reply(_act(slack.ctx, actor, full, int(rest[0].lstrip("#"))))
    if verb == "run":
        return _reply(_run(slack, form.get("user_id", ""), form.get("text", "")))
    if verb == "status":
        return _reply(_status(slack, form.get("user_id", ""), form.get("text", "")))
    if verb == "postmortem":
        if len(rest) != 1 or not rest[0].lstrip("#").isdigit():
            return _reply(POSTMORTEM_USAGE)
        return _reply(_postmortem(slack, form.get("user_id", ""), int(rest[0].lstrip("#"))))
    if verb == "declare":
        return _reply(_declare(slack, form.get("user_id", ""), form.get("text", "")))
    if verb == "escalate":
        if len(rest) != 1 or not rest[0].lstrip("#").isdigit():
            return _reply(ESCALATE_USAGE)
        return _reply(_escalate(slack, form.get("user_id", ""), int(rest[0].lstrip("#"))))
    if verb == "role":
        return _reply(_role(slack, form.get("user_id", ""), rest))
    return _reply(f"Unknown command {verb!r}.\n{HELP}")


def openapi_paths() -> dict[str, Any]:
    return {INTERACTIONS: {"post": INTERACTIONS_OPERATION},
            COMMANDS: {"post": COMMANDS_OPERATION}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    slack = Slack.from_context(ctx)
    return [
        Route(INTERACTIONS, offloaded(bind(interactions, slack)), methods=["POST"],
              name="slack-interactions"),
        Route(COMMANDS, offloaded(bind(commands, slack)), methods=["POST"],
              name="slack-commands"),
    ]


HELP = (
    "/oncall ack 123 — acknowledge incident 123\n"
    "/oncall resolve 123 — resolve incident 123\n"
    "/oncall who SERVICE — who is on call for a service now\n"
    "/oncall run RUNBOOK 123 key=value … — run one of the service's runbooks on incident 123\n"
    '/oncall status PAGE "text" [--component NAME] — post a notice on a status page\n'
    '/oncall status PAGE resolve ["text"] — resolve the page\'s open notices\n'
    "/oncall postmortem 123 — open the postmortem of incident 123 (or find it) and link it\n"
    '/oncall declare SERVICE "title" [P1-P5] — open an incident by hand; you are its commander\n'
    "/oncall escalate 123 — page the next escalation step of incident 123 now\n"
    "/oncall role 123 commander|scribe|communications [@user|email|clear] — take, give or "
    "clear a role"
)
POSTMORTEM_USAGE = "Usage: /oncall postmortem INCIDENT_NUMBER"
DECLARE_USAGE = 'Usage: /oncall declare SERVICE "title" [P1-P5]'
ESCALATE_USAGE = "Usage: /oncall escalate INCIDENT_NUMBER"
ROLE_USAGE = ("Usage: /oncall role INCIDENT_NUMBER commander|scribe|communications "
              "[@user|email|clear]")
RUN_USAGE = ("Usage: /oncall run RUNBOOK INCIDENT_NUMBER key=value … "
             '(quote a value with spaces: reason="bad deploy")')


def _run(slack: Slack, slack_user: str, text: str) -> str:
    """Run a runbook by hand: the same checks as the web app's form and the REST API, with
    each parameter problem named."""
    try:
        words = shlex.split(text)[1:]
    except ValueError as exc:
        return f"{RUN_USAGE}\n({exc})"
    if len(words) < 2 or not words[1].lstrip("#").isdigit():
        return RUN_USAGE
    name, incident_id = words[0], int(words[1].lstrip("#"))
    pairs = [w.partition("=") for w in words[2:]]
    if any(not sep or not key for key, sep, _ in pairs):
        return f"{RUN_USAGE}\nEvery parameter is key=value."
    actor = _actor_of(slack, slack_user)
    if isinstance(actor, str):
        return actor
    ctx = slack.ctx
    try:
        with write_session(ctx.engine) as session:
            done = runbooks.run_typed(
                session, ctx.config(session), incident_id, actor, name,
                {key: value for key, _, value in pairs}, ctx.clock())
    except service.NotFound:
        return f"Incident #{incident_id} does not exist."
    except Forbidden as exc:
        return f"Not allowed: {exc}."
    except runbooks.NotRunnable as exc:
        return f"Cannot run it: {exc}."
    except runbooks.Rejected as exc:
        return f"Runbook {name} was not run; its parameters are invalid:\n" + "\n".join(
            f"• {key or 'parameters'}: {why}" for key, why in exc.problems.items())
    ctx.wake()
    shown = params_text(done.params) or "no parameters"
    return (f"Runbook {name} queued on incident #{incident_id} ({shown}); "
            "its result will be on the incident's timeline.")


def _declare(slack: Slack, slack_user: str, text: str) -> str:
    """Open an incident by hand on a service; the person who typed it is its commander."""
    text = text.replace("\u201c", '"').replace("\u201d", '"')  # phones type curly quotes
    try:
        words = shlex.split(text)[1:]
    except ValueError as exc:
        return f"{DECLARE_USAGE}\n({exc})"
    if len(words) not in (2, 3):
        return f"{DECLARE_USAGE}\nQuote the title: /oncall declare checkout-api \"Checkout down\""
    name, title = words[0], words[1]
    priority = words[2].upper() if len(words) == 3 else None
    actor = _actor_of(slack, slack_user)
    if isinstance(actor, str):
        return actor
    ctx = slack.ctx
    try:
        with write_session(ctx.engine) as session:
            incident = service.declare(session, actor, service_name=name, title=title,
                                       priority=priority, description=None, now=ctx.clock())
            incident_id, shown = incident.id, incident.priority
    except service.Rejected as exc:
        if exc.field == "service":
            with Session(ctx.engine) as session:
                known = ctx.config(session).services
            return f"No service {name!r}{did_you_mean(name, known)}."
        return f"Not declared: {exc}."
    except Forbidden as exc:
        return f"Not allowed: {exc}."
    ctx.wake()
    return (f"Declared incident #{incident_id} on {name} ({shown}): {title}. You are its "
            f"commander. {ctx.public_url}/incidents/{incident_id}")


def _escalate(slack: Slack, slack_user: str, incident_id: int) -> str:
    """Page the incident's next escalation step now instead of at its timeout."""
    if incident_id > MAX_ID:
        return f"Incident #{incident_id} does not exist."
    actor = _actor_of(slack, slack_user)
    if isinstance(actor, str):
        return actor
    ctx = slack.ctx
    try:
        with write_session(ctx.engine) as session:
            outcome = service.escalate_now(session, incident_id, actor, ctx.clock())
    except service.NotFound:
        return f"Incident #{incident_id} does not exist."
    except Forbidden as exc:
        return f"Not allowed: {exc}."
    if outcome.changed:
        ctx.wake()
        return f"Incident #{incident_id}: the next escalation step is being paged now."
    status = outcome.incident.status
    if status == service.TRIGGERED:
        return f"Incident #{incident_id} has no further escalation step."
    return f"Incident #{incident_id} is {status}: only a triggered incident escalates."


def _mentioned(slack: Slack, word: str) -> str | None:
    """The email behind `<@U123|name>` (a Slack mention) or a typed email; None if unknown."""
    if word.startswith("<@") and word.endswith(">"):
        if slack.users is None:
            return None
        try:
            return slack.users(word[2:-1].split("|", 1)[0])
        except Exception as exc:  # noqa: BLE001 - Slack down: answer, do not crash
            log.warning("users.info failed for %s: %s", word, exc)
            return None
    return word if "@" in word and not word.startswith("@") else None


def _role(slack: Slack, slack_user: str, words: list[str]) -> str:
    """Take a role, give it to someone, or clear it."""
    if len(words) not in (2, 3) or not words[0].lstrip("#").isdigit():
        return ROLE_USAGE
    incident_id, role = int(words[0].lstrip("#")), words[1].lower()
    if incident_id > MAX_ID:
        return f"Incident #{incident_id} does not exist."
    if role not in roles.ROLES:
        return f"No role {role!r}.\n{ROLE_USAGE}"
    target = words[2] if len(words) == 3 else None
    clear = target is not None and target.lower() == "clear"
    email = None
    if target is not None and not clear:
        email = _mentioned(slack, target)
        if email is None:
            return f"Cannot tell who {target} is: mention them (@name) or give their email."
    actor = _actor_of(slack, slack_user)
    if isinstance(actor, str):
        return actor
    ctx = slack.ctx
    try:
        with write_session(ctx.engine) as session:
            if clear:
                outcome = service.clear_role(session, incident_id, actor, role, ctx.clock())
            else:
                outcome = service.assign_role(session, incident_id, actor, role, email,
                                              ctx.clock())
    except service.NotFound:
        return f"Incident #{incident_id} does not exist."
    except Forbidden as exc:
        return f"Not allowed: {exc}."
    except service.Rejected as exc:
        return f"Not changed: {exc}."
    held = outcome.holders.get(role)
    if held is None:
        return (f"Nobody is {role} of incident #{incident_id} now." if outcome.changed
                else f"Nobody was {role} of incident #{incident_id}.")
    if not outcome.changed:
        return f"{held.email} is already {role} of incident #{incident_id}."
    return f"{held.email} is now {role} of incident #{incident_id}."


def _who(ctx: ApiContext, name: str) -> str:
    if not name:
        return "Usage: /oncall who SERVICE"
    now = ctx.clock()
    with Session(ctx.engine) as session:
        config = ctx.config(session)
        if name not in config.services:
            return f"No service {name!r}{did_you_mean(name, config.services)}."
        step, people = first_responders(session, config, name, now)
    if not people:
        return f"Nobody would be paged for {name} right now."
    return f"On call for {name} now (step {step + 1}): " + ", ".join(people)



STATUS_USAGE = ('Usage: /oncall status PAGE "text" [--component NAME …] to post a notice, '
                '/oncall status PAGE resolve ["text"] to resolve the open ones')
RESOLVED_TEXT = "This incident has been resolved."


def _status(slack: Slack, slack_user: str, text: str) -> str:
    """Post a notice on a status page, or resolve its open ones (the responders' notices, not
    those the page opened itself: those follow their incidents)."""
    try:
        words = shlex.split(text)[1:]
    except ValueError as exc:
        return f"{STATUS_USAGE}\n({exc})"
    components: list[str] = []
    rest: list[str] = []
    while words:
        word = words.pop(0)
        if word == "--component":
            if not words:
                return STATUS_USAGE
            components.append(words.pop(0))
        else:
            rest.append(word)
    if len(rest) < 2:
        return STATUS_USAGE
    page, resolving = rest[0], rest[1].lower() == "resolve"
    if resolving and (components or len(rest) > 3):
        return STATUS_USAGE
    if not resolving and len(rest) != 2:
        return f"{STATUS_USAGE}\nQuote the text: /oncall status {page} \"…\""
    actor = _actor_of(slack, slack_user)
    if isinstance(actor, str):
        return actor
    ctx, email = slack.ctx, actor.name
    try:
        with write_session(ctx.engine) as session:
            config, now = ctx.config(session), ctx.clock()
            found_page = notices.page_of(config, page)
            status_access.require_writer(actor, found_page, config)
            title = found_page.title
            if not resolving:
                notice_id = notices.post_notice(session, config, email, now, page,
                                                notices.title_of(rest[1]), rest[1],
                                                components=components,
                                                public_url=ctx.public_url)
                return f"Posted on {title}: notice #{notice_id}, investigating."
            found = notices.open_notices(session, config, page)
            for notice in found:
                notices.update_notice(session, config, email, now, notice.id, "resolved",
                                      rest[2] if len(rest) == 3 else RESOLVED_TEXT,
                                      public_url=ctx.public_url)
    except notices.StatusPageError as exc:
        return f"{exc}."
    except Forbidden as exc:
        return f"Not allowed: {exc}."
    if not found:
        return f"{title} has no open notice to resolve."
    return f"Resolved on {title}: " + ", ".join(f"#{n.id} {n.title}" for n in found) + "."


def _postmortem(slack: Slack, slack_user: str, incident_id: int) -> str:
    """Open the incident's postmortem as the Slack user, or find the one it has; its link."""
    if incident_id > MAX_ID:
        return f"Incident #{incident_id} does not exist."
    actor = _actor_of(slack, slack_user)
    if isinstance(actor, str):
        return actor
    ctx = slack.ctx
    try:
        with write_session(ctx.engine) as session:
            opened = postmortems.open_postmortem(session.connection(), ctx.config(session),
                                                 actor, [incident_id], ctx.clock())
    except postmortems.NotFound:
        return f"Incident #{incident_id} does not exist."
    except Forbidden as exc:
        return f"Not allowed: {exc}."
    except postmortems.Invalid as exc:
        return f"No postmortem opened: {exc}."
    link = f"{ctx.public_url}/postmortems/{opened.id}"
    if opened.created:
        return f"Opened postmortem #{opened.id} of incident #{incident_id}: {link}"
    return f"Incident #{incident_id} already has postmortem #{opened.id}: {link}"
