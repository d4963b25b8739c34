"""`review`: the edited document checked in a copy of the config repo, as `oncall validate`
and `oncall plan` would see it, with its problems at lines of the YAML shown."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from oncall.config.loader import load
from oncall.reconcile.plan import desired_state
from oncall.web.editor.review import annotated_lines, default_path, find_file, review, splice

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
APPLIED = desired_state(load(ROOT, now=NOW).config)
"""The example config as if applied: the plan then shows only the edit."""

SECONDARY: dict[str, Any] = {
    "kind": "Schedule",
    "name": "payments-secondary",
    "description": "Weekly secondary, held by the following week's primary",
    "team": "payments",
    "timezone": "America/New_York",
    "layers": [{
        "name": "weekly",
        "members": ["sofia.alvarez@northwind.example", "daniel.whitaker@northwind.example",
                    "marcus.bell@northwind.example"],
        "rotation": {"every": "1w", "start": "2026-01-05T09:00"},
    }],
}


def _edited(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(SECONDARY)
    doc.update(changes)
    return doc


def test_an_unchanged_document_plans_nothing() -> None:
    r = review("Schedule", "payments-secondary", SECONDARY, APPLIED, config_dir=ROOT, now=NOW)
    assert r.ok and r.problems == ()
    assert r.path == "schedules/payments.yaml"
    assert r.plan[-1].startswith("No changes")
    assert "name: payments-primary" in r.file_text  # the file's other document is kept


def test_an_edit_plans_exactly_that_change() -> None:
    doc = _edited(description="Weekly secondary")
    r = review("Schedule", "payments-secondary", doc, APPLIED, config_dir=ROOT, now=NOW)
    assert r.ok
    assert r.plan == (
        "~ update Schedule payments-secondary  (schedules/payments.yaml:26)",
        '    ~ description: "Weekly secondary, held by the following week\'s primary" -> '
        '"Weekly secondary"',
        "",
        "Plan: 0 to create, 1 to update, 0 to delete.",
    )


def test_a_new_schedule_goes_to_its_own_file() -> None:
    doc = _edited(name="payments-tertiary")
    r = review("Schedule", None, doc, APPLIED, config_dir=ROOT, now=NOW)
    assert r.ok, r.problems
    assert r.path == "schedules/payments-tertiary.yaml" and r.file_text == r.yaml
    assert r.plan[0] == "+ create Schedule payments-tertiary  (schedules/payments-tertiary.yaml:1)"


@pytest.mark.parametrize(("change", "line", "message"), [
    ({"team": "nope"}, 4, "unknown team 'nope'"),
    ({"timezone": "Mars/Olympus"}, 5, "Mars/Olympus"),
    ({"layers": [{"name": "weekly", "members": ["ghost@northwind.example"],
                  "rotation": {"every": "1w", "start": "2026-01-05T09:00"}}]},
     9, "unknown user 'ghost@northwind.example'"),
    ({"layers": [{"name": "weekly", "members": ["marcus.bell@northwind.example"],
                  "rotation": {"every": "0m", "start": "2026-01-05T09:00"}}]},
     10, "'every' must be longer than zero"),
])
def test_problems_point_at_lines_of_the_yaml_shown(
    change: dict[str, Any], line: int, message: str
) -> None:
    doc = _edited(**change)
    r = review("Schedule", "payments-secondary", doc, APPLIED, config_dir=ROOT, now=NOW)
    assert not r.ok and r.plan == ()
    found = [p for p in r.errors if message in p.message]
    assert found, r.problems
    assert found[0].in_document and found[0].line == line
    shown = annotated_lines(r)[line - 1]
    assert shown["severity"] == "error" and message in shown["problem"]


def test_a_rename_replaces_the_document_and_breaks_its_references() -> None:
    doc = _edited(name="payments-backup")
    r = review("Schedule", "payments-secondary", doc, APPLIED, config_dir=ROOT, now=NOW)
    assert "name: payments-secondary" not in r.file_text
    elsewhere = [p for p in r.errors if not p.in_document]
    assert elsewhere and all(p.path.startswith("rules/") for p in elsewhere), r.problems
    assert any("payments-secondary" in p.message for p in elsewhere)


@pytest.mark.parametrize(("before", "name", "after", "offset"), [
    ("", None, "kind: A\nname: a\n", 0),
    ("# c\nkind: X\nname: x\n", None, "# c\nkind: X\nname: x\n---\nkind: A\nname: a\n", 4),
    ("# c\nkind: A\nname: a\nold: 1\n---\nkind: X\nname: x\n", "a",
     "# c\nkind: A\nname: a\n---\nkind: X\nname: x\n", 1),
    ("kind: X\nname: x\n---\n# d\nkind: A\nname: a\nold: 1", "a",
     "kind: X\nname: x\n---\n# d\nkind: A\nname: a\n", 4),
    ("kind: X\nname: x", "a", "kind: X\nname: x\n---\nkind: A\nname: a\n", 3),
])
def test_splice(before: str, name: str | None, after: str, offset: int) -> None:
    assert splice(before, "A", name, "kind: A\nname: a\n") == (after, offset)


def test_paths() -> None:
    assert default_path("Schedule", "x") == "schedules/x.yaml"
    assert default_path("EscalationPolicy", "x") == "rules/x.yaml"
    assert default_path("Workflow", "x") == "workflows/x.yaml"
    assert default_path("Schedule", "../../etc/passwd") == "schedules/new-schedule.yaml"
    assert default_path("Schedule", "") == "schedules/new-schedule.yaml"
    assert find_file(ROOT, "Schedule", "payments-secondary") == "schedules/payments.yaml"
    assert find_file(ROOT, "Schedule", "nope") is None


def test_a_name_never_leaves_the_repo() -> None:
    doc = _edited(name="../../../tmp/escaped")
    r = review("Schedule", None, doc, APPLIED, config_dir=ROOT, now=NOW)
    assert r.path == "schedules/new-schedule.yaml" and not r.ok
    assert any("name" in p.message for p in r.errors), r.problems


def test_a_directory_that_is_not_a_config_repo(tmp_path: Path) -> None:
    r = review("Schedule", None, SECONDARY, APPLIED, config_dir=tmp_path, now=NOW)
    assert not r.ok and "not a config repo" in r.errors[0].message
