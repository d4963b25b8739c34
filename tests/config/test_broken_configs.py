"""Golden tests: `oncall validate` on broken config repos prints exactly the expected diagnostics.

Each directory under `broken/` is a minimal config repo plus `expected.txt`, the exact stdout of
`oncall validate <case>` (text format, paths relative to the case). Files too big or too odd to
commit (a 5 MB file, binary data, Latin-1 text) are written at test time by a recipe below.
Run with `UPDATE_GOLDEN=1` to rewrite the golden files after a deliberate change, then review
every changed line by eye.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from oncall.cli.main import main
from oncall.testing import golden

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(p.name for p in BROKEN.iterdir() if p.is_dir())
CONFIG_DIRS = ("rules", "schedules", "workflows")


def _binary(root: Path) -> None:
    # The start of a PNG saved with a .yaml name by mistake.
    header = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"
    (root / "rules" / "logo.yaml").write_bytes(header + bytes(range(256)) * 4)


def _five_megabytes(root: Path) -> None:
    # A generated dump of services, far past the per-file limit.
    size = 5 * 1024 * 1024
    chunks: list[str] = []
    written, i = 0, 0
    while written < size:
        doc = (
            f"---\nkind: Service\nname: generated-{i:06d}\nteam: payments\n"
            f"description: generated service number {i} of a runaway export script\n"
        )
        chunks.append(doc)
        written += len(doc)
        i += 1
    (root / "rules" / "services-dump.yaml").write_text("".join(chunks), encoding="utf-8")


def _latin1(root: Path) -> None:
    # Saved by an editor in Latin-1: the 'é' is the single byte 0xE9, invalid in UTF-8.
    text = (
        "kind: Team\nname: storefront\nmembers:\n"
        "  - {email: jose@example.com, name: José Álvarez, role: admin}\n"
    )
    (root / "rules" / "storefront.yaml").write_bytes(text.encode("latin-1"))


RECIPES: dict[str, Callable[[Path], None]] = {
    "binary-file": _binary,
    "five-megabyte-file": _five_megabytes,
    "non-utf8-file": _latin1,
}

# Warnings only: valid (exit 0), but `--strict` makes the warnings fail the run.
WARNINGS_ONLY = {"warnings-only", "not-yaml-file"}

# Every broken config the acceptance criteria name, by case directory.
REQUIRED = {
    "yaml-syntax-error",
    "unknown-field",
    "wrong-type",
    "unknown-reference",
    "dependency-cycle",
    "bad-matcher",
    "bad-duration",
    "unknown-time-zone",
    "literal-secret",
    "duplicate-name",
    "duplicate-key",
    "empty-file",
    "binary-file",
    "deeply-nested-garbage",
    "five-megabyte-file",
    "unknown-kind",
    "missing-kind",
    "missing-name",
    "bad-name-syntax",
    "document-is-a-list",
    "invalid-rrule",
    "rotation-every-and-rrule",
    "override-ends-before-start",
    "invalid-json-schema",
    "workflow-expression-syntax",
    "unknown-template-variable",
    "bad-priority",
    "routing-service-and-drop",
    "unknown-integration-type",
    "literal-secret-in-header",
    "tab-indentation",
    "non-utf8-file",
    "unknown-escalation-target-kind",
    "warnings-only",
    "workflow-unknown-target",
    "workflow-bad-runbook-param",
    "workflow-step-limits",
    "webhook-url-template",
    "status-page-format",
    "status-page-rules",
    "workflow-status-step",
    "workflow-postmortem-step",
}


def materialise(case: str, tmp_path: Path) -> Path:
    """The case directory to validate: the committed one, or a copy completed by its recipe."""
    source = BROKEN / case
    recipe = RECIPES.get(case)
    if recipe is None:
        return source
    target = tmp_path / case
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("expected*"))
    recipe(target)
    return target


def check_golden(golden_path: Path, actual: str) -> None:
    golden.check(golden_path, actual)


def expected_exit(case: str) -> int:
    return 0 if case in WARNINGS_ONLY else 1


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_required_case_is_present() -> None:
    assert len(CASES) >= 30
    assert set(CASES) >= REQUIRED, sorted(REQUIRED - set(CASES))


@pytest.mark.parametrize("case", CASES)
def test_case_is_a_minimal_config_repo(case: str) -> None:
    root = BROKEN / case
    assert any((root / d).is_dir() for d in CONFIG_DIRS)
    assert (root / "expected.txt").is_file()


@pytest.mark.parametrize("case", CASES)
def test_validate_prints_the_golden_diagnostics(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = materialise(case, tmp_path)
    code, out, err = run_in_process(capsys, str(root))
    check_golden(BROKEN / case / "expected.txt", out)
    assert code == expected_exit(case), err
    lines = out.splitlines()
    assert lines, "a broken config must say what is wrong"
    for line in lines:
        path, line_no, col, rest = line.split(":", 3)
        assert (root / path).is_file(), line
        assert int(line_no) >= 1 and int(col) >= 1, line
        assert rest.startswith((" error: ", " warning: ")), line
    verdict = "valid" if expected_exit(case) == 0 else "invalid"
    assert err.strip().startswith(f"{root}: {verdict}: ")
    assert "Traceback" not in err


@pytest.mark.parametrize("case", sorted(WARNINGS_ONLY))
def test_strict_turns_warnings_into_failure(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = materialise(case, tmp_path)
    code, out, _ = run_in_process(capsys, "--strict", str(root))
    assert code == 1
    assert out == (BROKEN / case / "expected.txt").read_text(encoding="utf-8")


def _oncall_command() -> str:
    beside_python = Path(sys.executable).with_name("oncall")
    found = str(beside_python) if beside_python.exists() else shutil.which("oncall")
    assert found, "the oncall console script is not installed (pip install -e .)"
    return found


SUBPROCESS_CASES = [
    ("yaml-syntax-error", []),
    ("binary-file", []),
    ("five-megabyte-file", []),
    ("deeply-nested-garbage", []),
    ("non-utf8-file", []),
    ("tab-indentation", []),
    ("dependency-cycle", []),
    ("warnings-only", []),
    ("warnings-only", ["--strict"]),
]


@pytest.mark.parametrize(("case", "flags"), SUBPROCESS_CASES)
def test_console_script_matches_the_golden_output(
    case: str, flags: list[str], tmp_path: Path
) -> None:
    root = materialise(case, tmp_path)
    proc = subprocess.run(
        [_oncall_command(), "validate", *flags, str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr
    assert proc.stdout == (BROKEN / case / "expected.txt").read_text(encoding="utf-8")
    assert proc.returncode == (1 if flags else expected_exit(case)), proc.stderr


@pytest.mark.parametrize("fmt", ["json", "github"])
def test_machine_formats_are_golden(
    fmt: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case = "unknown-reference"
    root = BROKEN / case
    monkeypatch.chdir(root)  # paths in the output are relative to the config repo either way
    code, out, err = run_in_process(capsys, "--format", fmt, ".")
    assert code == 1
    assert err == ""
    name = "expected.json" if fmt == "json" else "expected.github.txt"
    check_golden(root / name, out)
