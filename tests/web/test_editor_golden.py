"""The YAML the policy and workflow editors write, byte for byte, against files in
tests/web/golden/editor/. A missing golden file fails; `ONCALL_UPDATE_GOLDEN=1` writes it (and
still fails, so a new file is looked at before it is trusted)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from oncall.config.configset import ConfigSet
from oncall.config.diagnostics import Diagnostic
from oncall.config.loader import build_object
from oncall.config.yamlsource import read_documents
from oncall.web.editor import policy as P
from oncall.web.editor import workflow as W
from oncall.web.editor.document import to_yaml

GOLDEN = Path(__file__).parent / "golden" / "editor"
EXAMPLE_POLICIES = ("data", "payments", "platform", "storefront")
EXAMPLE_WORKFLOWS = ("p1-broadcast", "postmortem-on-resolve", "storefront-updates")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if not path.exists():
        if os.environ.get("ONCALL_UPDATE_GOLDEN") == "1":
            path.write_text(text, encoding="utf-8")
            pytest.fail(f"wrote {path}: check it, then run again")
        pytest.fail(f"no golden file {path} (ONCALL_UPDATE_GOLDEN=1 writes it)")
    assert text == path.read_text(encoding="utf-8"), name


def _reads_back(text: str, kind: str, name: str) -> Any:
    """The object the config loader builds from `text`, alone (references are checked by the
    review, against the whole repo)."""
    documents, problems = read_documents(text, "x.yaml")
    assert not problems and len(documents) == 1
    diagnostics: list[Diagnostic] = []
    obj = build_object(documents[0], diagnostics)
    assert obj is not None and not diagnostics, [d.as_text() for d in diagnostics]
    assert (obj.KIND, obj.name) == (kind, name)
    return obj


def test_example_config_is_what_the_goldens_cover(example_config: ConfigSet) -> None:
    assert sorted(example_config.policies) == list(EXAMPLE_POLICIES)
    assert sorted(example_config.workflows) == list(EXAMPLE_WORKFLOWS)


@pytest.mark.parametrize("name", EXAMPLE_POLICIES)
def test_example_policy(example_config: ConfigSet, name: str) -> None:
    policy = example_config.policies[name]
    text = to_yaml(P.document(P.form_of(policy)))
    assert text == to_yaml(P.canonical(policy))
    check_golden(f"policy-{name}.yaml", text)
    assert _reads_back(text, "EscalationPolicy", name) == policy


@pytest.mark.parametrize("name", EXAMPLE_WORKFLOWS)
def test_example_workflow(example_config: ConfigSet, name: str) -> None:
    workflow = example_config.workflows[name]
    text = to_yaml(W.document(W.form_of(workflow)))
    assert text == to_yaml(W.canonical(workflow))
    check_golden(f"workflow-{name}.yaml", text)
    assert _reads_back(text, "Workflow", name) == workflow


def test_new_two_step_policy() -> None:
    form = P.add_target(P.blank_form("checkout-escalation"), 0, "schedule:payments-primary")
    form = P.add_step(form)
    form = P.add_target(form, 1, "user:priya.raman@northwind.example")
    form = P.add_target(form, 1, "team:payments")
    form = P.set_timeout(form, 1, "15m")
    form = {**form, "repeat": "1", "description": "Primary, then the lead and the team"}
    text = to_yaml(P.document(form))
    check_golden("policy-new-two-step.yaml", text)
    _reads_back(text, "EscalationPolicy", "checkout-escalation")


def test_new_workflow_with_every_step_kind() -> None:
    form = {**W.blank_form("every-step"), "when": 'incident.priority in ["P1", "P2"]',
            "steps": []}
    form = W.set_event(form, "incident.resolved", True)
    values = {
        "slack": {"channel": "#incidents", "text": "{{ incident.title }}"},
        "teams": {"webhook": "${env:TEAMS_HOOK}", "text": "{{ incident.title }}"},
        "webhook": {"url": "https://hooks.example.com/x", "method": "PUT",
                    "headers": "Authorization: Bearer ${env:HOOK_TOKEN}",
                    "body": "id: '{{ incident.id }}'\nlabels: '{{ incident.labels }}'",
                    "timeout": "5s", "retries": "2"},
        "runbook": {"name": "purge-cdn-cache", "params": "paths: [/]\nhard: true"},
        "email": {"to": "oncall@northwind.example, team:platform",
                  "subject": "{{ incident.title }}",
                  "text": "Line one\nLine two\n"},
        "page": {"target": "schedule:payments-primary", "message": "why: {{ incident.title }}"},
        "status": {"page": "northwind-status", "text": "Looking into {{ service }}",
                   "state": "identified", "component": "Checkout"},
        "postmortem": {"title": "{{ incident.title }}"},
    }
    for i, (kind, fields) in enumerate(values.items()):
        form = W.add_block(form, kind)
        for field, value in fields.items():
            form = W.set_field(form, str(i), field, value)
    form = W.set_field(form, "0", "continue_on_error", "true")
    form = W.add_block(form, "if")
    form = W.set_field(form, str(len(values)), "if", 'service.team == "payments"')
    form = W.add_block(form, "slack", str(len(values)), "then")
    form = W.add_block(form, "slack", str(len(values)), "else")
    for branch in ("then", "else"):
        form = W.set_field(form, f"{len(values)}.{branch}.0", "channel", f"#{branch}")
        form = W.set_field(form, f"{len(values)}.{branch}.0", "text", branch)
    assert W.inline_problems(form) == []
    text = to_yaml(W.document(form))
    check_golden("workflow-new-every-step.yaml", text)
    _reads_back(text, "Workflow", "every-step")
