"""The escalation policy editor's state: load, edit steps and targets, see the YAML, its
problems and the plan; an anonymous browser gets nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select

from oncall.db.models import AuditEventRow, ConfigObjectRow
from oncall.web.state.policy_editor import PolicyEditorState

from .conftest import OBSERVER, RESPONDER, call


def _new(state: Callable[..., Any], email: str | None = RESPONDER) -> PolicyEditorState:
    s: PolicyEditorState = state(PolicyEditorState, email, "/policies/new")
    call(s, "load")
    return s


def _yaml(s: PolicyEditorState) -> str:
    return "\n".join(line["text"] for line in s.review_lines)


def _written(web: Engine) -> tuple[int, list[str]]:
    with web.connect() as conn:
        return (conn.scalar(select(func.count()).select_from(AuditEventRow)) or 0,
                sorted(f"{k}/{n}" for k, n in conn.execute(
                    select(ConfigObjectRow.kind, ConfigObjectRow.name))))


def test_build_a_two_step_policy(state: Callable[..., Any], web: Engine) -> None:
    before = _written(web)
    s = _new(state)
    assert [st["number"] for st in s.steps] == ["1"] and not s.review_ok
    call(s, "set_name", "web-escalation")
    call(s, "add_target", 0, "schedule:storefront-primary")
    call(s, "add_step")
    call(s, "search_people", 1, "lena")
    assert [p["target"] for p in s.people] == ["user:lena.fischer@northwind.example"]
    call(s, "add_target", 1, s.people[0]["target"])
    assert s.people == [] and s.person_query == ""
    call(s, "set_timeout", 1, "15m")
    call(s, "set_repeat", "2")
    assert s.review_ok, s.review_lines
    assert s.review_path == "rules/web-escalation.yaml"
    assert _yaml(s).splitlines()[:2] == ["kind: EscalationPolicy", "name: web-escalation"]
    assert "schedule:storefront-primary" in _yaml(s) and "timeout: 15m" in _yaml(s)
    assert [t["label"] for t in s.steps[1]["targets"]] == [
        "Lena Fischer (lena.fischer@northwind.example)"]
    plan = "\n".join(r["text"] for r in s.review_plan)
    assert "EscalationPolicy" in plan and "web-escalation" in plan
    # reordering moves the targets with their step
    call(s, "move_up", 1)
    assert s.steps[0]["targets"][0]["target"] == "user:lena.fischer@northwind.example"
    call(s, "remove_step", 0)
    assert len(s.steps) == 1 and s.steps[0]["timeout"] == "5m"
    assert _written(web) == before  # the editor writes YAML, never the database


def test_problems_shown_at_their_line(state: Callable[..., Any]) -> None:
    s = _new(state)
    call(s, "set_name", "web")
    call(s, "set_repeat", "lots")
    assert not s.review_ok and s.review_errors == 2
    bad = {line["text"].strip(): line["problem"] for line in s.review_lines if line["problem"]}
    assert "repeat: lots" in bad and "error" in bad["repeat: lots"]
    step = next(text for text in bad if text.startswith("- {targets: []"))
    assert "error" in bad[step]
    assert s.review_plan == [] or not any(r["mark"] for r in s.review_plan)
    call(s, "set_repeat", "1")
    call(s, "add_target", 0, "schedule:no-such-schedule")
    bad = {line["text"].strip(): line["problem"] for line in s.review_lines if line["problem"]}
    assert any("no-such-schedule" in p for p in bad.values()), bad


def test_edit_an_existing_policy(state: Callable[..., Any]) -> None:
    s: PolicyEditorState = state(PolicyEditorState, OBSERVER, "/policies/payments/edit",
                                 {"name": "payments"})
    call(s, "load")
    assert s.found and s.original == "payments" and s.repeat == "2"
    assert [st["timeout"] for st in s.steps] == ["5m", "10m", "15m"]
    assert s.review_ok and s.review_path == "rules/payments.yaml"
    assert any("No changes" in r["text"] for r in s.review_plan), s.review_plan
    call(s, "set_timeout", 0, "3m")
    assert s.review_ok
    plan = "\n".join(r["text"] for r in s.review_plan)
    assert "payments" in plan and "3m" in plan


def test_unknown_policy(state: Callable[..., Any]) -> None:
    s: PolicyEditorState = state(PolicyEditorState, OBSERVER, "/policies/nope/edit",
                                 {"name": "nope"})
    call(s, "load")
    assert not s.found and s.steps == []


def test_anonymous_reads_nothing(state: Callable[..., Any]) -> None:
    s: PolicyEditorState = state(PolicyEditorState, None, "/policies/payments/edit",
                                 {"name": "payments"})
    call(s, "load")
    assert s.steps == [] and s.review_yaml == "" and s.choices == []


def test_whose_policy_it_is(example_config: Any) -> None:
    from oncall.web.editor import policy as P
    from oncall.web.state.policy_editor import policy_teams

    # the teams whose services use it, not every team it pages
    assert policy_teams(example_config, "storefront", None) == ["storefront"]
    form = P.add_target(P.blank_form("new"), 0, "schedule:data-primary")
    form = P.add_target(form, 0, "team:payments")
    assert policy_teams(example_config, None, form) == ["data", "payments"]
    assert policy_teams(example_config, None, P.blank_form("new")) == []
