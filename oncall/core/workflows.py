"""The workflow planner: which workflows an incident event fires, and their rendered steps.

Pure: no I/O, time is a parameter. Everything a step will do is decided and rendered here, at
plan time, so the executor only calls and the timeline can show exactly what was planned.

- `when` and `if` are evaluated over {incident, service, event}. A `when` that cannot be
  evaluated (say, a label the incident lacks) counts as false: the workflow does not fire, and
  `decide` says why (`oncall workflow test` prints it).
- A template, expression or runbook-parameter problem in a step makes that step's `error`: the
  step is recorded as failed and never called. An `if` whose condition fails is planned as one
  failed step in place of its branches (kind and path of the first step of `then`).
- `url` and header values are never templates: they are copied as written, `${env:NAME}`
  references unresolved (the executor resolves them there and only there). Rendered bodies and
  texts are data: an alert title containing `${env:X}` stays that literal text.
- A body string that is exactly one `{{ expression }}` keeps the expression's JSON value (a
  number, boolean, list); any other string renders to a string.
- Loop guard: a workflow never fires on an event its own steps caused (actor
  `workflow:<name>`), nor more than `max_runs` times per incident.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any, get_args

from jinja2 import Undefined
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from oncall.config.configset import ConfigSet
from oncall.config.models import (
    EmailStep,
    IfStep,
    PageStep,
    PostmortemStep,
    Runbook,
    RunbookStep,
    SlackStep,
    StatusStep,
    TeamRecipient,
    TeamsStep,
    WebhookStep,
    Workflow,
    WorkflowEvent,
    WorkflowStep,
)
from oncall.config.templates import TemplateProblem, evaluate, render

EVENTS: tuple[str, ...] = get_args(WorkflowEvent)
"""The events a workflow may list in `on:`."""

EVENT_OF_AUDIT_TYPE: Mapping[str, str] = MappingProxyType({
    "incident.triggered": "incident.triggered",
    "incident.acknowledged": "incident.acknowledged",
    "incident.escalated": "incident.escalated",
    "incident.resolved": "incident.resolved",
    "incident.note": "incident.note_added",
    "incident.priority_changed": "incident.priority_changed",
})
"""Audit-event type (oncall/incidents/events.py) -> the workflow event it is."""


def listened_audit_types(config: ConfigSet) -> set[str]:
    """The audit-event types some Workflow of `config` listens to: all the inbox needs."""
    wanted = {event for workflow in config.workflows.values() for event in workflow.on}
    return {audit for audit, event in EVENT_OF_AUDIT_TYPE.items() if event in wanted}


def workflow_event(audit_type: str, data: Mapping[str, Any] | None) -> str | None:
    """The workflow event an audit event is, if any. An incident's first escalation step (its
    first pages: step 0 of cycle 0) is part of its being triggered, not an escalation, so a
    workflow `on: [incident.triggered, incident.escalated]` runs once when an incident opens,
    and again only when the escalation moves on (a later step, or the policy repeating)."""
    kind = EVENT_OF_AUDIT_TYPE.get(audit_type)
    if kind == "incident.escalated":
        found = data or {}
        if not int(found.get("step") or 0) and not int(found.get("cycle") or 0):
            return None
    return kind


MAX_RUNS_PER_INCIDENT = 10
"""Loop guard: at most this many runs of one workflow per incident."""

NOTIFY_TIMEOUT_SECONDS = 10.0
"""slack, teams, email and page steps: how long one attempt may take."""
NOTIFY_RETRIES = 2
"""slack, teams and email steps: extra attempts after a retryable failure."""
PAGE_RETRIES = 0
"""A page is written to our own database: a failure is not transient, retrying does not help."""

_MAX_PROBLEMS = 5
_MAX_PROBLEM_CHARS = 300


@dataclass(frozen=True)
class WorkflowIncident:
    """The incident as templates see it (`incident`)."""

    id: int
    title: str
    description: str | None
    status: str
    priority: str | None
    urgency: str
    labels: Mapping[str, str]
    service: str
    triggered_at: datetime
    alert_count: int = 1

    def context(self) -> dict[str, Any]:
        """The `incident` template variable: plain JSON values only."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "status": self.status,
            "priority": self.priority,
            "urgency": self.urgency,
            "labels": dict(self.labels),
            "service": self.service,
            "triggered_at": self.triggered_at.isoformat(),
            "alert_count": self.alert_count,
        }


@dataclass(frozen=True)
class WorkflowEventView:
    """The incident event a workflow may react to."""

    type: str
    id: int | None
    actor: str
    data: Mapping[str, Any] = field(default_factory=dict)


class EventName(str):
    """The `event` template variable: the event's name (`event == "incident.triggered"`,
    `{{ event }}`), also carrying `event.actor` and `event.data` for templates that need them."""

    actor: str
    data: Mapping[str, Any]

    def __new__(cls, view: WorkflowEventView) -> EventName:
        name = super().__new__(cls, view.type)
        name.actor = view.actor
        name.data = _plain(dict(view.data or {}))
        return name


def step_key(run_key: str, index: int) -> str:
    """A step's idempotency key, one per (workflow, incident, event, step): also how the
    outbox finds a run's next step."""
    return f"wf:{run_key}:{index}"


@dataclass(frozen=True)
class PlannedStep:
    index: int
    """Position in the flattened run (if/then/else resolved), 0..n-1."""
    path: str
    """Where it came from in the workflow, e.g. "steps[1].then[0]"."""
    kind: str
    """slack | teams | webhook | runbook | email | page"""
    action: dict[str, Any]
    """JSON-serialisable and rendered; `url` and headers exactly as written in config. With
    `error` set: the step as written (unrendered), for the timeline."""
    continue_on_error: bool
    retries: int
    """Extra attempts after the first."""
    timeout_seconds: float
    error: str | None = None
    """Planning failed for this step: it is recorded as failed, never called."""

    def key(self, run_key: str) -> str:
        return step_key(run_key, self.index)


@dataclass(frozen=True)
class PlannedRun:
    workflow: str
    event: str
    key: str
    """f"{workflow}:{incident_id}:{event_id}"; a runbook run by hand:
    f"runbook:{name}:{incident_id}:{request}"."""
    steps: tuple[PlannedStep, ...]
    by: str | None = None
    """A runbook run by hand (`workflow` is then ""): the label of who asked. Its step
    events are theirs, and it has no `workflow.started` event (the request is its own)."""


@dataclass(frozen=True)
class Decision:
    """Whether one workflow fires on an event, and if not, why (for `oncall workflow test`
    and for logs: `plan` keeps only the runs)."""

    workflow: str
    run: PlannedRun | None
    reason: str = ""
    """Why it did not fire; empty when it fired."""

    @property
    def fired(self) -> bool:
        return self.run is not None


# --- runbook parameters ----------------------------------------------------------------------


class ParamsInvalid(ValueError):
    """Runbook parameters that do not satisfy the runbook's schema; the message names each."""


def _extend_with_default(validator_class: Any) -> Any:
    """jsonschema's documented extension: fill each property's `default` before validating."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator: Any, properties: Any, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(  # type: ignore[no-untyped-call]
        validator_class, {"properties": set_defaults})


_FillingValidator: Any = _extend_with_default(Draft202012Validator)


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Any:
    return _FillingValidator(json.loads(schema_json),
                             format_checker=Draft202012Validator.FORMAT_CHECKER)


def param_problems(schema: Mapping[str, Any], params: Mapping[str, Any]
                   ) -> tuple[dict[str, Any], list[ValidationError]]:
    """`params` with the schema's defaults applied, and every way it breaks the schema."""
    filled = copy.deepcopy(dict(params))
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = sorted(validator.iter_errors(filled),
                    key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    return filled, errors


def describe_param_error(error: ValidationError) -> str:
    """"parameter region: 'x' is not one of [...]"; a problem of the whole set says "params"."""
    where = param_path(error.absolute_path)
    message = error.message
    if len(message) > _MAX_PROBLEM_CHARS:
        message = message[: _MAX_PROBLEM_CHARS - 3] + "..."
    return f"parameter {where}: {message}" if where else f"params: {message}"


def param_path(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_params(schema: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Validate runbook parameters against the runbook's JSON Schema (draft 2020-12) and
    return them with the schema's defaults applied; ParamsInvalid names what is wrong."""
    try:
        filled, errors = param_problems(schema, params)
    except Exception as exc:  # an invalid schema: validation rejects it, but never crash here
        raise ParamsInvalid(f"the runbook's parameter schema cannot be used: {exc}") from exc
    if errors:
        problems = [describe_param_error(e) for e in errors[:_MAX_PROBLEMS]]
        if len(errors) > _MAX_PROBLEMS:
            problems.append(f"and {len(errors) - _MAX_PROBLEMS} more")
        raise ParamsInvalid("; ".join(problems))
    return filled


# --- rendering -------------------------------------------------------------------------------

_ONE_EXPRESSION = re.compile(r"^\{\{(?!-)(.*?)(?<!-)\}\}$", re.DOTALL)


def _plain(value: Any) -> Any:
    """A JSON value: what a body or a parameter may hold after rendering."""
    if isinstance(value, Undefined):
        str(value)  # a StrictUndefined raises, naming what was missing
        return None
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside a JSON value; a string that is one `{{ expression }}` keeps
    the expression's value, so `"{{ params.paths }}"` sends a list and `"{{ incident.id }}"` a
    number. Mapping keys are not rendered."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value and "{#" not in value:
            return value
        m = _ONE_EXPRESSION.match(value)
        inner = m.group(1) if m else ""
        if m and "{{" not in inner and "}}" not in inner and "{%" not in value:
            result = evaluate(inner.strip(), context)
            try:
                return _plain(result)
            except Exception as exc:
                raise TemplateProblem(f"template failed: {exc}") from exc
        return render(value, context)
    if isinstance(value, Mapping):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value


def _truth(source: str, context: Mapping[str, Any]) -> bool:
    result = evaluate(source, context)
    try:
        return bool(result)
    except Exception as exc:  # StrictUndefined refuses to be tested
        raise TemplateProblem(f"expression failed: {exc}") from exc


def service_context(config: ConfigSet, name: str) -> dict[str, Any]:
    """The `service` template variable: the service's config as plain values."""
    svc = config.services.get(name)
    if svc is None:
        return {"name": name, "team": None, "description": None, "urgency": None,
                "escalation_policy": None, "slack_channel": None, "depends_on": []}
    return {
        "name": svc.name,
        "team": svc.team,
        "description": svc.description,
        "urgency": svc.urgency,
        "escalation_policy": svc.escalation_policy,
        "slack_channel": svc.slack_channel,
        "depends_on": list(svc.depends_on),
    }


def workflow_context(event: WorkflowEventView, incident: WorkflowIncident,
                     config: ConfigSet) -> dict[str, Any]:
    """What `when`, `if` and step templates see."""
    return {"incident": incident.context(), "service": service_context(config, incident.service),
            "event": EventName(event)}


# --- planning --------------------------------------------------------------------------------


def plan(event: WorkflowEventView, incident: WorkflowIncident, config: ConfigSet,
         now: datetime, runs_so_far: Mapping[str, int] | None = None,
         max_runs: int = MAX_RUNS_PER_INCIDENT) -> list[PlannedRun]:
    """The runs `event` fires, by workflow name, each with its rendered steps."""
    return [d.run for d in decide(event, incident, config, now, runs_so_far, max_runs)
            if d.run is not None]


def decide(event: WorkflowEventView, incident: WorkflowIncident, config: ConfigSet,
           now: datetime, runs_so_far: Mapping[str, int] | None = None,
           max_runs: int = MAX_RUNS_PER_INCIDENT) -> list[Decision]:
    """Every workflow of the config, by name: its run, or why it does not fire.

    `now` is the planning instant; no template sees the clock today, it is a parameter so that
    planning stays pure."""
    del now
    runs = runs_so_far or {}
    context = workflow_context(event, incident, config)
    decisions: list[Decision] = []
    for name in sorted(config.workflows):
        wf = config.workflows[name]
        reason = _not_firing(wf, event, runs.get(name, 0), max_runs, context)
        if reason is not None:
            decisions.append(Decision(name, None, reason))
            continue
        key = f"{name}:{incident.id}:{event.id}"
        steps = tuple(_flatten(wf.steps, "steps", context, config, _Counter()))
        decisions.append(Decision(name, PlannedRun(name, event.type, key, steps)))
    return decisions


def _not_firing(wf: Workflow, event: WorkflowEventView, runs: int, max_runs: int,
                context: Mapping[str, Any]) -> str | None:
    if event.type not in wf.on:
        return f"not on {event.type} (on: {', '.join(wf.on)})"
    if event.actor == f"workflow:{wf.name}":
        return f"loop guard: the event was caused by this workflow ({event.actor})"
    if runs >= max_runs:
        return f"loop guard: already ran {runs} times for this incident (at most {max_runs})"
    if wf.when is None:
        return None
    try:
        if not _truth(wf.when, context):
            return f"when is false: {wf.when}"
    except TemplateProblem as exc:
        return f"when could not be evaluated, counted as false: {exc} ({wf.when})"
    return None


class _Counter:
    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return self.next - 1


def _flatten(steps: list[WorkflowStep], path: str, context: Mapping[str, Any],
             config: ConfigSet, counter: _Counter) -> Iterator[PlannedStep]:
    for i, step in enumerate(steps):
        here = f"{path}[{i}]"
        if isinstance(step, IfStep):
            try:
                branch = step.then if _truth(step.if_, context) else step.else_
            except TemplateProblem as exc:
                yield _failed_if(step, here, str(exc), counter.take())
                continue
            yield from _flatten(branch, f"{here}.{'then' if branch is step.then else 'else'}",
                                context, config, counter)
            continue
        yield _planned(step, here, context, config, counter.take())


def _failed_if(step: IfStep, path: str, problem: str, index: int) -> PlannedStep:
    """The undecidable `if` fails in place of its first `then` step; the run stops there."""
    first: WorkflowStep = step.then[0]
    first_path = f"{path}.then[0]"
    while isinstance(first, IfStep):
        first, first_path = first.then[0], f"{first_path}.then[0]"
    return PlannedStep(
        index, first_path, _kind(first), {}, False, 0, NOTIFY_TIMEOUT_SECONDS,
        error=f"the condition at {path} ({step.if_}) failed: {problem}; neither branch runs",
    )


def _kind(step: WorkflowStep) -> str:
    for kind in ("slack", "teams", "webhook", "runbook", "email", "page", "status",
                 "postmortem"):
        if hasattr(step, kind):
            return kind
    raise TypeError(f"not an action step: {type(step).__name__}")


def _planned(step: WorkflowStep, path: str, context: Mapping[str, Any], config: ConfigSet,
             index: int) -> PlannedStep:
    kind = _kind(step)
    continue_on_error = bool(getattr(step, "continue_on_error", False))
    retries, timeout = _limits(step, config)
    try:
        action = _action(step, context, config)
    except (TemplateProblem, ParamsInvalid, LookupError) as exc:
        raw = step.model_dump(mode="json", by_alias=True)[kind]
        return PlannedStep(index, path, kind, raw, continue_on_error, retries, timeout,
                           error=str(exc))
    return PlannedStep(index, path, kind, action, continue_on_error, retries, timeout)


def _limits(step: WorkflowStep, config: ConfigSet) -> tuple[int, float]:
    if isinstance(step, WebhookStep):
        return step.webhook.retries, step.webhook.timeout.total_seconds
    if isinstance(step, RunbookStep):
        runbook = config.runbooks.get(step.runbook.name)
        if runbook is not None:
            return runbook.retries, runbook.timeout.total_seconds
        return 0, NOTIFY_TIMEOUT_SECONDS
    if isinstance(step, PageStep):
        return PAGE_RETRIES, NOTIFY_TIMEOUT_SECONDS
    return NOTIFY_RETRIES, NOTIFY_TIMEOUT_SECONDS


def _action(step: WorkflowStep, context: Mapping[str, Any], config: ConfigSet
            ) -> dict[str, Any]:
    if isinstance(step, SlackStep):
        return {"channel": render(step.slack.channel, context),
                "text": render(step.slack.text, context)}
    if isinstance(step, TeamsStep):
        return {"webhook": step.teams.webhook, "text": render(step.teams.text, context)}
    if isinstance(step, WebhookStep):
        hook = step.webhook
        return {"url": hook.url, "method": hook.method, "headers": dict(hook.headers),
                "body": render_value(hook.body, context),
                "max_response_bytes": hook.max_response_bytes}
    if isinstance(step, RunbookStep):
        return _runbook_action(step, context, config)
    if isinstance(step, EmailStep):
        return {"to": _recipients(step, config), "subject": render(step.email.subject, context),
                "text": render(step.email.text, context)}
    if isinstance(step, PageStep):
        page = step.page
        target = ({"schedule": page.schedule} if page.schedule is not None
                  else {"team": page.team} if page.team is not None else {"user": page.user})
        message = render(page.message, context) if page.message is not None else ""
        return {"target": target, "message": message}
    if isinstance(step, StatusStep):
        # The text is rendered by the step itself, over the service's name and the page's
        # title only: the incident's context (title, labels) is never offered to it.
        status = step.status
        return {"page": status.page, "text": status.text, "state": status.state,
                "component": status.component}
    if isinstance(step, PostmortemStep):
        action = step.postmortem
        return {"template": action.template,
                "title": render(action.title, context) if action.title is not None else None}
    raise TypeError(f"not an action step: {type(step).__name__}")


def _runbook_action(step: RunbookStep, context: Mapping[str, Any], config: ConfigSet
                    ) -> dict[str, Any]:
    name = step.runbook.name
    runbook = config.runbooks.get(name)
    if runbook is None:
        raise LookupError(f"runbook {name!r} is not in the applied config")
    rendered = render_value(step.runbook.params, context)
    try:
        params = validate_params(runbook.parameters, rendered)
    except ParamsInvalid as exc:
        raise ParamsInvalid(f"runbook {name!r}: {exc}") from exc
    return runbook_call(runbook, params, context)


def runbook_call(runbook: Runbook, params: Mapping[str, Any], context: Mapping[str, Any]
                 ) -> dict[str, Any]:
    """A runbook step's action from validated `params`: the body rendered over `params`,
    `incident` and `service`; URL and headers as written."""
    body_context = {"params": dict(params), "incident": context["incident"],
                    "service": context["service"]}
    hook = runbook.webhook
    return {"runbook": runbook.name, "params": dict(params), "url": hook.url,
            "method": hook.method, "headers": dict(hook.headers),
            "body": render_value(hook.body, body_context),
            "max_response_bytes": runbook.max_response_bytes}


def _recipients(step: EmailStep, config: ConfigSet) -> list[str]:
    found: list[str] = []
    for recipient in step.email.to:
        if isinstance(recipient, TeamRecipient):
            team = config.teams.get(recipient.team)
            if team is None:
                raise LookupError(f"team {recipient.team!r} is not in the applied config")
            emails = [m.email for m in team.members]
        else:
            emails = [recipient]
        found.extend(e for e in emails if e not in found)
    return found
