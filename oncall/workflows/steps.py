"""Running one planned workflow step: `run_step(kind, action, timeout, ctx)`.

The action comes rendered from the planner (`oncall.core.workflows`); this module only moves
it: Slack through the Slack provider's client, email through the email chain (SMTP, then SES),
Teams cards, webhooks and runbooks through the guarded HTTP call (`oncall.workflows.http`),
`page` through the escalation machinery's own pieces: the target resolved to people at
`ctx.clock()` (`paging.targets`), each person's contact plan (`paging.contacts`) and outbox
rows written by the outbox (`store.outbox.enqueue`), so the dispatcher sends, retries and
records them like any page; `status` through the status pages' notices
(`statuspages.notices`); and `postmortem` through the postmortems' service
(`postmortems.service`), as the system.

Texts are data: alert fields rendered into them are escaped for each channel's markup, and
`${env:…}` is resolved only in URLs and headers, never in a text or body.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast, runtime_checkable

import httpx
from sqlalchemy import Engine, Table, bindparam, select
from sqlalchemy.exc import DBAPIError

from oncall.config.configset import ConfigSet
from oncall.config.templates import STATUS_STEP_VARIABLES, TemplateProblem, render
from oncall.config.types import SECRET_PATTERN, Target, env_names
from oncall.core.incident import Status
from oncall.core.notification_rules import Channel, Urgency
from oncall.db.engine import write_connection, write_session
from oncall.db.models import IncidentRow, NotificationRow, ServiceRow
from oncall.incidents.actors import Actor, Forbidden
from oncall.notify.message import teams_text
from oncall.notify.providers.base import (
    DeliveryResult,
    Provider,
)
from oncall.paging.contacts import people, plan
from oncall.paging.targets import TargetResolver
from oncall.postmortems import service as postmortems
from oncall.statuspages import notices
from oncall.store import outbox
from oncall.workflows.http import DenyList, call
from oncall.workflows.outcome import StepOutcome, bounded, elapsed_ms, failed

__all__ = ["Chains", "DenyList", "StepContext", "StepOutcome", "run_step"]

TEAMS_RESPONSE_BYTES = 2000


class Chains(Protocol):
    """What the steps need of `oncall.worker.providers.ProviderChains` (typed structurally,
    so this package does not import the worker)."""

    @property
    def enabled(self) -> set[Channel]: ...

    def chain(self, channel: Channel) -> Sequence[Provider]: ...


@dataclass
class StepContext:
    environ: Mapping[str, str]
    """For `${env:NAME}` in URLs, headers and the Teams webhook reference."""
    deny: DenyList
    chains: Chains
    public_url: str
    engine: Engine
    config: ConfigSet
    clock: Callable[[], datetime]
    incident_id: int
    actor: str
    """"workflow:<name>"."""
    http: httpx.Client | None = None
    """A shared `oncall.workflows.http.GuardedClient(deny)`; None: one per call."""
    step_key: str | None = None
    """The step's idempotency key (`PlannedStep.key`): a `page` step run again after a crash
    writes no second set of pages. None: every run pages anew."""


Executor = Callable[[Mapping[str, Any], float, StepContext], StepOutcome]


def run_step(kind: str, action: Mapping[str, Any], timeout: float,
             ctx: StepContext) -> StepOutcome:
    """Run one step; an expected failure is an outcome (ok=False), never an exception."""
    started = time.monotonic()
    executor = _EXECUTORS.get(kind)
    if executor is None:
        return failed(f"unknown step kind {kind!r}", started, retryable=False)
    try:
        return executor(action, timeout, ctx)
    except (KeyError, TypeError, ValueError) as exc:
        return failed(f"bad {kind} action: {type(exc).__name__}: {exc}", started,
                      retryable=False, secrets=_secrets(action, ctx.environ))
    except Exception as exc:  # noqa: BLE001 - an unforeseen error fails the step, unretried
        return failed(f"{type(exc).__name__}: {exc}", started, retryable=False,
                      secrets=_secrets(action, ctx.environ))


def _secrets(action: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """The values of the variables the action refers to (in its URL, headers or Teams
    webhook): what an unforeseen error's message must not show."""
    try:
        places = [str(action.get("url") or ""), str(action.get("webhook") or "")]
        places += [str(v) for v in dict(action.get("headers") or {}).values()]
    except (TypeError, ValueError):
        return []
    return [environ[name] for text in places for name in env_names(text) if name in environ]


def _from_delivery(result: DeliveryResult, started: float, sent: str) -> StepOutcome:
    if result.ok:
        return StepOutcome(True, False, result.status_code, bounded(sent), elapsed_ms(started))
    return failed(f"{result.provider}: {result.error or 'failed'}", started,
                  retryable=result.retryable, status_code=result.status_code)


# --- slack -----------------------------------------------------------------------------------


def _slack(action: Mapping[str, Any], timeout: float, ctx: StepContext) -> StepOutcome:
    """A channel post through the Slack provider, as the service channel's post is sent: its
    token and endpoint, its timeout, its rule of what is worth retrying."""
    from oncall.notify.providers.slack import SlackProvider

    started = time.monotonic()
    channel = str(action["channel"])
    provider = next((p for p in ctx.chains.chain(Channel.SLACK)
                     if isinstance(p, SlackProvider)), None)
    if provider is None:
        return failed("Slack is not configured: set ONCALL_SLACK_TOKEN", started,
                      retryable=False)
    result = provider.post_text(channel, str(action["text"]))
    return _from_delivery(result, started, f"posted to {channel} "
                                           f"({result.provider_message_id})")


# --- teams -----------------------------------------------------------------------------------


def teams_card(text: str) -> dict[str, Any]:
    """An incoming-webhook message of one Adaptive Card holding the text, shown as written
    (Markdown escaped as in the incident cards)."""
    return {
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": None,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [{"type": "TextBlock", "text": teams_text(text), "wrap": True}],
            },
        }],
    }


def _teams(action: Mapping[str, Any], timeout: float, ctx: StepContext) -> StepOutcome:
    """The card posted to the webhook URL behind the action's `${env:NAME}` reference. The URL
    is the credential: it goes through the guarded call, which resolves it at send time and
    masks it in the detail."""
    started = time.monotonic()
    ref, text = str(action["webhook"]), str(action["text"])
    if not re.fullmatch(SECRET_PATTERN, ref):
        return failed("the Teams webhook must be a ${env:NAME} reference", started,
                      retryable=False)
    outcome = call({"url": ref, "method": "POST", "headers": {}, "body": teams_card(text),
                    "max_response_bytes": TEAMS_RESPONSE_BYTES},
                   timeout, environ=ctx.environ, deny=ctx.deny, client=ctx.http)
    # classic connectors report throttling in a 200 body instead of a status (as TeamsProvider)
    if outcome.ok and "429" in outcome.detail and "throttl" in outcome.detail.lower():
        return failed(f"throttled: {outcome.detail}", started, retryable=True, status_code=429)
    return outcome


# --- email -----------------------------------------------------------------------------------


@runtime_checkable
class TextMailer(Protocol):
    """An email provider that sends plain text (SMTP and SES do)."""

    name: str

    def send_text(self, address: str, subject: str, text: str,
                  incident_id: int) -> DeliveryResult: ...


def _send_mail(provider: Provider, recipient: str, subject: str, text: str,
               incident_id: int) -> DeliveryResult:
    if not isinstance(provider, TextMailer):
        return DeliveryResult.failed(provider.name, "cannot send a workflow email",
                                     retryable=False)
    return provider.send_text(recipient, subject, text, incident_id)


def _email(action: Mapping[str, Any], timeout: float, ctx: StepContext) -> StepOutcome:
    """One mail to each address, failing over along the email chain per address. The step
    succeeds when every address got its mail; otherwise it is retryable if every failure was.
    (A retry mails everyone again: a duplicate is better than a missed address.)"""
    started = time.monotonic()
    if isinstance(action["to"], str):
        raise TypeError("`to` must be a list of addresses")
    recipients = [str(a) for a in action["to"]]
    subject, text = str(action.get("subject") or ""), str(action.get("text") or "")
    chain = ctx.chains.chain(Channel.EMAIL)
    if not chain:
        return failed("email is not configured: set ONCALL_SMTP_URL or ONCALL_SES_REGION",
                      started, retryable=False)
    if not recipients:
        return failed("no recipient", started, retryable=False)
    sent: list[str] = []
    failures: list[DeliveryResult] = []
    for recipient in recipients:
        result = DeliveryResult.failed("email", "no provider", retryable=False)
        for provider in chain:
            result = _send_mail(provider, recipient, subject, text, ctx.incident_id)
            if result.ok:
                break
        if result.ok:
            sent.append(recipient)
        else:
            failures.append(result)
    if not failures:
        return StepOutcome(True, False, None, bounded("mailed " + ", ".join(sent)),
                           elapsed_ms(started))
    errors = "; ".join(f"{r.provider}: {r.error}" for r in failures)
    done = f" (mailed {', '.join(sent)})" if sent else ""
    return failed(f"{len(failures)} of {len(recipients)} not mailed: {errors}{done}", started,
                  retryable=all(r.retryable for r in failures),
                  status_code=failures[0].status_code)


# --- webhook, runbook ------------------------------------------------------------------------


def _webhook(action: Mapping[str, Any], timeout: float, ctx: StepContext) -> StepOutcome:
    return call(action, timeout, environ=ctx.environ, deny=ctx.deny, client=ctx.http)


# --- page ------------------------------------------------------------------------------------

_I = cast(Table, IncidentRow.__table__)
_INCIDENT = select(_I.c.status, _I.c.urgency).where(_I.c.id == bindparam("iid"))
_KNOWN_KEYS = select(NotificationRow.idempotency_key).where(
    NotificationRow.idempotency_key.in_(bindparam("keys", expanding=True)))


def _page(action: Mapping[str, Any], timeout: float, ctx: StepContext) -> StepOutcome:
    """Page a schedule, team or user now: whoever the target reaches at `ctx.clock()`, each
    through their own contact plan, as outbox rows of kind "page" (cancelled by the dispatcher
    once the incident is acknowledged, like any page). One transaction; rows already written
    by an earlier run of the same step (`ctx.step_key`) are not written again."""
    started = time.monotonic()
    ((kind, ref),) = dict(action["target"]).items()
    if kind not in ("schedule", "team", "user"):
        raise ValueError(f"unknown page target {kind!r}")
    target = Target(kind=kind, ref=str(ref))
    now = ctx.clock()
    run = ctx.step_key or f"{ctx.actor}:{ctx.incident_id}:{now.isoformat()}"
    try:
        with write_connection(ctx.engine) as conn:
            incident = conn.execute(_INCIDENT, {"iid": ctx.incident_id}).first()
            if incident is None:
                return failed(f"incident {ctx.incident_id} not found", started,
                              retryable=False)
            if incident.status != Status.TRIGGERED.value:
                return StepOutcome(True, False, None,
                                   f"incident is {incident.status}: nobody paged",
                                   elapsed_ms(started))
            emails = list(dict.fromkeys(TargetResolver(conn, ctx.config)(target, now)))
            if not emails:
                return failed(f"{target} reaches no one now", started, retryable=False)
            urgency: Urgency = "low" if incident.urgency == "low" else "high"
            found = people(conn, emails, urgency)
            rows: list[dict[str, Any]] = []
            paged: list[str] = []
            unreachable: list[str] = []
            for email in emails:
                person = found.get(email)
                contacts = plan(person, urgency, ctx.chains.enabled) if person else []
                if person is None or not contacts:
                    unreachable.append(email)
                    continue
                paged.append(email)
                for contact in contacts:
                    rows.append(outbox.owed(
                        ctx.incident_id, now,
                        idempotency_key=_page_key(run, email, contact.channel.value,
                                                  contact.address,
                                                  int(contact.delay.total_seconds())),
                        user_id=person.id, contact_method_id=contact.contact_method_id,
                        channel=contact.channel.value, address=contact.address, kind="page",
                        next_attempt_at=now + contact.delay))
            if rows:
                known = set(conn.scalars(_KNOWN_KEYS,
                                         {"keys": [r["idempotency_key"] for r in rows]}))
                rows = [r for r in rows if r["idempotency_key"] not in known]
            ids = outbox.enqueue(conn, rows) if rows else []
            due_now = tuple(i for i, r in zip(ids, rows, strict=True)
                            if r["next_attempt_at"] <= now)
    except DBAPIError as exc:  # the database went away or was busy: worth another attempt
        return failed(f"database error: {type(exc.orig).__name__}", started, retryable=True)
    message = str(action.get("message") or "")
    if not paged:
        return failed(f"{target}: {', '.join(unreachable)} cannot be reached on any channel",
                      started, retryable=False)
    detail = f"paged {', '.join(paged)} ({len(ids)} notifications)"
    if unreachable:
        detail += f"; unreachable: {', '.join(unreachable)}"
    if message:
        detail += f": {message}"
    return StepOutcome(True, False, None, bounded(detail), elapsed_ms(started),
                       notifications=due_now)


def _page_key(run: str, email: str, channel: str, address: str, delay: int) -> str:
    """Unique per (step run, person, channel, address, delay); hashed to fit the column."""
    digest = hashlib.sha256("\0".join((run, email, channel, address, str(delay))).encode())
    return f"wfpage:{digest.hexdigest()[:48]}"


# --- status ----------------------------------------------------------------------------------

_SERVICE_OF = (select(ServiceRow.name).join(IncidentRow, IncidentRow.service_id == ServiceRow.id)
               .where(IncidentRow.id == bindparam("iid")))


def _status(action: Mapping[str, Any], timeout: float, ctx: StepContext) -> StepOutcome:
    """Publish on a status page: the first step of a workflow on an incident posts a notice,
    later ones update it (one open notice per page and incident), `resolved` resolves it.
    The text is rendered here over the incident's service name and the page title only: an
    alert's title or labels never reach a public page."""
    started = time.monotonic()
    page_name, state = str(action["page"]), str(action.get("state") or "investigating")
    component = action.get("component")
    try:
        page = notices.page_of(ctx.config, page_name)
        with write_session(ctx.engine) as session:
            service = session.execute(_SERVICE_OF, {"iid": ctx.incident_id}).scalar()
            if service is None:
                return failed(f"incident {ctx.incident_id} not found", started,
                              retryable=False)
            variables = {"service": service, "page": page.title}
            assert set(variables) == STATUS_STEP_VARIABLES
            text = render(str(action["text"]), variables)
            now = ctx.clock()
            found = notices.open_notices(session, ctx.config, page_name,
                                         incident_id=ctx.incident_id)
            if found:
                notice = notices.update_notice(session, ctx.config, ctx.actor, now,
                                               found[0].id, state, text,
                                               public_url=ctx.public_url)
                detail = f"notice #{notice.id} on {page_name} updated: {state}"
            elif state == "resolved":
                detail = f"no open notice of this incident on {page_name} to resolve"
            else:
                notice_id = notices.post_notice(
                    session, ctx.config, ctx.actor, now, page_name, notices.title_of(text), text,
                    state, [str(component)] if component else [], incident_id=ctx.incident_id,
                    public_url=ctx.public_url)
                detail = f"notice #{notice_id} posted on {page_name}: {state}"
    except (notices.StatusPageError, TemplateProblem) as exc:
        return failed(str(exc), started, retryable=False)
    except DBAPIError as exc:  # the database went away or was busy: worth another attempt
        return failed(f"database error: {type(exc.orig).__name__}", started, retryable=True)
    return StepOutcome(True, False, None, bounded(detail), elapsed_ms(started))


# --- postmortem ------------------------------------------------------------------------------


def _postmortem(action: Mapping[str, Any], timeout: float, ctx: StepContext) -> StepOutcome:
    """Open the incident's postmortem as the system (named by the workflow on the audit log),
    or find the one it has: a run repeated after a crash, or the workflow firing again on a
    later event, never opens a second."""
    started = time.monotonic()
    template, title = action.get("template"), action.get("title")
    try:
        with write_connection(ctx.engine) as conn:
            opened = postmortems.open_postmortem(
                conn, ctx.config, Actor("system", ctx.actor), [ctx.incident_id], ctx.clock(),
                title=str(title) if title else None,
                template=str(template) if template else None)
    except (postmortems.Invalid, postmortems.NotFound, Forbidden) as exc:
        return failed(str(exc), started, retryable=False)
    except DBAPIError as exc:  # the database went away or was busy: worth another attempt
        return failed(f"database error: {type(exc.orig).__name__}", started, retryable=True)
    link = f"{ctx.public_url.rstrip('/')}/postmortems/{opened.id}"
    done = "opened" if opened.created else "already open"
    return StepOutcome(True, False, None, bounded(f"postmortem #{opened.id} {done}: {link}"),
                       elapsed_ms(started))


_EXECUTORS: dict[str, Executor] = {
    "slack": _slack,
    "teams": _teams,
    "email": _email,
    "webhook": _webhook,
    "runbook": _webhook,
    "page": _page,
    "status": _status,
    "postmortem": _postmortem,
}
