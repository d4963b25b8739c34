"""The workflow builder's state: trigger, condition with its problem inline, steps as blocks,
the preview against a past incident, the review; an anonymous browser gets nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oncall.web.state.workflow_editor import WorkflowEditorState

from .conftest import RESPONDER, call


def _new(state: Callable[..., Any], email: str | None = RESPONDER) -> WorkflowEditorState:
    s: WorkflowEditorState = state(WorkflowEditorState, email, "/workflows/new")
    call(s, "load")
    return s


def _field(s: WorkflowEditorState, path: str, name: str) -> dict[str, Any]:
    row = next(r for r in s.blocks if r["path"] == path)
    return next(f for f in row["fields"] if f["name"] == name)


def test_build_a_workflow(state: Callable[..., Any], incident: Callable[..., int]) -> None:
    incident_id = incident("Basket page <script>alert(1)</script> slow")
    s = _new(state)
    call(s, "set_name", "web-p1")
    call(s, "set_when", 'incident.priority == "P2"')
    assert s.when_problem == ""
    call(s, "remove_step", "0")
    call(s, "add_step", "page")
    call(s, "set_field", "0", "target", "schedule:storefront-primary")
    call(s, "set_field", "0", "message", "Paging for {{ incident.title }}")
    assert s.review_ok, [r for r in s.review_lines if r["problem"]]
    assert "page:" in s.review_yaml and "schedule: storefront-primary" in s.review_yaml
    # break the condition: the problem shows under it, and the review refuses it too
    call(s, "set_when", 'incident.priority = "P2"')
    assert "expression syntax error" in s.when_problem
    assert not s.review_ok
    call(s, "set_when", 'incident.priority == "P2"')
    assert s.when_problem == "" and s.review_ok
    # preview against a past incident: the engine renders the title as data
    assert any(i["id"] == str(incident_id) for i in s.incidents)
    call(s, "search_incidents", f"#{incident_id}")
    assert [i["id"] for i in s.incidents] == [str(incident_id)]
    call(s, "pick_incident", str(incident_id))
    assert s.preview_when == "true" and s.preview_event == "incident.triggered"
    lines = s.preview_steps[0]["lines"]
    assert {"label": "message",
            "text": "Paging for Basket page <script>alert(1)</script> slow"} in lines
    # edits re-render the preview
    call(s, "set_field", "0", "message", "{{ service.name }}/{{ incident.priority }}")
    assert s.preview_steps[0]["lines"][-1]["text"] == "storefront-web/P2"


def test_blocks_and_inline_template_problems(state: Callable[..., Any]) -> None:
    s = _new(state)
    call(s, "add_step", "if")
    call(s, "add_branch_step", "1", "then", "email")
    assert [r["path"] for r in s.blocks] == ["0", "1", "1.then.0"]
    assert _field(s, "1", "if")["problem"] == "write the condition"
    call(s, "set_field", "1.then.0", "subject", "{{ incident.tittle | upper }")
    assert "template syntax error" in _field(s, "1.then.0", "subject")["problem"]
    call(s, "move_up", "1")
    assert [r["path"] for r in s.blocks] == ["0", "0.then.0", "1"]
    call(s, "set_continue", "1", True)
    assert s.blocks[-1]["continue_on_error"]
    call(s, "set_event", "incident.resolved", True)
    assert [e["event"] for e in s.events if e["on"]] == ["incident.triggered",
                                                         "incident.resolved"]


def test_edit_an_existing_workflow(state: Callable[..., Any]) -> None:
    s: WorkflowEditorState = state(WorkflowEditorState, RESPONDER, "/workflows/p1-broadcast/edit",
                                   {"name": "p1-broadcast"})
    call(s, "load")
    assert s.found and s.original == "p1-broadcast"
    assert [r["path"] for r in s.blocks] == ["0", "1", "1.then.0", "1.then.1", "2"]
    assert s.review_ok and s.review_path == "workflows/p1-broadcast.yaml"
    assert any("No changes" in r["text"] for r in s.review_plan), s.review_plan


def test_anonymous_reads_nothing(state: Callable[..., Any], incident: Callable[..., int]
                                 ) -> None:
    incident("Secret incident")
    s: WorkflowEditorState = state(WorkflowEditorState, None, "/workflows/p1-broadcast/edit",
                                   {"name": "p1-broadcast"})
    call(s, "load")
    assert s.blocks == [] and s.incidents == [] and s.review_yaml == ""
