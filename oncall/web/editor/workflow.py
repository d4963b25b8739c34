"""The workflow builder's form: trigger, condition and steps as blocks, the document it writes,
the problems it can name field by field, and each step rendered against a past incident.

Blocks hold text as typed. Structured values (a webhook's headers and body, a runbook's params)
are edited as YAML and read back with the config's own YAML reader, so what the preview and
the document see is what `oncall validate` would read. Conditions and templates are checked
by the same functions as `oncall validate`, and rendered by the engine's own sandboxed
renderer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args

import yaml
from jinja2 import UndefinedError

from oncall.config.checks import expression_problem, template_problem
from oncall.config.configset import ConfigSet
from oncall.config.models import (
    MAX_RESPONSE_BYTES,
    NOTICE_STATES,
    STEP_KINDS,
    IfStep,
    Workflow,
    WorkflowEvent,
    WorkflowStep,
)
from oncall.config.templates import (
    STATUS_STEP_VARIABLES,
    WORKFLOW_VARIABLES,
    TemplateProblem,
    evaluate,
    render,
)
from oncall.config.yamlsource import read_documents
from oncall.core.workflows import (
    WorkflowEventView,
    WorkflowIncident,
    render_value,
    workflow_context,
)

EVENTS: tuple[str, ...] = get_args(WorkflowEvent)
WorkflowForm = dict[str, Any]
"""{"name", "description", "on": [event], "when", "steps": [Block]}"""
Block = dict[str, Any]
"""{"kind", "fields": {name: text}, "continue_on_error": bool, "then": [Block], "else": [Block]}"""

_INT = re.compile(r"^[0-9]+$")
WEBHOOK_TIMEOUT = "10s"


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    multiline: bool = False
    template: frozenset[str] | None = None
    """The names a template here may use; None: not a template."""
    structured: bool = False
    """YAML text, read back into a value."""
    hint: str = ""


_W = WORKFLOW_VARIABLES
FIELDS: dict[str, tuple[Field, ...]] = {
    "slack": (Field("channel", "Channel", template=_W, hint="#channel or channel ID"),
              Field("text", "Text", multiline=True, template=_W)),
    "teams": (Field("webhook", "Webhook", hint="${env:NAME}"),
              Field("text", "Text", multiline=True, template=_W)),
    "webhook": (Field("url", "URL", hint="https://… or ${env:NAME}/…"),
                Field("method", "Method", hint="GET, POST, PUT, PATCH or DELETE"),
                Field("headers", "Headers (YAML)", multiline=True, structured=True),
                Field("body", "Body (YAML)", multiline=True, template=_W, structured=True),
                Field("timeout", "Timeout", hint="default 10s"),
                Field("retries", "Retries", hint="0–10"),
                Field("max_response_bytes", "Max response bytes", hint="default 65536")),
    "runbook": (Field("name", "Runbook"),
                Field("params", "Parameters (YAML)", multiline=True, template=_W,
                      structured=True)),
    "email": (Field("to", "To", hint="addresses and team:NAME, comma-separated"),
              Field("subject", "Subject", template=_W),
              Field("text", "Text", multiline=True, template=_W)),
    "page": (Field("target", "Page", hint="schedule:NAME, team:NAME or user:EMAIL"),
             Field("message", "Timeline message", multiline=True, template=_W)),
    "status": (Field("page", "Status page"),
               Field("text", "Text", multiline=True, template=STATUS_STEP_VARIABLES,
                     hint="may use service and page only"),
               Field("state", "State", hint=", ".join(NOTICE_STATES)),
               Field("component", "Component", hint="optional")),
    "postmortem": (Field("template", "Template", hint="optional"),
                   Field("title", "Title", template=_W, hint="optional")),
    "if": (Field("if", "Condition", hint='e.g. incident.priority == "P1"'),),
}
ACTION_KINDS: tuple[str, ...] = tuple(k for k in STEP_KINDS if k != "if")


# --- YAML text for structured fields ---------------------------------------------------------


def yaml_text(value: Any) -> str:
    """A structured value as the YAML a person edits; empty for nothing."""
    if value is None or value == {} or value == []:
        return ""
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=10_000,
                          default_flow_style=False).rstrip("\n")


def read_yaml(text: str) -> Any:
    """Read YAML text as the config loader would (YAML 1.2 core); ValueError on a problem."""
    if not text.strip():
        return None
    documents, problems = read_documents(text, "field")
    if problems:
        raise ValueError(problems[0].message)
    if len(documents) != 1:
        raise ValueError("write one YAML value here")
    return documents[0].value


# --- from a model to the form ----------------------------------------------------------------


def blank_block(kind: str) -> Block:
    fields = {f.name: "" for f in FIELDS[kind]}
    if kind == "webhook":
        fields["method"] = "POST"
    if kind == "status":
        fields["state"] = "investigating"
    return {"kind": kind, "fields": fields, "continue_on_error": False, "then": [], "else": []}


def blank_form(name: str = "") -> WorkflowForm:
    return {"name": name, "description": "", "on": ["incident.triggered"], "when": "",
            "steps": [blank_block("slack")]}


def _dump(model: Any) -> dict[str, Any]:
    return dict(model.model_dump(mode="json", by_alias=True, exclude_defaults=True))


def _block_of(step: WorkflowStep) -> Block:
    if isinstance(step, IfStep):
        block = blank_block("if")
        block["fields"]["if"] = step.if_
        block["then"] = [_block_of(s) for s in step.then]
        block["else"] = [_block_of(s) for s in step.else_]
        return block
    dumped = step.model_dump(mode="json", by_alias=True)
    kind = next(k for k in ACTION_KINDS if k in dumped)
    block = blank_block(kind)
    block["continue_on_error"] = bool(dumped.get("continue_on_error", False))
    action = dumped[kind]
    fields = block["fields"]
    if kind == "email":
        fields.update(subject=action["subject"], text=action["text"], to=", ".join(
            f"team:{r['team']}" if isinstance(r, dict) else str(r) for r in action["to"]))
    elif kind == "page":
        who = next(k for k in ("schedule", "team", "user") if action.get(k) is not None)
        fields.update(target=f"{who}:{action[who]}", message=action.get("message") or "")
    else:
        for f in FIELDS[kind]:
            value = action.get(f.name)
            if f.structured:
                fields[f.name] = yaml_text(value)
            elif value is not None:
                fields[f.name] = str(value)
    return block


def form_of(workflow: Workflow) -> WorkflowForm:
    """An applied workflow, ready to edit."""
    return {"name": workflow.name, "description": workflow.description or "",
            "on": list(workflow.on), "when": workflow.when or "",
            "steps": [_block_of(s) for s in workflow.steps]}


def canonical(workflow: Workflow) -> dict[str, Any]:
    """An applied workflow as the editor writes it: what a round trip must reproduce."""
    dumped = _dump(workflow)
    doc = {"kind": dumped.pop("kind"), "name": dumped.pop("name")}
    doc.update(dumped)
    doc["steps"] = [_canonical_step(s) for s in doc["steps"]]
    return doc


def _canonical_step(step: dict[str, Any]) -> dict[str, Any]:
    if "if" in step:
        out: dict[str, Any] = {"if": step["if"], "then": [_canonical_step(s) for s in step["then"]]}
        if step.get("else"):
            out["else"] = [_canonical_step(s) for s in step["else"]]
        return out
    kind = next(k for k in ACTION_KINDS if k in step)
    out = {kind: step[kind]}
    if step.get("continue_on_error"):
        out["continue_on_error"] = True
    return out


# --- from the form to the document -----------------------------------------------------------


def _number(text: str) -> int | str:
    stripped = text.strip()
    return int(stripped) if _INT.match(stripped) else stripped


def _structured(text: str) -> Any:
    try:
        return read_yaml(text)
    except ValueError:
        return text  # the field's problem names it; validation sees the text as typed


def _action(kind: str, fields: dict[str, str]) -> dict[str, Any]:
    f = {k: v if k in ("text", "message") else v.strip() for k, v in fields.items()}
    if kind == "slack":
        return {"channel": f["channel"], "text": f["text"]}
    if kind == "teams":
        return {"webhook": f["webhook"], "text": f["text"]}
    if kind == "webhook":
        out: dict[str, Any] = {"url": f["url"]}
        if f["method"] and f["method"] != "POST":
            out["method"] = f["method"]
        for name in ("headers", "body"):
            value = _structured(fields[name])
            if value is not None:
                out[name] = value
        if f["timeout"] and f["timeout"] != WEBHOOK_TIMEOUT:
            out["timeout"] = f["timeout"]
        if f["retries"] and f["retries"] != "0":
            out["retries"] = _number(f["retries"])
        if f["max_response_bytes"] and f["max_response_bytes"] != str(MAX_RESPONSE_BYTES):
            out["max_response_bytes"] = _number(f["max_response_bytes"])
        return out
    if kind == "runbook":
        out = {"name": f["name"]}
        params = _structured(fields["params"])
        if params is not None:
            out["params"] = params
        return out
    if kind == "email":
        to: list[Any] = []
        for item in (p.strip() for p in f["to"].split(",")):
            if item:
                to.append({"team": item[5:].strip()} if item.startswith("team:") else item)
        return {"to": to, "subject": f["subject"], "text": f["text"]}
    if kind == "page":
        who, sep, ref = f["target"].partition(":")
        out = {who: ref} if sep and who in ("schedule", "team", "user") else {
            "schedule": f["target"]}
        if f["message"]:
            out["message"] = f["message"]
        return out
    if kind == "status":
        out = {"page": f["page"], "text": f["text"]}
        if f["state"] and f["state"] != "investigating":
            out["state"] = f["state"]
        if f["component"]:
            out["component"] = f["component"]
        return out
    if kind == "postmortem":
        out = {}
        if f["template"]:
            out["template"] = f["template"]
        if f["title"]:
            out["title"] = f["title"]
        return out
    raise ValueError(f"not a step kind: {kind!r}")


def _step_document(block: Block) -> dict[str, Any]:
    kind = block["kind"]
    if kind == "if":
        out: dict[str, Any] = {"if": block["fields"]["if"].strip(),
                               "then": [_step_document(b) for b in block["then"]]}
        if block["else"]:
            out["else"] = [_step_document(b) for b in block["else"]]
        return out
    out = {kind: _action(kind, block["fields"])}
    if block["continue_on_error"]:
        out["continue_on_error"] = True
    return out


def document(form: WorkflowForm) -> dict[str, Any]:
    """The YAML document of the form, canonical key order, no field at its default."""
    doc: dict[str, Any] = {"kind": Workflow.KIND, "name": form["name"].strip()}
    if form["description"].strip():
        doc["description"] = form["description"].strip()
    doc["on"] = [e for e in EVENTS if e in form["on"]]
    if form["when"].strip():
        doc["when"] = form["when"].strip()
    doc["steps"] = [_step_document(b) for b in form["steps"]]
    return doc


# --- paths and operations on blocks ----------------------------------------------------------
# A block's path is its place in the tree: "1" is the second step, "1.then.0" the first step of
# its `then`. The page sends paths back; a stale or forged one changes nothing.


def _parse(path: str) -> list[int | str] | None:
    parts: list[int | str] = []
    tokens = path.split(".") if path else []
    for i, token in enumerate(tokens):
        if i % 2 == 0:
            if not _INT.match(token):
                return None
            parts.append(int(token))
        elif token in ("then", "else"):
            parts.append(token)
        else:
            return None
    return parts if len(parts) % 2 == 1 else None


def _copy(form: WorkflowForm) -> WorkflowForm:
    def block(b: Block) -> Block:
        return {"kind": b["kind"], "fields": dict(b["fields"]),
                "continue_on_error": b["continue_on_error"],
                "then": [block(c) for c in b["then"]], "else": [block(c) for c in b["else"]]}
    return {**form, "on": list(form["on"]), "steps": [block(b) for b in form["steps"]]}


def _locate(form: WorkflowForm, path: str) -> tuple[list[Block], int] | None:
    """The list holding the block at `path`, and its index there."""
    parts = _parse(path)
    if parts is None:
        return None
    container: list[Block] = form["steps"]
    for i in range(0, len(parts) - 1, 2):
        index, branch = parts[i], parts[i + 1]
        assert isinstance(index, int) and isinstance(branch, str)
        if not 0 <= index < len(container) or container[index]["kind"] != "if":
            return None
        container = container[index][branch]
    last = parts[-1]
    assert isinstance(last, int)
    return (container, last) if 0 <= last < len(container) else None


def add_block(form: WorkflowForm, kind: str, parent: str = "", branch: str = "") -> WorkflowForm:
    """A new block at the end of the steps, or of the `then`/`else` of the `if` at `parent`."""
    if kind not in FIELDS:
        return form
    new = _copy(form)
    if not parent:
        new["steps"].append(blank_block(kind))
        return new
    found = _locate(new, parent)
    if found is None or branch not in ("then", "else"):
        return form
    container, index = found
    if container[index]["kind"] != "if":
        return form
    container[index][branch].append(blank_block(kind))
    return new


def remove_block(form: WorkflowForm, path: str) -> WorkflowForm:
    new = _copy(form)
    found = _locate(new, path)
    if found is None:
        return form
    container, index = found
    del container[index]
    return new


def move_block(form: WorkflowForm, path: str, delta: int) -> WorkflowForm:
    new = _copy(form)
    found = _locate(new, path)
    if found is None:
        return form
    container, index = found
    other = index + delta
    if not 0 <= other < len(container):
        return form
    container[index], container[other] = container[other], container[index]
    return new


def set_field(form: WorkflowForm, path: str, name: str, value: str) -> WorkflowForm:
    new = _copy(form)
    found = _locate(new, path)
    if found is None:
        return form
    container, index = found
    block = container[index]
    if name == "continue_on_error":
        if block["kind"] == "if":
            return form
        block["continue_on_error"] = value in ("true", "on", "1", True)
    elif name in block["fields"]:
        block["fields"][name] = value
    else:
        return form
    return new


def set_event(form: WorkflowForm, event: str, on: bool) -> WorkflowForm:
    if event not in EVENTS:
        return form
    events = [e for e in form["on"] if e != event] + ([event] if on else [])
    return {**form, "on": [e for e in EVENTS if e in events]}


# --- problems each field can show where it is typed ------------------------------------------


def condition_problem(source: str) -> str | None:
    """A `when` or `if`, checked exactly as `oncall validate` checks it."""
    if not source.strip():
        return None
    return expression_problem(source.strip(), WORKFLOW_VARIABLES)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def field_problem(kind: str, field: Field, text: str) -> str | None:
    if kind == "if":
        if not text.strip():
            return "write the condition"
        return condition_problem(text)
    if field.structured:
        try:
            value = read_yaml(text)
        except ValueError as exc:
            return f"not YAML: {exc}"
        if field.name in ("headers", "params") and value is not None and not isinstance(
                value, dict):
            return "write a mapping (name: value, one a line)"
        strings = _strings(value)
    else:
        strings = [text]
    if field.template is not None:
        for s in strings:
            if "{{" in s or "{%" in s or "{#" in s:
                problem = template_problem(s, field.template)
                if problem is not None:
                    return problem
    return None


# --- what the page shows ---------------------------------------------------------------------


def _title(block: Block) -> str:
    kind = block["kind"]
    f = block["fields"]
    summary = {"slack": f.get("channel", ""), "runbook": f.get("name", ""),
               "page": f.get("target", ""), "status": f.get("page", ""),
               "email": f.get("to", ""), "webhook": f.get("url", ""),
               "if": f.get("if", "")}.get(kind, "")
    return f"{kind} {summary}".strip()


def rows(form: WorkflowForm) -> list[dict[str, Any]]:
    """Every block in order, nested blocks after their `if`, with its fields and problems."""
    found: list[dict[str, Any]] = []

    def walk(blocks: list[Block], prefix: str, depth: int, where: str) -> None:
        for i, block in enumerate(blocks):
            path = f"{prefix}{i}"
            kind = block["kind"]
            fields = []
            for f in FIELDS[kind]:
                value = block["fields"].get(f.name, "")
                fields.append({"name": f.name, "label": f.label, "value": value,
                               "multiline": f.multiline, "hint": f.hint,
                               "problem": field_problem(kind, f, value) or "",
                               "id": f"wf-{path.replace('.', '-')}-{f.name}"})
            found.append({
                "path": path, "kind": kind, "depth": depth, "where": where,
                "number": str(len(found) + 1), "title": _title(block),
                "indent": f"{depth * 1.5}em", "is_if": kind == "if",
                "first": i == 0, "last": i == len(blocks) - 1,
                "continue_on_error": block["continue_on_error"], "fields": fields,
            })
            if kind == "if":
                walk(block["then"], f"{path}.then.", depth + 1, f"then of step {path}")
                walk(block["else"], f"{path}.else.", depth + 1, f"else of step {path}")

    walk(form["steps"], "", 0, "")
    return found


def inline_problems(form: WorkflowForm) -> list[str]:
    """Every problem the form shows next to a field, as one list for the review panel."""
    problems = []
    if form["when"].strip() and (p := condition_problem(form["when"])):
        problems.append(f"when: {p}")
    for row in rows(form):
        for f in row["fields"]:
            if f["problem"]:
                problems.append(f"step {row['path']} {f['name']}: {f['problem']}")
    return problems


# --- template preview ------------------------------------------------------------------------


PREVIEW_CHARS = 2000
"""The most of a rendered text the preview shows."""


def _cut(text: str) -> str:
    if len(text) <= PREVIEW_CHARS:
        return text
    return f"{text[:PREVIEW_CHARS]}… ({len(text) - PREVIEW_CHARS} more characters)"


def _render(source: str, context: dict[str, Any]) -> str:
    try:
        return _cut(render(source, context))
    except TemplateProblem as exc:
        return _cut(f"⚠ {exc}")


def _render_structured(text: str, context: dict[str, Any]) -> str:
    try:
        value = read_yaml(text)
        return _cut(yaml_text(render_value(value, context))) if value is not None else ""
    except (ValueError, TemplateProblem) as exc:
        return _cut(f"⚠ {exc}")


def preview(form: WorkflowForm, incident: WorkflowIncident, config: ConfigSet,
            event: str | None = None) -> dict[str, Any]:
    """Each step's texts rendered against `incident` with the engine's renderer, as the step
    would send them on `event` (the first trigger if none); `if` conditions evaluated."""
    event = event or (form["on"][0] if form["on"] else "incident.triggered")
    view = WorkflowEventView(type=event, id=None, actor="preview")
    context = workflow_context(view, incident, config)

    def condition(source: str) -> str:
        if not source.strip():
            return "always"
        try:
            return "true" if bool(evaluate(source.strip(), context)) else "false"
        except (TemplateProblem, UndefinedError) as exc:  # StrictUndefined refuses bool()
            return f"could not be evaluated, counted as false: {exc}"

    steps: list[dict[str, Any]] = []
    for row in rows(form):
        block = _block_at(form, row["path"])
        f = block["fields"]
        lines: list[dict[str, str]] = []
        kind = block["kind"]
        if kind == "if":
            lines.append({"label": "condition", "text": condition(f["if"])})
        elif kind == "status":
            page = config.status_pages.get(f["page"].strip())
            notice = {"service": incident.service, "page": page.title if page else f["page"]}
            lines.append({"label": "text", "text": _render(f["text"], notice)})
        else:
            for spec in FIELDS[kind]:
                text = f.get(spec.name, "")
                if not text.strip():
                    continue
                if spec.structured and spec.template is not None:
                    lines.append({"label": spec.name, "text": _render_structured(text, context)})
                elif spec.template is not None:
                    lines.append({"label": spec.name, "text": _render(text, context)})
                else:
                    lines.append({"label": spec.name, "text": text})
        steps.append({"path": row["path"], "title": row["title"], "indent": row["indent"],
                      "lines": lines})
    return {"event": event, "when": condition(form["when"]), "steps": steps}


def _block_at(form: WorkflowForm, path: str) -> Block:
    found = _locate(form, path)
    assert found is not None
    container, index = found
    return container[index]


