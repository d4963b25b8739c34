"""The YAML reader: YAML 1.2 typing, positions, and errors instead of crashes."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oncall.config.diagnostics import Position
from oncall.config.yamlsource import MAX_ALIAS_NODES, MAX_DEPTH, read_documents


def one(text: str) -> object:
    docs, problems = read_documents(text, "f.yaml")
    assert problems == []
    assert len(docs) == 1
    return docs[0].value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 17:00", {"a": "17:00"}),  # YAML 1.1 would read 1020
        ("on: [x]", {"on": ["x"]}),  # YAML 1.1 would read the key as True
        ("a: yes", {"a": "yes"}),
        ("a: no", {"a": "no"}),
        ("a: true", {"a": True}),
        ("a: False", {"a": False}),
        ("a: 2026-01-05T09:00", {"a": "2026-01-05T09:00"}),
        ("a: 2026-01-05", {"a": "2026-01-05"}),
        ("a: 10", {"a": 10}),
        ("a: -3", {"a": -3}),
        ("a: 0x1f", {"a": 31}),
        ("a: 0o17", {"a": 15}),
        ("a: 2.5", {"a": 2.5}),
        ("a: 1e3", {"a": 1000.0}),
        ("a: ~", {"a": None}),
        ("a:", {"a": None}),
        ('a: "10"', {"a": "10"}),
        ("a: '~'", {"a": "~"}),
        ("a: !!str 10", {"a": "10"}),
        ("a: !!int '7'", {"a": 7}),
        ("a: |\n  line\n", {"a": "line\n"}),
        ("a: &x {b: 1}\nc: *x", {"a": {"b": 1}, "c": {"b": 1}}),
    ],
)
def test_core_schema_typing(text: str, expected: object) -> None:
    assert one(text) == expected


def test_infinity_and_nan() -> None:
    value = one("a: .inf\nb: -.inf\nc: .nan")
    assert isinstance(value, dict)
    assert value["a"] == math.inf and value["b"] == -math.inf and math.isnan(value["c"])


def test_positions_of_values_and_keys() -> None:
    docs, _ = read_documents("kind: Team\nmembers:\n  - email: a@b.c\n    role: admin\n", "t.yaml")
    doc = docs[0]
    assert doc.position(("members", 0, "role")) == Position(4, 11)
    assert doc.position(("members", 0, "role"), key=True) == Position(4, 5)
    # a path that does not exist resolves to its nearest ancestor
    assert doc.position(("members", 0, "missing")) == Position(3, 5)


def test_multiple_documents_keep_their_own_positions() -> None:
    docs, problems = read_documents("a: 1\n---\nb: 2\n---\n", "m.yaml")
    assert problems == []
    assert [d.value for d in docs] == [{"a": 1}, {"b": 2}, None]
    assert docs[1].position(("b",)) == Position(3, 4)


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("a: 1\na: 2\n", Position(2, 1), "duplicate key 'a' (first defined at line 1)"),
        ("a: [1,\n", Position(2, 1), "YAML syntax error: did not find expected node content"),
        ("a: !!python/object x", Position(1, 4), "unsupported YAML tag"),
        ("a: !!int x", Position(1, 4), "'x' is not a valid !!int"),
        ("a: *nope", Position(1, 4), "unknown alias"),
        ("? [a]\n: 1\n", Position(1, 3), "a mapping key must be a plain value"),
        ("a: \x07", Position(1, 4), "character #x0007 is not allowed"),
    ],
)
def test_errors_have_positions(text: str, position: Position, message: str) -> None:
    _, problems = read_documents(text, "e.yaml")
    assert len(problems) == 1
    assert problems[0].position == position
    assert message in problems[0].message


@pytest.mark.parametrize("text", ["[" * 500, "- " * 3000, "a: {" * 200])
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    _, problems = read_documents(text, "deep.yaml")
    assert len(problems) == 1
    assert problems[0].position.line == 1
    assert f"nesting is deeper than {MAX_DEPTH} levels" in problems[0].message


def test_pathological_nesting_is_stopped_by_the_parser() -> None:
    _, problems = read_documents("[" * 100_000, "deep.yaml")
    assert len(problems) == 1
    assert "nesting depth" in problems[0].message


def test_deep_alias_copy_does_not_recurse() -> None:
    text = "a: &a " + "[" * 60 + "]" * 60 + "\nb: *a\n"
    docs, problems = read_documents(text, "alias.yaml")
    assert problems == []
    assert docs[0].value["b"] == docs[0].value["a"]
    assert docs[0].value["b"] is not docs[0].value["a"]


def _bomb(levels: int = 9, width: int = 9) -> str:
    """A "billion laughs": each anchor repeats the one before `width` times."""
    lines = ["kind: Team", "name: payments", "l0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    lines.append(f"members: *l{levels - 1}")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly_at_the_alias() -> None:
    text = _bomb()
    assert len(text) < 1024
    started = time.perf_counter()
    _, problems = read_documents(text, "bomb.yaml")
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5, elapsed
    assert len(problems) == 1
    problem = problems[0]
    assert problem.is_error
    # Aliases add 9*10, 9*91 and 9*820 nodes on lines 4-6; the first *l3 (7,381 more) is refused.
    assert problem.position == Position(7, 10)
    assert "alias *l3 expands anchor &l3 (line 6, 7381 nodes)" in problem.message
    assert f"limit of {MAX_ALIAS_NODES} nodes" in problem.message


def test_alias_budget_is_shared_by_the_documents_of_a_file() -> None:
    one_doc = "a: &a [" + ", ".join(["x"] * 99) + "]\nb: [" + ", ".join(["*a"] * 50) + "]\n"
    _, problems = read_documents(one_doc, "f.yaml")
    assert problems == []  # 50 * 100 nodes: within the limit
    _, problems = read_documents(
        "---\n" + one_doc + "---\n" + one_doc + "---\n" + one_doc, "f.yaml"
    )
    assert len(problems) == 1
    assert "alias *a expands anchor &a" in problems[0].message
    assert problems[0].position == Position(9, 5)  # 5,000 + 5,000, then the third document


def test_alias_expansion_counts_nested_aliases() -> None:
    # The alias size comes from what its anchor expands to, not from the text of the anchor.
    text = (
        "a: &a [" + ", ".join(["x"] * 99) + "]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"  # 1,000 nodes through aliases
        "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"  # 9 * 1,001 more: past 10,000
    )
    _, problems = read_documents(text, "f.yaml")
    assert len(problems) == 1
    assert problems[0].message.startswith("alias *b expands anchor &b (line 2, 1001 nodes)")


def test_legitimate_anchors_and_aliases_still_work() -> None:
    text = (
        "defaults: &steps\n"
        "  - {notify: on-call, after: 5m}\n"
        "  - {notify: team-lead, after: 15m}\n"
        "labels: &labels {team: payments, tier: 1}\n"
        "policies:\n"
        + "".join(f"  - name: p{i}\n    steps: *steps\n    labels: *labels\n" for i in range(200))
    )
    value = one(text)
    assert isinstance(value, dict)
    assert len(value["policies"]) == 200
    assert value["policies"][199]["steps"] == value["defaults"]
    assert value["policies"][0]["labels"] == {"team": "payments", "tier": 1}


def test_validate_refuses_the_alias_bomb_from_the_command_line(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "team.yaml").write_text(_bomb(10, 10), encoding="utf-8")
    beside_python = Path(sys.executable).with_name("oncall")
    command = str(beside_python) if beside_python.exists() else shutil.which("oncall")
    assert command
    proc = subprocess.run(
        [command, "validate", str(root)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.startswith("rules/team.yaml:6:45: error: alias *l2 expands anchor &l2")
