"""The workflow format's newer fields: parsed with their defaults, and left out of a dump while
at their default so upgrading does not show every Workflow and Runbook as changed in a plan."""

from __future__ import annotations

from typing import Any

import pytest

from oncall.config.models import (
    EmailStep,
    PageStep,
    PostmortemStep,
    Runbook,
    TeamRecipient,
    WebhookStep,
    Workflow,
)
from oncall.config.schema import json_schema

HOOK = {"url": "https://hooks.example.com/x", "body": {"id": "{{ incident.id }}"}}


def workflow(*steps: dict[str, Any]) -> Workflow:
    return Workflow.model_validate({"kind": "Workflow", "name": "w", "on": ["incident.note_added"],
                                    "steps": list(steps)})


def test_defaults() -> None:
    wf = workflow({"webhook": HOOK}, {"email": {"to": ["a@example.com", {"team": "ops"}],
                                                "subject": "s", "text": "t"}},
                  {"page": {"user": "A@example.com"}})
    hook, email, page = wf.steps
    assert isinstance(hook, WebhookStep) and isinstance(email, EmailStep)
    assert isinstance(page, PageStep)
    assert (hook.webhook.timeout.total_seconds, hook.webhook.retries,
            hook.webhook.max_response_bytes, hook.continue_on_error) == (10, 0, 65536, False)
    assert email.email.to == ["a@example.com", TeamRecipient(team="ops")]
    assert page.page.user == "a@example.com"


# (step as written, its dump)
DUMPS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"webhook": HOOK}, {"webhook": {**HOOK, "method": "POST", "headers": {}}}),
    ({"webhook": {**HOOK, "timeout": "5s", "retries": 2}, "continue_on_error": True},
     {"webhook": {**HOOK, "method": "POST", "headers": {}, "timeout": "5s", "retries": 2},
      "continue_on_error": True}),
    ({"slack": {"channel": "#a", "text": "b"}}, {"slack": {"channel": "#a", "text": "b"}}),
]


@pytest.mark.parametrize(("step", "dumped"), DUMPS)
def test_new_fields_are_dumped_only_when_set(step: dict[str, Any],
                                             dumped: dict[str, Any]) -> None:
    assert workflow(step).model_dump(mode="json", by_alias=True)["steps"] == [dumped]


def test_runbook_dump_is_unchanged_at_defaults() -> None:
    rb = Runbook.model_validate({"kind": "Runbook", "name": "r", "webhook": HOOK})
    assert "max_response_bytes" not in rb.model_dump(mode="json", by_alias=True)
    rb = Runbook.model_validate({"kind": "Runbook", "name": "r", "webhook": HOOK,
                                 "max_response_bytes": 1024})
    assert rb.model_dump(mode="json", by_alias=True)["max_response_bytes"] == 1024


def test_the_json_schema_knows_the_new_steps_and_events() -> None:
    text = str(json_schema())
    for word in ("EmailStep", "PageStep", "continue_on_error", "max_response_bytes",
                 "incident.note_added", "incident.priority_changed"):
        assert word in text


def test_a_postmortem_step_takes_an_optional_template_and_title() -> None:
    bare, named = workflow({"postmortem": {}},
                           {"postmortem": {"template": "payments", "title": "Review {{ x }}"},
                            "continue_on_error": True}).steps
    assert isinstance(bare, PostmortemStep) and isinstance(named, PostmortemStep)
    assert (bare.postmortem.template, bare.postmortem.title) == (None, None)
    assert (named.postmortem.template, named.continue_on_error) == ("payments", True)
    for wrong in ({"postmortem": {"owner": "a@example.com"}}, {"postmortem": {"title": ""}},
                  {"postmortem": {"template": "Not A Name"}}):
        with pytest.raises(ValueError):
            workflow(wrong)
    assert "PostmortemStep" in str(json_schema())
