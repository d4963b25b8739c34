"""The escalation policy editor's form: round trips, step operations, target search."""

from __future__ import annotations

from typing import Any

import pytest

from oncall.config.configset import ConfigSet
from oncall.config.models import EscalationPolicy
from oncall.web.editor import policy as P


@pytest.fixture
def config(example_config: ConfigSet) -> ConfigSet:
    return example_config


def test_every_example_policy_round_trips(config: ConfigSet) -> None:
    assert config.policies
    for policy in config.policies.values():
        doc = P.document(P.form_of(policy))
        assert doc == P.canonical(policy), policy.name
        assert list(doc) == list(P.canonical(policy))
        # what the editor writes is what the format reads, unchanged
        again = EscalationPolicy.model_validate(doc)
        assert again.model_dump() == policy.model_dump()


def _form(*steps: tuple[str, list[str]], repeat: str = "0") -> P.PolicyForm:
    return {"name": "p", "description": "", "repeat": repeat,
            "steps": [{"timeout": t, "targets": list(ts)} for t, ts in steps]}


A = ("5m", ["schedule:a"])
B = ("10m", ["team:b"])
C = ("15m", ["user:c@x.example"])


@pytest.mark.parametrize(
    ("op", "before", "after"),
    [
        (lambda f: P.move_step(f, 1, -1), [A, B, C], [B, A, C]),
        (lambda f: P.move_step(f, 1, 1), [A, B, C], [A, C, B]),
        (lambda f: P.move_step(f, 0, -1), [A, B], [A, B]),  # first cannot go up
        (lambda f: P.move_step(f, 1, 1), [A, B], [A, B]),  # last cannot go down
        (lambda f: P.remove_step(f, 0), [A, B], [B]),
        (lambda f: P.remove_step(f, 0), [A], [A]),  # a policy keeps one step
        (lambda f: P.remove_step(f, 7), [A, B], [A, B]),  # a stale index changes nothing
        (lambda f: P.add_step(f), [A], [A, ("5m", [])]),
        (lambda f: P.add_target(f, 0, "team:b"), [A], [("5m", ["schedule:a", "team:b"])]),
        (lambda f: P.add_target(f, 0, "schedule:a"), [A], [A]),  # no duplicates
        (lambda f: P.remove_target(f, 0, "schedule:a"), [A], [("5m", [])]),
        (lambda f: P.set_timeout(f, 1, "1h"), [A, B], [A, ("1h", ["team:b"])]),
    ],
)
def test_step_operations(op: Any, before: list[Any], after: list[Any]) -> None:
    form = _form(*before)
    changed = op(form)
    assert changed["steps"] == _form(*after)["steps"]
    assert form["steps"] == _form(*before)["steps"]  # the old form is left as it was


@pytest.mark.parametrize(
    ("repeat", "written"),
    [("0", None), ("", None), ("2", 2), (" 3 ", 3), ("two", "two"), ("-1", "-1")],
)
def test_repeat_is_written_as_typed(repeat: str, written: Any) -> None:
    doc = P.document(_form(A, repeat=repeat))
    assert doc.get("repeat") == written


def test_new_policy_document() -> None:
    form = P.add_target(P.blank_form("web-oncall"), 0, "schedule:storefront-primary")
    form = P.add_target(P.add_step(form), 1, "team:storefront")
    form = P.set_timeout(form, 1, "15m")
    assert P.document({**form, "repeat": "1", "description": " Web "}) == {
        "kind": "EscalationPolicy", "name": "web-oncall", "description": "Web", "repeat": 1,
        "steps": [{"targets": ["schedule:storefront-primary"], "timeout": "5m"},
                  {"targets": ["team:storefront"], "timeout": "15m"}],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("lena", ["user:lena.fischer@northwind.example"]),
        ("Fischer lena", ["user:lena.fischer@northwind.example"]),
        ("", []),
        ("nobody-by-that-name", []),
    ],
)
def test_people_search(config: ConfigSet, query: str, expected: list[str]) -> None:
    assert [p["target"] for p in P.people_matching(config, query)] == expected


def test_labels_and_choices(config: ConfigSet) -> None:
    assert P.target_label("user:lena.fischer@northwind.example", config) == (
        "Lena Fischer (lena.fischer@northwind.example)")
    assert P.target_label("schedule:data-primary", config) == "schedule data-primary"
    assert "schedule:storefront-primary" in P.schedule_choices(config)
    assert "team:payments" in P.team_choices(config)
