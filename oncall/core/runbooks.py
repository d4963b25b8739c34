"""Runbooks run by hand: the form a runbook's parameter schema describes, the typing of what
a person typed into it, and the planned run. Pure: no I/O.

A responder runs a runbook from the incident page, the REST API or Slack. Whatever the face,
the parameters are checked here against the runbook's JSON Schema (defaults applied) before
anything is queued, each problem named by the parameter it belongs to so a form can show it
beside the field; the run is then one `runbook` step, executed by the same durable machinery
as a workflow's (`oncall.store.outbox.queue_run`).

Typed text (Slack's `key=value`, a web form's inputs) is converted by the schema's declared
type before validation: `"true"` for a boolean, `"3"` for an integer, `"a,b"` for an array of
strings. A value that does not convert stays text, so the schema's own error names it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oncall.config.configset import ConfigSet
from oncall.config.models import AutomatedRunbook, Runbook
from oncall.config.templates import TemplateProblem
from oncall.core.workflows import (
    PlannedRun,
    PlannedStep,
    WorkflowIncident,
    param_path,
    param_problems,
    runbook_call,
    service_context,
)

MANUAL = "manual"
"""The `event` of a run by hand."""
WHOLE = ""
"""The problem key of a problem with the parameters as a whole (not one field)."""


class Rejected(ValueError):
    """Parameters the runbook refuses: `problems` maps a parameter (or `WHOLE`) to why."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(
            f"{name}: {why}" if name else why for name, why in self.problems.items()))


class NotRunnable(LookupError):
    """The runbook is not one the incident's service offers (or not in the applied config)."""


@dataclass(frozen=True)
class ParamField:
    """One input of a runbook's form."""

    name: str
    kind: str
    """select | checkbox | integer | number | list | json | text"""
    label: str
    description: str
    required: bool
    default: str
    """The default as the input shows it ("" for none)."""
    options: tuple[str, ...] = ()
    """A select's choices, as text."""


def _properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    props = schema.get("properties")
    return {str(k): v for k, v in props.items() if isinstance(v, dict)} \
        if isinstance(props, dict) else {}


def _type(prop: Mapping[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    return str(kind or "string")


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return str(value)


def form_fields(schema: Mapping[str, Any]) -> list[ParamField]:
    """The form for a parameter schema: one field per property, required ones first."""
    required = set(schema.get("required") or [])
    fields = []
    for name, prop in _properties(schema).items():
        kind = _type(prop)
        options: tuple[str, ...] = ()
        if isinstance(prop.get("enum"), list):
            form, options = "select", tuple(_as_text(v) for v in prop["enum"])
        elif kind == "boolean":
            form = "checkbox"
        elif kind in ("integer", "number"):
            form = kind
        elif kind == "array":
            form = "list"
        elif kind == "object":
            form = "json"
        else:
            form = "text"
        fields.append(ParamField(
            name=name, kind=form, label=str(prop.get("title") or name),
            description=str(prop.get("description") or ""), required=name in required,
            default=_as_text(prop.get("default")), options=options))
    return sorted(fields, key=lambda f: not f.required)


def _convert(text: str, prop: Mapping[str, Any]) -> Any:
    kind = _type(prop)
    enum = prop.get("enum")
    if isinstance(enum, list):  # the choice whose text was picked, whatever its type
        return next((v for v in enum if _as_text(v) == text), text)
    try:
        if kind == "boolean":
            lowered = text.strip().lower()
            return {"true": True, "yes": True, "on": True, "1": True,
                    "false": False, "no": False, "off": False, "0": False}.get(lowered, text)
        if kind == "integer":
            return int(text.strip())
        if kind == "number":
            number = float(text.strip())
            return int(number) if number.is_integer() and "." not in text else number
        if kind == "array":
            stripped = text.strip()
            if stripped.startswith("["):
                return json.loads(stripped)
            found = prop.get("items")
            items: Mapping[str, Any] = found if isinstance(found, dict) else {}
            return [_convert(part.strip(), items) for part in stripped.split(",") if part.strip()]
        if kind == "object":
            return json.loads(text)
    except ValueError:
        return text
    return text


def typed(schema: Mapping[str, Any], raw: Mapping[str, str]) -> dict[str, Any]:
    """Typed text converted by the schema's types; an empty input is left out, so the
    schema's default (or its `required`) applies."""
    props = _properties(schema)
    return {name: _convert(text, props.get(name, {}))
            for name, text in raw.items() if text.strip() != ""}


def check(schema: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` with the schema's defaults applied; `Rejected` names each problem by its
    parameter (a missing required one by its own name, not the object's)."""
    try:
        filled, errors = param_problems(schema, params)
    except Exception as exc:  # an invalid schema: validate refuses it, but never crash here
        raise Rejected({WHOLE: f"the runbook's parameter schema cannot be used: {exc}"}) from exc
    problems: dict[str, str] = {}
    for error in errors:
        where = param_path(error.absolute_path)
        given: Any = error.instance
        names: list[str] = [where.split("[", 1)[0].split(".", 1)[0]] if where else [WHOLE]
        message = error.message
        if not where and isinstance(given, dict) and error.validator == "required":
            # one error per missing property: name it, not the object
            wanted: Any = error.validator_value
            names = [n for n in wanted if n not in given and n not in problems][:1] or names
            message = "is required"
        elif (not where and isinstance(given, dict)
              and error.validator == "additionalProperties"):
            names = sorted(set(given) - set(_properties(schema))) or names
            message = "is not a parameter of this runbook"
        for name in names:
            problems.setdefault(name, _shortened(message, error.instance))
    if problems:
        raise Rejected(problems)
    return filled


def _shortened(message: str, instance: Any) -> str:
    """The schema's message with a long value it quotes cut short: `'xxxx…' is too long`."""
    quoted = repr(instance)
    if len(quoted) > _QUOTED and message.startswith(quoted):
        message = f"{quoted[:_QUOTED - 2]}…{quoted[-1]}{message[len(quoted):]}"
    return message[:300]


_QUOTED = 40


def runnable(config: ConfigSet, service: str) -> list[str]:
    """The runbooks a responder may run by hand on the service's incidents: the automated
    ones its `runbooks:` lists that are in the applied config."""
    svc = config.services.get(service)
    refs = svc.runbooks if svc is not None else []
    return [r.runbook for r in refs
            if isinstance(r, AutomatedRunbook) and r.runbook in config.runbooks]


def runbook_for(config: ConfigSet, service: str, name: str) -> Runbook:
    """The runbook, if the service offers it; `NotRunnable` says why not."""
    offered = runnable(config, service)
    if name not in offered:
        listed = ", ".join(offered) or "none"
        raise NotRunnable(f"service {service} does not offer runbook {name!r} "
                          f"(its runbooks: {listed})")
    return config.runbooks[name]


def plan_by_hand(config: ConfigSet, incident: WorkflowIncident, name: str,
                 params: Mapping[str, Any], request: str, by: str) -> PlannedRun:
    """One run of runbook `name` on `incident` asked for by `by` (an actor label); `request`
    makes the run's idempotency key (a fresh id, or the caller's Idempotency-Key)."""
    runbook = runbook_for(config, incident.service, name)
    filled = check(runbook.parameters, params)
    context = {"incident": incident.context(),
               "service": service_context(config, incident.service)}
    try:
        action = runbook_call(runbook, filled, context)
    except TemplateProblem as exc:
        raise Rejected({WHOLE: f"the runbook's body cannot be rendered: {exc}"}) from exc
    step = PlannedStep(0, "runbook", "runbook", action, continue_on_error=False,
                       retries=runbook.retries, timeout_seconds=runbook.timeout.total_seconds)
    return PlannedRun("", MANUAL, f"runbook:{name}:{incident.id}:{request}", (step,), by=by)
