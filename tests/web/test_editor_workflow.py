"""The workflow builder's form: round trips, block operations, inline problems (the same as
`oncall validate`'s), and the template preview rendered by the engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from oncall.config.configset import ConfigSet
from oncall.config.loader import load_text
from oncall.config.models import Workflow
from oncall.core.workflows import WorkflowIncident
from oncall.web.editor import workflow as W


def test_every_example_workflow_round_trips(example_config: ConfigSet) -> None:
    assert len(example_config.workflows) >= 3
    for wf in example_config.workflows.values():
        doc = W.document(W.form_of(wf))
        assert doc == W.canonical(wf), wf.name
        again = Workflow.model_validate(doc)
        assert again.model_dump() == wf.model_dump()


def _kinds(form: W.WorkflowForm) -> list[str]:
    return [f"{r['path']}:{r['kind']}" for r in W.rows(form)]


def _start() -> W.WorkflowForm:
    form = W.add_block(W.blank_form("wf"), "if")  # steps: 0 slack, 1 if
    form = W.add_block(form, "page", "1", "then")
    return W.add_block(form, "email", "1", "else")


@pytest.mark.parametrize(
    ("op", "after"),
    [
        (lambda f: f, ["0:slack", "1:if", "1.then.0:page", "1.else.0:email"]),
        (lambda f: W.move_block(f, "1", -1),
         ["0:if", "0.then.0:page", "0.else.0:email", "1:slack"]),
        (lambda f: W.move_block(f, "0", -1),
         ["0:slack", "1:if", "1.then.0:page", "1.else.0:email"]),
        (lambda f: W.remove_block(f, "1.then.0"), ["0:slack", "1:if", "1.else.0:email"]),
        (lambda f: W.remove_block(f, "1"), ["0:slack"]),
        (lambda f: W.add_block(f, "status", "1", "then"),
         ["0:slack", "1:if", "1.then.0:page", "1.then.1:status", "1.else.0:email"]),
        (lambda f: W.move_block(W.add_block(f, "webhook", "1", "then"), "1.then.1", -1),
         ["0:slack", "1:if", "1.then.0:webhook", "1.then.1:page", "1.else.0:email"]),
        # stale or forged paths, and blocks that are not an `if`, change nothing
        (lambda f: W.remove_block(f, "9"), ["0:slack", "1:if", "1.then.0:page", "1.else.0:email"]),
        (lambda f: W.remove_block(f, "1.bogus.0"),
         ["0:slack", "1:if", "1.then.0:page", "1.else.0:email"]),
        (lambda f: W.add_block(f, "slack", "0", "then"),
         ["0:slack", "1:if", "1.then.0:page", "1.else.0:email"]),
        (lambda f: W.add_block(f, "shell", "", ""),
         ["0:slack", "1:if", "1.then.0:page", "1.else.0:email"]),
    ],
)
def test_block_operations(op: Any, after: list[str]) -> None:
    form = _start()
    before = _kinds(form)
    assert _kinds(op(form)) == after
    assert _kinds(form) == before


def test_fields_and_events() -> None:
    form = W.set_field(W.blank_form("wf"), "0", "channel", "#ops")
    form = W.set_field(form, "0", "text", "{{ incident.title }}")
    form = W.set_field(form, "0", "continue_on_error", "true")
    form = W.set_event(W.set_event(form, "incident.resolved", True), "incident.triggered", False)
    form = W.set_field(form, "0", "nonsense", "x")
    assert W.document(form) == {
        "kind": "Workflow", "name": "wf", "on": ["incident.resolved"],
        "steps": [{"slack": {"channel": "#ops", "text": "{{ incident.title }}"},
                   "continue_on_error": True}],
    }


@pytest.mark.parametrize(
    ("kind", "fields", "written"),
    [
        ("page", {"target": "schedule:data-primary", "message": ""},
         {"page": {"schedule": "data-primary"}}),
        ("page", {"target": "user:a@b.example", "message": "why"},
         {"page": {"user": "a@b.example", "message": "why"}}),
        ("email", {"to": "a@b.example, team:platform", "subject": "s", "text": "t\n"},
         {"email": {"to": ["a@b.example", {"team": "platform"}], "subject": "s",
                    "text": "t\n"}}),
        ("webhook", {"url": "https://h.example/x", "method": "POST", "headers": "",
                     "body": "id: '{{ incident.id }}'", "timeout": "10s", "retries": "2",
                     "max_response_bytes": ""},
         {"webhook": {"url": "https://h.example/x", "body": {"id": "{{ incident.id }}"},
                      "retries": 2}}),
        ("runbook", {"name": "purge-cdn-cache", "params": "paths: [/]\nhard: false"},
         {"runbook": {"name": "purge-cdn-cache", "params": {"paths": ["/"], "hard": False}}}),
        ("status", {"page": "northwind-status", "text": "x", "state": "investigating",
                    "component": ""},
         {"status": {"page": "northwind-status", "text": "x"}}),
        ("postmortem", {"template": "", "title": ""}, {"postmortem": {}}),
    ],
)
def test_step_documents(kind: str, fields: dict[str, str], written: dict[str, Any]) -> None:
    form = W.add_block({**W.blank_form("wf"), "steps": []}, kind)
    for name, value in fields.items():
        form = W.set_field(form, "0", name, value)
    assert W.document(form)["steps"] == [written]


def _validate_message(when: str) -> str:
    text = ("kind: Workflow\nname: wf\non: [incident.triggered]\n"
            f"when: {json.dumps(when)}\nsteps:\n  - slack: {{channel: '#x', text: hi}}\n")
    result = load_text(text, "workflows/wf.yaml")
    assert result.errors
    return result.errors[0].message


@pytest.mark.parametrize(
    "when",
    ["incident.priority ==", "incidnt.priority == 'P1'", "{{ incident.title }}",
     "incident.priority in ['P1'"],
)
def test_condition_problems_are_validates(when: str) -> None:
    problem = W.condition_problem(when)
    assert problem is not None
    assert problem == _validate_message(when)


@pytest.mark.parametrize("when", ["", 'incident.priority == "P1"',
                                  'incident.labels.get("team") == "web"'])
def test_good_conditions(when: str) -> None:
    assert W.condition_problem(when) is None


@pytest.mark.parametrize(
    ("kind", "field", "value", "problem"),
    [
        ("slack", "text", "{{ incident.title }", "template syntax error"),
        ("slack", "text", "{{ secret }}", "unknown variable 'secret'"),
        ("status", "text", "{{ incident.title }}", "unknown variable 'incident'"),
        ("webhook", "body", "a: [1", "not YAML"),
        ("webhook", "headers", "- a", "write a mapping"),
        ("runbook", "params", "x: '{{ incident.nme | upper( }}'", "template syntax error"),
        ("if", "if", "", "write the condition"),
        ("slack", "text", "{{ incident.title }} fine", None),
    ],
)
def test_field_problems(kind: str, field: str, value: str, problem: str | None) -> None:
    form = W.set_field(W.add_block({**W.blank_form("wf"), "steps": []}, kind), "0", field, value)
    found = next(f for f in W.rows(form)[0]["fields"] if f["name"] == field)["problem"]
    if problem is None:
        assert found == ""
    else:
        assert problem in found
        assert any(problem in p for p in W.inline_problems(form))


INCIDENT = WorkflowIncident(
    id=42, title="Checkout <b>down</b>", description=None, status="triggered", priority="P1",
    urgency="high", labels={"region": "eu-west-1"}, service="checkout-api",
    triggered_at=datetime(2026, 3, 10, 11, 0, tzinfo=UTC))


def test_preview_renders_with_the_engine(example_config: ConfigSet) -> None:
    form = W.form_of(example_config.workflows["p1-broadcast"])
    shown = W.preview(form, INCIDENT, example_config)
    assert shown["event"] == "incident.triggered" and shown["when"] == "true"
    by_path = {s["path"]: {ln["label"]: ln["text"] for ln in s["lines"]} for s in shown["steps"]}
    assert by_path["0"]["text"] == ":rotating_light: P1 Checkout <b>down</b> on checkout-api"
    assert by_path["1"]["condition"] == "true"
    assert by_path["1.then.0"]["params"] == (
        "region: eu-west-1\nreason: 'auto: Checkout <b>down</b>'")
    assert by_path["2"]["body"] == "id: 42\npriority: P1\nevent: incident.triggered"


def test_preview_of_a_failing_template_and_condition(example_config: ConfigSet) -> None:
    form = W.set_field(W.blank_form("wf"), "0", "text", "{{ incident.labels.team }}")
    form = {**form, "when": "incident.labels.team == 'x'"}
    shown = W.preview(form, INCIDENT, example_config)
    assert shown["when"].startswith("could not be evaluated, counted as false")
    assert shown["steps"][0]["lines"][-1]["text"].startswith("⚠ template failed")


def test_preview_cannot_reach_python_internals(example_config: ConfigSet) -> None:
    form = W.set_field(W.blank_form("wf"), "0", "text",
                       "{{ incident.title.__class__.__mro__ }}")
    text = W.preview(form, INCIDENT, example_config)["steps"][0]["lines"][-1]["text"]
    assert text.startswith("⚠") and "unsafe" in text and "<class" not in text
