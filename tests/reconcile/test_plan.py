"""Golden tests of plan output: what a reviewer reads in a terminal or a pull request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reconcile_support import BASE, POLICY, SERVICE, TEAM

from oncall.config.loader import load_text
from oncall.reconcile.plan import (
    ABSENT,
    FieldChange,
    ObjectState,
    Plan,
    desired_state,
    diff_fields,
    make_plan,
    render,
)
from oncall.testing import golden as golden_files

GOLDEN = Path(__file__).with_name("golden")


def state(*texts: str) -> dict[tuple[str, str], ObjectState]:
    result = load_text("---\n".join(texts), "rules/all.yaml")
    assert not result.errors, result.errors
    return desired_state(result.config)


BEFORE = state(*BASE.values())
SCENARIOS = {
    "create": ({}, BEFORE),
    "no-op": (BEFORE, BEFORE),
    "update": (
        BEFORE,
        state(
            TEAM.replace("{email: bob@example.com}", "{email: bob@example.com, role: observer}"),
            POLICY.replace("timeout: 5m", "timeout: 10m"),
            SERVICE.replace("depends_on: []", "depends_on: [payments-db]\nurgency: low")
            + "---\nkind: Service\nname: payments-db\nteam: payments\n",
            BASE["rules/integrations.yaml"],
            BASE["schedules/payments.yaml"],
        ),
    ),
    "delete": (BEFORE, state(TEAM, POLICY, SERVICE, BASE["schedules/payments.yaml"])),
    "rename": (
        BEFORE,
        state(*(t.replace("name: prometheus", "name: prometheus-prod") for t in BASE.values())),
    ),
}


def _plan(name: str) -> Plan:
    before, after = SCENARIOS[name]
    return make_plan(after, before)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_plan_output_matches_golden(name: str, fmt: str) -> None:
    suffix = {"text": "txt", "json": "json", "markdown": "md"}[fmt]
    golden = GOLDEN / f"{name}.{suffix}"
    golden_files.check(golden, render(_plan(name), fmt))


@pytest.mark.parametrize(
    ("name", "create", "update", "delete"),
    [
        ("create", 7, 0, 0),
        ("no-op", 0, 0, 0),
        ("update", 1, 4, 0),
        ("delete", 0, 0, 1),
        ("rename", 1, 0, 1),
    ],
)
def test_plan_counts(name: str, create: int, update: int, delete: int) -> None:
    plan = _plan(name)
    assert (plan.count("create"), plan.count("update"), plan.count("delete")) == (
        create,
        update,
        delete,
    )
    assert plan.has_changes == bool(create or update or delete)


def test_json_output_is_machine_readable() -> None:
    data = json.loads(render(_plan("update"), "json"))
    policy = next(c for c in data["changes"] if c["kind"] == "EscalationPolicy")
    assert policy["fields"] == [{"path": "steps[0].timeout", "before": "5m", "after": "10m"}]


def test_a_moved_object_is_not_a_change() -> None:
    moved = {
        k: ObjectState(v.kind, v.name, v.spec, v.source_path, (v.source_line or 0) + 3)
        if v.source_path
        else v
        for k, v in BEFORE.items()
    }
    plan = make_plan(moved, BEFORE)
    assert not plan.has_changes
    assert len(plan.relocated) == 5


def test_a_user_name_left_out_of_the_config_is_not_managed() -> None:
    desired = {("User", "a@x.io"): ObjectState("User", "a@x.io", {"roles": {"t": "admin"}})}
    current = {
        ("User", "a@x.io"): ObjectState("User", "a@x.io", {"name": "A", "roles": {"t": "admin"}})
    }
    assert not make_plan(desired, current).has_changes


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": 1}, {"a": 2}, [FieldChange("a", 1, 2)]),
        ({}, {"a": None}, [FieldChange("a", ABSENT, None)]),
        ({"l": ["x", "z"]}, {"l": ["x", "y", "z"]}, [FieldChange("l[1]", ABSENT, "y")]),
        ({"l": ["x", "y"]}, {"l": ["y"]}, [FieldChange("l[0]", "x", ABSENT)]),
        (
            {"s": [{"t": "5m", "u": [1]}]},
            {"s": [{"t": "6m", "u": [1]}]},
            [FieldChange("s[0].t", "5m", "6m")],
        ),
        ({"a": 1}, {"a": "1"}, [FieldChange("a", 1, "1")]),
        ({"a": True}, {"a": 1}, [FieldChange("a", True, 1)]),
    ],
)
def test_field_diff(before: object, after: object, expected: list[FieldChange]) -> None:
    assert list(diff_fields(before, after)) == expected
