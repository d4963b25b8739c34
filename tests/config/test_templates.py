"""Workflow expressions and templates: checked ahead of time, sandboxed at run time."""

from __future__ import annotations

import re

import pytest

from oncall.config.templates import (
    RUNBOOK_VARIABLES,
    WORKFLOW_VARIABLES,
    TemplateProblem,
    check_expression,
    check_template,
    evaluate,
    render,
)

INCIDENT = {"priority": "P1", "title": "Checkout down", "labels": {"region": "eu-west-1"}}


def test_expression_evaluates() -> None:
    source = 'incident.priority in ["P1", "P2"] and service.team == "payments"'
    check_expression(source, WORKFLOW_VARIABLES)
    assert evaluate(source, {"incident": INCIDENT, "service": {"team": "payments"}}) is True
    assert evaluate(source, {"incident": INCIDENT, "service": {"team": "data"}}) is False


def test_template_renders() -> None:
    check_template("{{ params.region }}", RUNBOOK_VARIABLES)
    assert render("{{ incident.priority }} {{ incident.title }}", {"incident": INCIDENT}) == (
        "P1 Checkout down"
    )


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("incident.priority in", "expression syntax error"),
        ("incdent.priority", "unknown variable 'incdent' (did you mean 'incident'?)"),
        ("{{ incident.priority }}", "without {{ }}"),
        ("", "empty expression"),
    ],
)
def test_bad_expressions(source: str, message: str) -> None:
    with pytest.raises(TemplateProblem, match=re.escape(message)):
        check_expression(source, WORKFLOW_VARIABLES)


@pytest.mark.parametrize(
    "source",
    [
        "{{ incident.__class__.__mro__ }}",
        "{{ incident.title.__class__.__base__.__subclasses__() }}",
        "{{ incident.labels.clear() }}",
        "{% for x in range(10**9) %}{% endfor %}",
    ],
)
def test_sandbox_refuses_internals(source: str) -> None:
    with pytest.raises(TemplateProblem):
        render(source, {"incident": dict(INCIDENT, labels=dict(INCIDENT["labels"]))})  # type: ignore[arg-type]


def test_template_syntax_error() -> None:
    with pytest.raises(TemplateProblem, match="template syntax error"):
        check_template("{{ incident.title ", WORKFLOW_VARIABLES)
