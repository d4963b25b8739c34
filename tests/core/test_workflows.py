"""The workflow planner: which workflows fire, their flattened and rendered steps, runbook
parameters validated with defaults, the loop guard, and secrets never resolved in planning."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from oncall.config.configset import ConfigSet
from oncall.config.loader import load
from oncall.core.workflows import (
    EVENT_OF_AUDIT_TYPE,
    EVENTS,
    MAX_RUNS_PER_INCIDENT,
    ParamsInvalid,
    PlannedRun,
    PlannedStep,
    WorkflowEventView,
    WorkflowIncident,
    decide,
    plan,
    validate_params,
    workflow_event,
)

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)

CONFIG = {
    "rules/main.yaml": """
        kind: Team
        name: payments
        members:
          - {email: alice@example.com}
          - {email: bob@example.com}
          - {email: olga@example.com, role: observer}
        ---
        kind: Service
        name: checkout-api
        team: payments
        ---
        kind: Service
        name: search-api
        team: payments
    """,
    "schedules/payments.yaml": """
        kind: Schedule
        name: payments-primary
        team: payments
        timezone: UTC
        layers:
          - name: weekly
            members: [alice@example.com]
            rotation: {every: 1w, start: 2026-11-02T09:00}
    """,
    "workflows/runbooks.yaml": """
        kind: Runbook
        name: restart
        parameters:
          type: object
          properties:
            region: {type: string, enum: [us-east-1, eu-west-1]}
            replicas: {type: integer, minimum: 1, default: 3}
            reason: {type: string, default: "automatic"}
          required: [region]
          additionalProperties: false
        webhook:
          url: https://awx.example.com/api/${env:AWX_JOB}/launch/
          headers: {Authorization: "Bearer ${env:AWX_TOKEN}"}
          body:
            region: "{{ params.region }}"
            replicas: "{{ params.replicas }}"
            note: "{{ params.reason }} for {{ incident.title }} on {{ service.name }}"
        timeout: 45s
        retries: 3
    """,
    "workflows/all.yaml": """
        kind: Workflow
        name: broadcast
        on: [incident.triggered, incident.escalated]
        when: incident.priority in ["P1", "P2"]
        steps:
          - slack: {channel: "#incidents", text: "{{ incident.priority }} {{ incident.title }}"}
            continue_on_error: true
          - if: incident.priority == "P1"
            then:
              - if: service.name == "checkout-api"
                then:
                  - runbook: {name: restart, params: {region: "{{ incident.labels.region }}"}}
                else:
                  - teams: {webhook: "${env:TEAMS_HOOK}", text: "P1 on {{ service.name }}"}
              - page: {schedule: payments-primary, message: "P1: {{ incident.title }}"}
            else:
              - email:
                  to: [lead@example.com, {team: payments}, alice@example.com]
                  subject: "{{ incident.priority }}: {{ incident.title }}"
                  text: "{{ event }} by {{ event.actor }}"
          - webhook:
              url: https://hooks.example.com/in?token=${env:HOOK_TOKEN}
              headers: {X-Api-Key: "${env:HOOK_KEY}"}
              body:
                id: "{{ incident.id }}"
                title: "{{ incident.title }}"
                labels: "{{ incident.labels }}"
                event: "{{ event }}"
                fixed: [1, true, null]
              timeout: 5s
              retries: 4
              max_response_bytes: 1024
        ---
        kind: Workflow
        name: status
        on: [incident.acknowledged]
        steps:
          - status: {page: public, text: "We are looking into {{ service }}", state: identified,
                     component: Checkout}
        ---
        kind: StatusPage
        name: public
        title: Example status
        visibility: public
        components:
          - {name: Checkout, services: [checkout-api]}
        ---
        kind: Workflow
        name: review
        on: [incident.resolved]
        steps:
          - postmortem: {}
          - postmortem: {template: deep-dive, title: "{{ incident.priority }} {{ incident.title }}"}
          - postmortem: {title: "{{ incident.labels.missing }}"}
            continue_on_error: true
        ---
        kind: PostmortemTemplate
        name: deep-dive
        sections:
          - title: Summary
        ---
        kind: Workflow
        name: notes
        on: [incident.note_added]
        steps:
          - slack: {channel: "#notes", text: "{{ event.data.text }}"}
        ---
        kind: Workflow
        name: needs-label
        on: [incident.triggered]
        when: incident.labels.team == "payments"
        steps:
          - slack: {channel: "#payments", text: "{{ incident.title }}"}
        ---
        kind: Workflow
        name: bad-templates
        on: [incident.priority_changed]
        steps:
          - slack: {channel: "#x", text: "{{ incident.labels.missing }}"}
          - if: incident.labels.missing == "x"
            then:
              - page: {user: bob@example.com}
          - runbook:
              name: restart
              params: {region: "{{ incident.labels.region }}", replicas: "{{ 0 }}"}
            continue_on_error: true
          - page: {team: payments}
    """,
}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> ConfigSet:
    root = tmp_path_factory.mktemp("config")
    for name, text in CONFIG.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).strip() + "\n", encoding="utf-8")
    result = load(Path(root), now=NOW)
    assert result.ok, [d.as_text() for d in result.diagnostics]
    return result.config


def incident(**changes: Any) -> WorkflowIncident:
    base = WorkflowIncident(
        id=42, title="Checkout down", description=None, status="triggered", priority="P1",
        urgency="high", labels={"region": "eu-west-1"}, service="checkout-api",
        triggered_at=NOW,
    )
    return replace(base, **changes)


def event(type: str = "incident.triggered", actor: str = "integration:prom",
          data: dict[str, Any] | None = None) -> WorkflowEventView:
    return WorkflowEventView(type=type, id=7, actor=actor, data=data or {})


def runs(config: ConfigSet, inc: WorkflowIncident, ev: WorkflowEventView,
         **kwargs: Any) -> dict[str, PlannedRun]:
    return {r.workflow: r for r in plan(ev, inc, config, NOW, **kwargs)}


def steps_of(run: PlannedRun) -> list[tuple[int, str, str]]:
    return [(s.index, s.path, s.kind) for s in run.steps]


def test_events_and_audit_types() -> None:
    assert set(EVENTS) == {"incident.triggered", "incident.acknowledged", "incident.escalated",
                           "incident.resolved", "incident.note_added",
                           "incident.priority_changed"}
    assert set(EVENT_OF_AUDIT_TYPE.values()) == set(EVENTS)
    assert EVENT_OF_AUDIT_TYPE["incident.note"] == "incident.note_added"


@pytest.mark.parametrize(("audit_type", "data", "event"), [
    ("incident.triggered", {}, "incident.triggered"),
    ("incident.escalated", {"step": 0, "cycle": 0}, None),  # the first pages
    ("incident.escalated", {"step": 1, "cycle": 0}, "incident.escalated"),
    ("incident.escalated", {"step": 0, "cycle": 1}, "incident.escalated"),  # repeated
    ("incident.note", {"text": "x"}, "incident.note_added"),
    ("notification.sent", {}, None),
])
def test_which_audit_events_are_workflow_events(audit_type: str, data: dict[str, int],
                                                event: str | None) -> None:
    assert workflow_event(audit_type, data) == event


# (incident changes, event, workflows that fire)
FIRING = [
    ({}, "incident.triggered", ["broadcast"]),
    ({"priority": "P2"}, "incident.escalated", ["broadcast"]),
    ({"priority": "P3"}, "incident.triggered", []),  # when false
    ({}, "incident.acknowledged", ["status"]),  # only the workflow that lists it
    ({"labels": {"team": "payments"}}, "incident.triggered", ["broadcast", "needs-label"]),
    ({"priority": None}, "incident.triggered", []),
    ({}, "incident.note_added", ["notes"]),
]


@pytest.mark.parametrize(("changes", "event_type", "fired"), FIRING)
def test_which_workflows_fire(config: ConfigSet, changes: dict[str, Any], event_type: str,
                              fired: list[str]) -> None:
    assert sorted(runs(config, incident(**changes), event(event_type))) == fired


def test_decide_says_why_a_workflow_does_not_fire(config: ConfigSet) -> None:
    reasons = {d.workflow: d.reason
               for d in decide(event(), incident(priority="P3"), config, NOW)}
    assert reasons["broadcast"] == 'when is false: incident.priority in ["P1", "P2"]'
    assert reasons["notes"] == "not on incident.triggered (on: incident.note_added)"
    # A `when` that cannot be evaluated (the label is missing) counts as false, with the reason.
    assert reasons["needs-label"].startswith("when could not be evaluated, counted as false:")
    assert "team" in reasons["needs-label"]


# (incident changes, flattened (index, path, kind))
FLATTENED = [
    ({}, [(0, "steps[0]", "slack"), (1, "steps[1].then[0].then[0]", "runbook"),
          (2, "steps[1].then[1]", "page"), (3, "steps[2]", "webhook")]),
    ({"service": "search-api"},
     [(0, "steps[0]", "slack"), (1, "steps[1].then[0].else[0]", "teams"),
      (2, "steps[1].then[1]", "page"), (3, "steps[2]", "webhook")]),
    ({"priority": "P2"},
     [(0, "steps[0]", "slack"), (1, "steps[1].else[0]", "email"), (2, "steps[2]", "webhook")]),
]


@pytest.mark.parametrize(("changes", "expected"), FLATTENED)
def test_if_else_is_flattened_with_paths_and_indices(
        config: ConfigSet, changes: dict[str, Any], expected: list[tuple[int, str, str]]) -> None:
    run = runs(config, incident(**changes), event())["broadcast"]
    assert steps_of(run) == expected
    assert run.key == "broadcast:42:7"
    assert run.event == "incident.triggered"
    assert [s.key(run.key) for s in run.steps][:2] == ["wf:broadcast:42:7:0", "wf:broadcast:42:7:1"]
    assert all(s.error is None for s in run.steps)


def _by_kind(config: ConfigSet, **changes: Any) -> dict[str, PlannedStep]:
    run = runs(config, incident(**changes), event())["broadcast"]
    return {s.kind: s for s in run.steps}


# (incident changes, kind, action, retries, timeout, continue_on_error)
ACTIONS: list[tuple[dict[str, Any], str, dict[str, Any], int, float, bool]] = [
    ({}, "slack", {"channel": "#incidents", "text": "P1 Checkout down"}, 2, 10.0, True),
    ({"service": "search-api"}, "teams",
     {"webhook": "${env:TEAMS_HOOK}", "text": "P1 on search-api"}, 2, 10.0, False),
    ({}, "page", {"target": {"schedule": "payments-primary"}, "message": "P1: Checkout down"},
     0, 10.0, False),
    ({"priority": "P2"}, "email",
     {"to": ["lead@example.com", "alice@example.com", "bob@example.com", "olga@example.com"],
      "subject": "P2: Checkout down", "text": "incident.triggered by integration:prom"},
     2, 10.0, False),
    ({}, "webhook",
     {"url": "https://hooks.example.com/in?token=${env:HOOK_TOKEN}", "method": "POST",
      "headers": {"X-Api-Key": "${env:HOOK_KEY}"},
      "body": {"id": 42, "title": "Checkout down", "labels": {"region": "eu-west-1"},
               "event": "incident.triggered", "fixed": [1, True, None]},
      "max_response_bytes": 1024}, 4, 5.0, False),
    ({}, "runbook",
     {"runbook": "restart", "params": {"region": "eu-west-1", "replicas": 3,
                                       "reason": "automatic"},
      "url": "https://awx.example.com/api/${env:AWX_JOB}/launch/", "method": "POST",
      "headers": {"Authorization": "Bearer ${env:AWX_TOKEN}"},
      "body": {"region": "eu-west-1", "replicas": 3,
               "note": "automatic for Checkout down on checkout-api"},
      "max_response_bytes": 65536}, 3, 45.0, False),
]


@pytest.mark.parametrize(("changes", "kind", "action", "retries", "timeout", "cont"), ACTIONS)
def test_each_step_kind_is_rendered(config: ConfigSet, changes: dict[str, Any], kind: str,
                                    action: dict[str, Any], retries: int, timeout: float,
                                    cont: bool) -> None:
    step = _by_kind(config, **changes)[kind]
    assert step.error is None
    assert step.action == action
    assert (step.retries, step.timeout_seconds, step.continue_on_error) == (retries, timeout, cont)
    json.dumps(step.action)  # what the outbox stores


def test_a_title_with_an_env_reference_stays_literal_data(config: ConfigSet) -> None:
    steps = _by_kind(config, title="${env:AWX_TOKEN} leaked?")
    assert steps["slack"].action["text"] == "P1 ${env:AWX_TOKEN} leaked?"
    assert steps["webhook"].action["body"]["title"] == "${env:AWX_TOKEN} leaked?"
    assert steps["runbook"].action["body"]["note"] == (
        "automatic for ${env:AWX_TOKEN} leaked? on checkout-api")
    # url and headers are copied as written: the executor resolves them, and only them.
    assert steps["runbook"].action["headers"] == {"Authorization": "Bearer ${env:AWX_TOKEN}"}


# (labels, expected error fragments)
BAD_PARAMS = [
    ({"region": "ap-south-1"}, ["parameter region: 'ap-south-1' is not one of"]),
    ({}, ["template failed", "region"]),
]


@pytest.mark.parametrize(("labels", "fragments"), BAD_PARAMS)
def test_invalid_runbook_params_are_a_step_error(config: ConfigSet, labels: dict[str, str],
                                                 fragments: list[str]) -> None:
    run = runs(config, incident(labels=labels), event())["broadcast"]
    step = run.steps[1]
    assert step.kind == "runbook"
    assert step.error is not None
    for fragment in fragments:
        assert fragment in step.error
    assert [s.error for s in run.steps if s is not step] == [None, None, None]


# (params, filled or error fragment)
PARAMS: list[tuple[dict[str, Any], dict[str, Any] | str]] = [
    ({"region": "us-east-1"}, {"region": "us-east-1", "replicas": 3, "reason": "automatic"}),
    ({"region": "us-east-1", "replicas": 5}, {"region": "us-east-1", "replicas": 5,
                                              "reason": "automatic"}),
    ({"replicas": 3}, "params: 'region' is a required property"),
    ({"region": "us-east-1", "replicas": 0}, "parameter replicas: 0 is less than the minimum"),
    ({"region": "us-east-1", "zone": "a"}, "Additional properties are not allowed"),
    ({"region": "us-east-1", "replicas": "3"}, "parameter replicas: '3' is not of type"),
]


@pytest.mark.parametrize(("params", "expected"), PARAMS)
def test_validate_params_applies_defaults(config: ConfigSet, params: dict[str, Any],
                                          expected: dict[str, Any] | str) -> None:
    schema = config.runbooks["restart"].parameters
    if isinstance(expected, dict):
        assert validate_params(schema, params) == expected
        assert "replicas" not in params or params["replicas"] != 3 or expected["replicas"] == 3
    else:
        with pytest.raises(ParamsInvalid, match=expected.replace("(", r"\(")):
            validate_params(schema, params)


def test_defaults_do_not_leak_into_the_schema_or_the_input(config: ConfigSet) -> None:
    schema = config.runbooks["restart"].parameters
    before = json.dumps(schema, sort_keys=True)
    params: dict[str, Any] = {"region": "us-east-1"}
    validate_params(schema, params)
    assert params == {"region": "us-east-1"}
    assert json.dumps(schema, sort_keys=True) == before


def test_template_and_expression_failures_become_step_errors(config: ConfigSet) -> None:
    run = runs(config, incident(), event("incident.priority_changed"))["bad-templates"]
    assert steps_of(run) == [(0, "steps[0]", "slack"), (1, "steps[1].then[0]", "page"),
                             (2, "steps[2]", "runbook"), (3, "steps[3]", "page")]
    slack, failed_if, runbook, page = run.steps
    assert slack.error is not None and "missing" in slack.error
    assert failed_if.error is not None and failed_if.error.startswith(
        'the condition at steps[1] (incident.labels.missing == "x") failed')
    assert runbook.error is not None and "parameter replicas" in runbook.error
    assert runbook.continue_on_error
    assert page.error is None
    assert page.action == {"target": {"team": "payments"}, "message": ""}


# (actor, runs so far, max runs, fires)
GUARD = [
    ("integration:prom", {}, MAX_RUNS_PER_INCIDENT, True),
    ("workflow:broadcast", {}, MAX_RUNS_PER_INCIDENT, False),
    ("workflow:other", {}, MAX_RUNS_PER_INCIDENT, True),
    ("user:alice@example.com", {"broadcast": 9}, MAX_RUNS_PER_INCIDENT, True),
    ("user:alice@example.com", {"broadcast": 10}, MAX_RUNS_PER_INCIDENT, False),
    ("user:alice@example.com", {"broadcast": 2}, 2, False),
    ("user:alice@example.com", {"notes": 50}, 2, True),
]


@pytest.mark.parametrize(("actor", "so_far", "max_runs", "fires"), GUARD)
def test_loop_guard(config: ConfigSet, actor: str, so_far: dict[str, int], max_runs: int,
                    fires: bool) -> None:
    ev = event("incident.escalated", actor=actor)
    found = runs(config, incident(), ev, runs_so_far=so_far, max_runs=max_runs)
    assert ("broadcast" in found) is fires
    if not fires:
        reason = {d.workflow: d.reason for d in decide(ev, incident(), config, NOW, so_far,
                                                       max_runs)}["broadcast"]
        assert reason.startswith("loop guard:")


def test_event_data_reaches_templates_as_data(config: ConfigSet) -> None:
    ev = event("incident.note_added", actor="user:bob@example.com",
               data={"text": "rolled back ${env:AWX_TOKEN} {{ 7 * 7 }}"})
    step = runs(config, incident(), ev)["notes"].steps[0]
    # A note is data: neither a secret reference nor template syntax in it is evaluated.
    assert step.action["text"] == "rolled back ${env:AWX_TOKEN} {{ 7 * 7 }}"


def test_planning_is_pure_and_repeatable(config: ConfigSet) -> None:
    first = plan(event(), incident(), config, NOW)
    again = plan(event(), incident(), config, datetime(2030, 1, 1, tzinfo=UTC))
    assert first == again


def test_a_status_step_carries_its_text_unrendered_for_the_step_to_render(
        config: ConfigSet) -> None:
    """The planner offers the status step nothing of the incident: its text travels as written
    and the step renders it over the service's name and the page's title only."""
    run = runs(config, incident(title="db-7.internal OOM"),
               event("incident.acknowledged"))["status"]
    (step,) = run.steps
    assert (step.kind, step.error) == ("status", None)
    assert step.action == {"page": "public", "text": "We are looking into {{ service }}",
                           "state": "identified", "component": "Checkout"}
    assert "db-7" not in json.dumps(step.action)


def test_a_postmortem_step_renders_its_title_and_names_its_template(config: ConfigSet) -> None:
    run = runs(config, incident(status="resolved"), event("incident.resolved"))["review"]
    assert steps_of(run) == [(0, "steps[0]", "postmortem"), (1, "steps[1]", "postmortem"),
                             (2, "steps[2]", "postmortem")]
    bare, named, broken = run.steps
    assert (bare.action, bare.error) == ({"template": None, "title": None}, None)
    assert (named.action, named.error) == (
        {"template": "deep-dive", "title": "P1 Checkout down"}, None)
    assert broken.error is not None and "missing" in broken.error
    assert broken.continue_on_error
