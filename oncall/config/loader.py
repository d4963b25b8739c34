"""Reading a config repo from disk into a ConfigSet, with a diagnostic for every problem.

Nothing here raises on bad input: every file is read, every document is checked, and every
problem is reported at its file, line and column, so one CI run shows all mistakes at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path as FsPath
from typing import Any

from pydantic import BaseModel, ValidationError

from oncall.config import checks
from oncall.config.configset import ConfigSet, Source
from oncall.config.diagnostics import START, Diagnostic, error, warning
from oncall.config.models import KINDS, STEP_KINDS, ConfigObject
from oncall.config.suggest import did_you_mean
from oncall.config.types import describe
from oncall.config.yamlsource import Document, Path, read_documents

CONFIG_DIRS = ("rules", "schedules", "workflows")
YAML_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 1024 * 1024


class ConfigDirError(Exception):
    """The directory itself cannot be read: a usage problem, not a config problem."""


@dataclass
class LoadResult:
    config: ConfigSet
    diagnostics: list[Diagnostic] = field(default_factory=list)
    broken: set[tuple[str, str]] = field(default_factory=set)
    """(kind, name) of documents that failed validation: references to them are not errors."""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def config_files(root: FsPath) -> list[FsPath]:
    """Every regular file below the config directories, hidden ones excluded, sorted."""
    found: list[FsPath] = []
    for name in CONFIG_DIRS:
        base = root / name
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if not filename.startswith("."):
                    found.append(FsPath(dirpath) / filename)
    return found


def load(root: str | os.PathLike[str], *, now: datetime | None = None) -> LoadResult:
    """Load and check a config repo. `now` (UTC) enables checks that look ahead in time."""
    base = FsPath(root)
    if not base.exists():
        raise ConfigDirError(f"{root}: no such directory")
    if not base.is_dir():
        raise ConfigDirError(f"{root}: not a directory")
    if not os.access(base, os.R_OK | os.X_OK):
        raise ConfigDirError(f"{root}: permission denied")
    if not any((base / d).is_dir() for d in CONFIG_DIRS):
        raise ConfigDirError(
            f"{root}: not a config repo (it has none of {', '.join(d + '/' for d in CONFIG_DIRS)})"
        )
    result = LoadResult(ConfigSet())
    for file in config_files(base):
        rel = file.relative_to(base).as_posix()
        for document in _read_file(file, rel, result.diagnostics):
            _add_document(document, result)
    result.diagnostics.extend(checks.check(result.config, now=now, broken=result.broken))
    return result


def load_text(text: str, path: str = "config.yaml", *, now: datetime | None = None) -> LoadResult:
    """Load one YAML stream as if it were the whole repo (for tests and tools)."""
    result = LoadResult(ConfigSet())
    documents, problems = read_documents(text, path)
    result.diagnostics.extend(problems)
    for document in documents:
        _add_document(document, result)
    result.diagnostics.extend(checks.check(result.config, now=now, broken=result.broken))
    return result


def _read_file(file: FsPath, rel: str, diagnostics: list[Diagnostic]) -> list[Document]:
    if file.suffix.lower() not in YAML_SUFFIXES:
        diagnostics.append(warning(rel, START, "ignored: not a YAML file (.yaml or .yml)"))
        return []
    try:
        if not file.is_file():
            diagnostics.append(error(rel, START, "not a regular file"))
            return []
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            diagnostics.append(
                error(
                    rel,
                    START,
                    f"file is {size / 1024 / 1024:.1f} MiB; the limit is "
                    f"{MAX_FILE_BYTES // 1024 // 1024} MiB per file: split it into several files",
                )
            )
            return []
        raw = file.read_bytes()
    except OSError as exc:
        diagnostics.append(error(rel, START, f"cannot read file: {exc.strerror or exc}"))
        return []
    if b"\0" in raw:
        diagnostics.append(error(rel, START, "not a text file (it contains NUL bytes)"))
        return []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        position = _byte_position(raw, exc.start)
        diagnostics.append(
            error(
                rel,
                position,
                f"not UTF-8 text: invalid byte 0x{raw[exc.start]:02x}; save the file as UTF-8",
            )
        )
        return []
    documents, problems = read_documents(text, rel)
    diagnostics.extend(problems)
    if not problems and all(d.value is None for d in documents):
        diagnostics.append(
            error(rel, START, "empty file: expected at least one document with 'kind' and 'name'")
        )
    return documents


def _byte_position(raw: bytes, offset: int) -> Any:
    from oncall.config.diagnostics import Position

    before = raw[:offset]
    line = before.count(b"\n") + 1
    col = len(before) - (before.rfind(b"\n") + 1) + 1
    return Position(line, col)


def _add_document(document: Document, result: LoadResult) -> None:
    obj = build_object(document, result.diagnostics)
    if obj is None:
        value = document.value
        if isinstance(value, dict) and isinstance(value.get("kind"), str):
            result.broken.add((value["kind"], str(value.get("name"))))
        return
    previous = result.config.sources.get((obj.KIND, obj.name))
    if previous is not None:
        first = previous.position(("name",))
        result.diagnostics.append(
            error(
                document.path,
                document.position(("name",)),
                f"duplicate {obj.KIND} name {obj.name!r} "
                f"(first defined at {previous.path}:{first.line}:{first.col})",
            )
        )
        return
    result.config.add(obj, Source(document))


def build_object(document: Document, diagnostics: list[Diagnostic]) -> ConfigObject | None:
    value = document.value
    if value is None:
        return None
    if not isinstance(value, dict):
        diagnostics.append(
            error(
                document.path,
                document.position(()),
                f"a document must be a mapping with 'kind' and 'name', got {describe(value)}",
            )
        )
        return None
    kind = value.get("kind")
    if kind is None:
        diagnostics.append(
            error(document.path, document.position(()), "missing required field 'kind'")
        )
        return None
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        hint = did_you_mean(str(kind), KINDS) if isinstance(kind, str) else ""
        diagnostics.append(
            error(
                document.path,
                document.position(("kind",)),
                f"unknown kind {kind!r}{hint}; known kinds: {', '.join(KINDS)}",
            )
        )
        return None
    try:
        return cls.model_validate(value)
    except ValidationError as exc:
        for problem in exc.errors(include_url=False):
            diagnostics.append(_translate(problem, document, cls))
        return None


def _data_path(value: Any, loc: tuple[Any, ...]) -> Path:
    """Pydantic's error location with union tags removed, as a path into the YAML data."""
    path: list[str | int] = []
    current = value
    for i, part in enumerate(loc):
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if (in_dict and nxt is not None and nxt in current
                and not (isinstance(current[part], dict) and nxt in current[part])):
            continue  # a union tag that is also a key here: `continue_on_error` of a `webhook:`
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and isinstance(part, str) and part == loc[-1]:
            path.append(part)  # a missing field: the key that should have been there
            break
    return tuple(path)


def _vocabulary() -> set[str]:
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    stack: list[type[BaseModel]] = list(KINDS.values())
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        for fname, info in model.model_fields.items():
            names.add(info.alias or fname)
            for sub in _models_in(info.annotation):
                stack.append(sub)
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    from typing import get_args

    found: list[type[BaseModel]] = []
    stack = [annotation]
    while stack:
        a = stack.pop()
        if isinstance(a, type) and issubclass(a, BaseModel):
            found.append(a)
        stack.extend(get_args(a))
    return found


_FIELDS = _vocabulary()

_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "float_type": "a number",
}


def _translate(problem: Any, document: Document, cls: type[ConfigObject]) -> Diagnostic:
    kind: str = problem["type"]
    loc = _data_path(document.value, tuple(problem["loc"]))
    got = problem.get("input")
    ctx = problem.get("ctx") or {}
    field_name = str(loc[-1]) if loc and isinstance(loc[-1], str) else None
    position = document.position(loc)
    if kind == "missing":
        position = document.position(loc[:-1])
        message = f"missing required field {field_name!r}"
    elif kind == "extra_forbidden":
        position = document.position(loc, key=True)
        message = f"unknown field {field_name!r}{did_you_mean(str(field_name), _FIELDS)}"
    elif kind == "value_error":
        message = str(problem["msg"]).removeprefix("Value error, ")
    elif kind == "literal_error":
        message = f"invalid value {_short(got)}: expected {ctx.get('expected')}"
        if isinstance(got, str):
            expected = str(ctx.get("expected", "")).replace(" or ", ", ").split(", ")
            message += did_you_mean(got, [o.strip("'") for o in expected])
    elif kind in _TYPE_NAMES:
        message = f"expected {_TYPE_NAMES[kind]}, got {describe(got)}"
    elif kind == "too_short":
        n = ctx.get("min_length", 1)
        if isinstance(got, str):
            message = "must not be empty"
        else:
            message = f"needs at least {n} item{'s' if n != 1 else ''}"
    elif kind == "too_long":
        message = f"has more than {ctx.get('max_length')} items"
    elif kind in ("greater_than_equal", "greater_than"):
        message = f"must be at least {ctx.get('ge', ctx.get('gt'))}, got {_short(got)}"
    elif kind in ("less_than_equal", "less_than"):
        message = f"must be at most {ctx.get('le', ctx.get('lt'))}, got {_short(got)}"
    elif kind == "string_pattern_mismatch":
        message = _pattern_message(field_name, got)
    elif kind in ("invalid_step", "invalid_runbook_ref"):
        message = str(problem["msg"])
        if isinstance(got, dict) and got:
            options: tuple[str, ...] = (
                STEP_KINDS if kind == "invalid_step" else ("title", "url", "runbook")
            )
            message += did_you_mean(str(next(iter(got))), options)
    else:
        message = str(problem["msg"])
    if field_name and kind in _TYPE_NAMES.keys() | {"literal_error", "too_short", "too_long"}:
        message = f"{field_name}: {message}"
    return error(document.path, position, message)


def _short(value: Any) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return describe(value)


def _pattern_message(field_name: str | None, got: Any) -> str:
    if field_name == "url":
        return f"expected an http:// or https:// URL, got {_short(got)}"
    if field_name == "slack_channel":
        return f"expected a Slack channel like #payments-oncall or a channel ID, got {_short(got)}"
    return f"invalid value {_short(got)}"
