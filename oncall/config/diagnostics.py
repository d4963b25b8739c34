"""Diagnostics: every problem found in a config repo, with the place it was found.

One shape for YAML syntax errors, schema errors and cross-reference errors, so the CLI, CI
annotations and the reconciler all report them the same way (`path:line:col: error: message`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Position:
    """A place in a file; line and column count from 1, as editors show them."""

    line: int
    col: int


START = Position(1, 1)


@dataclass(frozen=True)
class Diagnostic:
    path: str
    position: Position
    severity: Severity
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.position.line, self.position.col, self.message)

    def as_text(self) -> str:
        p = self.position
        return f"{self.path}:{p.line}:{p.col}: {self.severity.value}: {self.message}"

    def as_github(self) -> str:
        p = self.position
        message = _github_escape(self.message)
        return (
            f"::{self.severity.value} file={_github_escape_property(self.path)},"
            f"line={p.line},col={p.col}::{message}"
        )

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        d.pop("position")
        d["line"] = self.position.line
        d["col"] = self.position.col
        d["severity"] = self.severity.value
        return d


def error(path: str, position: Position, message: str) -> Diagnostic:
    return Diagnostic(path, position, Severity.ERROR, message)


def warning(path: str, position: Position, message: str) -> Diagnostic:
    return Diagnostic(path, position, Severity.WARNING, message)


def _github_escape(value: str) -> str:
    # Workflow-command escaping as the Actions runner expects it.
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _github_escape_property(value: str) -> str:
    return _github_escape(value).replace(":", "%3A").replace(",", "%2C")


FORMATS = ("text", "json", "github")


def render(diagnostics: Iterable[Diagnostic], fmt: str) -> str:
    """Render diagnostics for humans (text), machines (json) or GitHub Actions annotations."""
    items = sorted(diagnostics, key=Diagnostic.sort_key)
    if fmt == "json":
        return json.dumps([d.as_dict() for d in items], indent=2)
    if fmt == "github":
        return "\n".join(d.as_github() for d in items)
    return "\n".join(d.as_text() for d in items)


def summary(diagnostics: Iterable[Diagnostic]) -> str:
    items = list(diagnostics)
    errors = sum(1 for d in items if d.is_error)
    warnings = len(items) - errors
    return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
