"""Runbooks by hand, the pure part: the form a schema describes, typing what was typed,
problems named by parameter, and the planned run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from oncall.config.configset import ConfigSet
from oncall.core.runbooks import (
    WHOLE,
    NotRunnable,
    ParamField,
    Rejected,
    check,
    form_fields,
    plan_by_hand,
    runnable,
    typed,
)
from oncall.core.workflows import WorkflowIncident

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "hard": {"type": "boolean", "default": False},
        "region": {"type": "string", "enum": ["us-east-1", "eu-west-1"],
                   "description": "Where"},
        "count": {"type": "integer", "minimum": 1, "title": "How many"},
        "ratio": {"type": "number"},
        "paths": {"type": "array", "items": {"type": "string", "pattern": "^/"}},
        "extra": {"type": "object"},
        "reason": {"type": "string", "maxLength": 5},
        "size": {"enum": [1, 2, 3]},
    },
    "required": ["region", "count"],
    "additionalProperties": False,
}


def test_the_form_has_one_field_per_parameter_required_first() -> None:
    assert form_fields(SCHEMA) == [
        ParamField("region", "select", "region", "Where", True, "", ("us-east-1", "eu-west-1")),
        ParamField("count", "integer", "How many", "", True, ""),
        ParamField("hard", "checkbox", "hard", "", False, "false"),
        ParamField("ratio", "number", "ratio", "", False, ""),
        ParamField("paths", "list", "paths", "", False, ""),
        ParamField("extra", "json", "extra", "", False, ""),
        ParamField("reason", "text", "reason", "", False, ""),
        ParamField("size", "select", "size", "", False, "", ("1", "2", "3")),
    ]
    assert form_fields({"type": "object"}) == []


@pytest.mark.parametrize(("raw", "expected"), [
    ({"hard": "yes", "count": "3", "ratio": "0.5"}, {"hard": True, "count": 3, "ratio": 0.5}),
    ({"hard": "off", "ratio": "2"}, {"hard": False, "ratio": 2}),
    ({"paths": "/a, /b ,", "size": "2"}, {"paths": ["/a", "/b"], "size": 2}),
    ({"paths": '["/a"]', "extra": '{"k": 1}'}, {"paths": ["/a"], "extra": {"k": 1}}),
    ({"count": "three", "hard": "maybe", "extra": "{"},
     {"count": "three", "hard": "maybe", "extra": "{"}),  # left as typed: the schema says why
    ({"reason": "  ", "region": ""}, {}),  # empty inputs are left out
    ({"unknown": "1"}, {"unknown": "1"}),
])
def test_typed_text_is_converted_by_the_schema(raw: dict[str, str],
                                               expected: dict[str, Any]) -> None:
    assert typed(SCHEMA, raw) == expected


@pytest.mark.parametrize(("params", "problems"), [
    ({}, {"region": "is required", "count": "is required"}),
    ({"region": "mars", "count": 0, "zap": 1, "paths": ["/a", "b"]},
     {"region": "'mars' is not one of ['us-east-1', 'eu-west-1']",
      "count": "0 is less than the minimum of 1",
      "zap": "is not a parameter of this runbook",
      "paths": "'b' does not match '^/'"}),
    ({"region": "us-east-1", "count": "3"}, {"count": "'3' is not of type 'integer'"}),
    ({"region": "us-east-1", "count": 1, "reason": "y" * 500},
     {"reason": "'" + "y" * 37 + "…' is too long"}),
])
def test_problems_are_named_by_parameter(params: dict[str, Any],
                                         problems: dict[str, str]) -> None:
    with pytest.raises(Rejected) as caught:
        check(SCHEMA, params)
    assert caught.value.problems == problems


def test_defaults_are_applied() -> None:
    assert check(SCHEMA, {"region": "us-east-1", "count": 1}) == {
        "region": "us-east-1", "count": 1, "hard": False}


def test_an_unusable_schema_is_a_problem_of_the_whole() -> None:
    with pytest.raises(Rejected) as caught:
        check({"type": "nonsense"}, {})
    assert list(caught.value.problems) == [WHOLE]


def _incident(service: str = "checkout-api") -> WorkflowIncident:
    return WorkflowIncident(id=7, title="Checkout down", description=None, status="triggered",
                            priority="P1", urgency="high", labels={}, service=service,
                            triggered_at=datetime(2026, 12, 1, tzinfo=UTC))


def test_a_run_by_hand_is_one_rendered_runbook_step(example_config: ConfigSet) -> None:
    assert runnable(example_config, "checkout-api") == ["restart-checkout"]
    run = plan_by_hand(example_config, _incident(), "restart-checkout",
                       {"region": "eu-west-1"}, "req1", "user:a@example.com")
    assert (run.workflow, run.event, run.key, run.by) == (
        "", "manual", "runbook:restart-checkout:7:req1", "user:a@example.com")
    [step] = run.steps
    assert (step.kind, step.retries, step.timeout_seconds, step.error) == (
        "runbook", 3, 60.0, None)
    assert step.action["params"] == {"region": "eu-west-1"}
    assert step.action["body"] == {"extra_vars": {"region": "eu-west-1",
                                                  "reason": "incident 7"}}
    assert step.action["headers"]["Authorization"] == "Bearer ${env:AWX_TOKEN}"


def test_only_what_the_service_offers_runs(example_config: ConfigSet) -> None:
    with pytest.raises(NotRunnable, match="its runbooks: restart-checkout"):
        plan_by_hand(example_config, _incident(), "purge-cdn-cache", {"paths": ["/"]}, "r", "u")
    with pytest.raises(NotRunnable, match="its runbooks: none"):
        plan_by_hand(example_config, _incident("payments-db"), "restart-checkout",
                     {"region": "eu-west-1"}, "r", "u")
    with pytest.raises(Rejected):
        plan_by_hand(example_config, _incident(), "restart-checkout", {}, "r", "u")
