"""What an edited document would do, checked the way CI and the reconciler check it.

The editors never write the database: they produce YAML for the config repo. Before anyone
copies it or opens a pull request, `review` writes the document into a private copy of the
config repo, at the file it would live in, runs the same loader `oncall validate` runs, and
computes the same plan `oncall plan` prints against what is applied now. So the problems shown
are the ones CI would report, at lines of the YAML shown, and the plan is the reconciler's own.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from oncall.config.diagnostics import Diagnostic
from oncall.config.loader import CONFIG_DIRS, config_files, load
from oncall.config.yamlsource import read_documents
from oncall.reconcile.plan import Key, ObjectState, desired_state, make_plan, render_text
from oncall.web.editor.document import to_yaml

DIRECTORY = {
    "Schedule": "schedules",
    "Workflow": "workflows",
    "Runbook": "workflows",
    "PostmortemTemplate": "workflows",
}
"""Where a new object's file goes: schedules and workflows in their own directories,
everything else in `rules/`."""
_SEPARATOR = re.compile(r"^---(\s|$)")
_FILE_STEM = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Problem:
    severity: str
    message: str
    path: str
    line: int
    """In the YAML shown when `in_document`; else in the file at `path`."""
    col: int
    in_document: bool

    @property
    def text(self) -> str:
        where = f"line {self.line}" if self.in_document else f"{self.path}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class Review:
    kind: str
    name: str
    original: str | None
    """The name the object had in the config; None when the document adds it."""
    yaml: str
    """The edited document alone: what "Copy YAML" copies."""
    path: str
    """The file it lives in, relative to the config repo."""
    file_text: str
    """The whole file after the edit (other documents of the file kept): what a PR writes."""
    problems: tuple[Problem, ...]
    plan: tuple[str, ...]
    """`oncall plan` lines against the applied config; empty while there are errors."""
    ok: bool
    """No errors: `oncall validate` passes (warnings are shown but do not block)."""

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


@dataclass
class _Chunk:
    separator: str | None
    lines: list[str]

    def identity(self) -> tuple[str, str] | None:
        documents, _ = read_documents("".join(self.lines), "chunk.yaml")
        value = documents[0].value if documents else None
        if isinstance(value, dict):
            return (str(value.get("kind", "")), str(value.get("name", "")))
        return None

    def leading_comments(self) -> list[str]:
        out: list[str] = []
        for line in self.lines:
            if not line.strip().startswith("#") and line.strip():
                break
            out.append(line)
        return out


def default_path(kind: str, name: str) -> str:
    """The file of a new object: one file per object, named after it. A name that is not a
    valid one (the review says so) never becomes part of a path: `../x` stays in the repo."""
    stem = name if _FILE_STEM.match(name) else f"new-{kind.lower()}"
    return f"{DIRECTORY.get(kind, 'rules')}/{stem}.yaml"


def find_file(root: Path, kind: str, name: str) -> str | None:
    """The config-repo path of the file that defines `kind` `name`, if one does."""
    for file in config_files(root):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if any(c.identity() == (kind, name) for c in _chunks(text)):
            return file.relative_to(root).as_posix()
    return None


def _chunks(text: str) -> list[_Chunk]:
    chunks = [_Chunk(None, [])]
    for line in text.splitlines(keepends=True):
        if _SEPARATOR.match(line):
            chunks.append(_Chunk(line, []))
        else:
            chunks[-1].lines.append(line)
    return chunks


def splice(text: str, kind: str, name: str | None, yaml_text: str) -> tuple[str, int]:
    """`text` (a file's contents) with the document `kind` `name` replaced by `yaml_text` (its
    leading comment kept), or `yaml_text` added as a new document; and the number of lines
    before `yaml_text` in the result."""
    chunks = _chunks(text) if text.strip() else []
    body = yaml_text.splitlines(keepends=True)
    target = next((c for c in chunks if name and c.identity() == (kind, name)), None)
    if target is None:
        if chunks and chunks[-1].lines and not chunks[-1].lines[-1].endswith("\n"):
            chunks[-1].lines[-1] += "\n"
        target = _Chunk("---\n" if chunks else None, [])
        chunks.append(target)
    target.lines = target.leading_comments() + body
    out: list[str] = []
    offset = 0
    for chunk in chunks:
        if chunk.separator is not None:
            out.append(chunk.separator)
        if chunk is target:
            offset = len(out) + len(chunk.lines) - len(body)
        out.extend(chunk.lines)
    return "".join(out), offset


def _copy_config(source: Path, target: Path) -> None:
    for name in CONFIG_DIRS:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name,
                            ignore=shutil.ignore_patterns(".*"), symlinks=False)


def _problem(d: Diagnostic, path: str, first: int, count: int) -> Problem:
    line = d.position.line
    inside = d.path == path and first < line <= first + count
    return Problem(d.severity.value, d.message, d.path, line - first if inside else line,
                   d.position.col, inside)


def review(
    kind: str,
    name: str | None,
    document: dict[str, Any],
    applied: Mapping[Key, ObjectState],
    *,
    config_dir: str | Path,
    now: datetime,
) -> Review:
    """Check `document` as the new version of `kind` `name` (None: a new object) in the config
    repo at `config_dir`, against `applied` (`reconcile.state.read_current`)."""
    root = Path(config_dir)
    yaml_text = to_yaml(document)
    new_name = str(document.get("name") or "")
    path = (find_file(root, kind, name) if name else None) or default_path(kind, new_name or kind)
    if not any((root / d).is_dir() for d in CONFIG_DIRS):  # ONCALL_CONFIG_DIR is wrong
        message = (f"{root}: not a config repo (it has none of "
                   f"{', '.join(d + '/' for d in CONFIG_DIRS)}): check ONCALL_CONFIG_DIR")
        problem = Problem("error", message, path, 1, 1, False)
        return Review(kind, new_name, name, yaml_text, path, yaml_text, (problem,), (), False)
    with tempfile.TemporaryDirectory(prefix="oncall-review-") as tmp:
        copy = Path(tmp)
        _copy_config(root, copy)
        file = copy / path
        if not file.resolve().is_relative_to(copy.resolve()):
            raise ValueError(f"{path}: outside the config repo")
        before = file.read_text(encoding="utf-8") if file.is_file() else ""
        file_text, first = splice(before, kind, name, yaml_text)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(file_text, encoding="utf-8")
        result = load(copy, now=now)
    count = len(yaml_text.splitlines())
    problems = tuple(
        _problem(d, path, first, count)
        for d in sorted(result.diagnostics, key=Diagnostic.sort_key)
    )
    plan: tuple[str, ...] = ()
    if result.ok:
        text = render_text(make_plan(desired_state(result.config), applied))
        plan = tuple(text.rstrip("\n").splitlines())
    return Review(kind, new_name, name, yaml_text, path, file_text, problems, plan, result.ok)


def annotated_lines(r: Review) -> list[dict[str, str]]:
    """The YAML shown line by line, each with the problems found at it (for inline display)."""
    at: dict[int, list[Problem]] = {}
    for p in r.problems:
        if p.in_document:
            at.setdefault(p.line, []).append(p)
    rows: list[dict[str, str]] = []
    for n, text in enumerate(r.yaml.splitlines(), start=1):
        found = at.get(n, [])
        worst = "error" if any(p.severity == "error" for p in found) else (
            "warning" if found else "")
        rows.append({
            "n": str(n),
            "text": text,
            "severity": worst,
            "problem": "; ".join(f"{p.severity}: {p.message}" for p in found),
        })
    return rows


def plan_rows(r: Review) -> list[dict[str, str]]:
    """The plan's lines with their marker (+ create, ~ update, - delete) for colouring."""
    rows = []
    for line in r.plan:
        mark = line.strip()[:1]
        rows.append({"text": line, "mark": mark if mark in "+-~" else ""})
    return rows


def read_document(root: Path, kind: str, name: str) -> dict[str, Any] | None:
    """The document `kind` `name` as written in the config repo (for an editor to load)."""
    path = find_file(root, kind, name)
    if path is None:
        return None
    text = (root / path).read_text(encoding="utf-8")
    documents, _ = read_documents(text, path)
    for d in documents:
        if isinstance(d.value, dict) and (d.value.get("kind"), d.value.get("name")) == (kind,
                                                                                       name):
            return dict(d.value)
    return None
