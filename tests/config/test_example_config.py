"""The example organisation shipped in the repo: it validates clean, now and a year from now, and
the published JSON Schema accepts every document of it (with jsonschema and check-jsonschema)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from oncall.cli.main import main
from oncall.config.loader import config_files, load
from oncall.config.yamlsource import read_documents

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(UTC)


def example_files() -> list[Path]:
    return config_files(ROOT)


def example_documents() -> list[tuple[str, int, Any]]:
    found: list[tuple[str, int, Any]] = []
    for file in example_files():
        rel = file.relative_to(ROOT).as_posix()
        documents, problems = read_documents(file.read_text(encoding="utf-8"), rel)
        assert problems == []
        found.extend((rel, d.start.line, d.value) for d in documents)
    return found


@pytest.fixture(scope="module")
def schema_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schema")
    assert main(["schema", "--out", str(out)]) == 0
    return out / "oncall.schema.json"


@pytest.fixture(scope="module")
def validator(schema_file: Path) -> Draft202012Validator:
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _tool(name: str) -> str:
    beside_python = Path(sys.executable).with_name(name)
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    assert found, f"{name} is not installed (pip install -r requirements-dev.txt)"
    return found


def test_example_validates_with_no_errors_and_no_warnings() -> None:
    assert [d.as_text() for d in load(ROOT, now=NOW).diagnostics] == []


def test_example_stays_clean_for_a_year() -> None:
    # validate looks 28 days ahead: stepping by 28 days covers every instant of the next year,
    # so no rotation, restriction or override can leave a gap or go stale in that time.
    found = {
        d.as_text()
        for step in range(14)
        for d in load(ROOT, now=NOW + timedelta(days=28 * step)).diagnostics
    }
    assert sorted(found) == []


def test_example_reads_like_a_company() -> None:
    config = load(ROOT, now=NOW).config
    assert len(config.teams) >= 4
    assert len(config.users) >= 12
    roles = {role for user in config.users.values() for role in user.roles.values()}
    assert roles == {"admin", "responder", "observer"}
    assert len(config.services) >= 8
    assert sum(len(s.depends_on) for s in config.services.values()) >= 8
    assert all(s.escalation_policy for s in config.services.values())
    assert len(config.schedules) >= 5
    assert len({s.timezone.key for s in config.schedules.values()}) >= 3
    assert any(s.overrides for s in config.schedules.values())
    assert any(len(s.layers) >= 4 for s in config.schedules.values())  # follow-the-sun
    policies = config.policies.values()
    assert all(len(p.steps) >= 3 and p.repeat >= 1 for p in policies)
    assert {i.type for i in config.integrations.values()} >= {"alertmanager", "datadog", "generic"}
    rules = config.routing_rules
    assert any(r.drop for r in rules) and any(r.continue_ for r in rules)
    assert all(r.priority for r in rules if not r.drop)
    assert config.maintenance_windows and config.status_pages
    assert len(config.runbooks) >= 2 and len(config.workflows) >= 3


def test_cli_validates_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--strict", str(ROOT)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "valid: " in err and "0 errors, 0 warnings" in err


def test_schema_accepts_every_example_document(validator: Draft202012Validator) -> None:
    documents = example_documents()
    assert len(documents) == len(load(ROOT, now=NOW).config)
    problems = [
        f"{path}:{line}: {e.message}"
        for path, line, value in documents
        for e in validator.iter_errors(value)
    ]
    assert problems == []


def _broken_schedule() -> dict[str, Any]:
    _, _, value = next(d for d in example_documents() if d[2]["kind"] == "Schedule")
    broken = dict(value)
    broken["timezon"] = broken.pop("timezone")
    return broken


def test_schema_rejects_a_broken_document(validator: Draft202012Validator) -> None:
    messages = [e.message for e in validator.iter_errors(_broken_schedule())]
    assert any("'timezone' is a required property" in m for m in messages), messages
    assert any("'timezon' was unexpected" in m for m in messages), messages


def _split_documents(file: Path, out: Path) -> list[Path]:
    """check-jsonschema reads one document per file, so multi-document files are split."""
    parts = re.split(r"^---[ \t]*$", file.read_text(encoding="utf-8"), flags=re.M)
    written = []
    for i, part in enumerate(p for p in parts if p.strip()):
        target = out / f"{file.parent.name}-{file.stem}-{i}.yaml"
        target.write_text(part, encoding="utf-8")
        written.append(target)
    return written


def test_check_jsonschema_accepts_the_single_document_files(schema_file: Path) -> None:
    singles = [f for f in example_files() if not re.search(r"^---", f.read_text(), flags=re.M)]
    assert len(singles) >= 3
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--schemafile", str(schema_file), *map(str, singles)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_jsonschema_accepts_every_document(schema_file: Path, tmp_path: Path) -> None:
    files = [p for f in example_files() for p in _split_documents(f, tmp_path)]
    assert len(files) == len(example_documents())
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--schemafile", str(schema_file), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_jsonschema_rejects_a_broken_document(schema_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / "platform.yaml"
    text = (ROOT / "schedules" / "platform.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("\ntimezone:", "\ntimezon:"), encoding="utf-8")
    proc = subprocess.run(
        [_tool("check-jsonschema"), "--schemafile", str(schema_file), str(broken)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1
    assert "timezon" in proc.stdout
