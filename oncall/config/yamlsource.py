"""Reading YAML into plain values while remembering where every value and key stood.

PyYAML's own constructors lose positions and apply YAML 1.1 typing (`on:` becomes True,
`17:00` becomes 1020). Config files are read with YAML 1.2 core-schema typing instead, built from
the event stream without recursion so that deeply nested garbage is an error, not a crash.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from oncall.config.diagnostics import Diagnostic, Position, error

try:  # the C parser is several times faster; positions are the same
    from yaml._yaml import CParser as _Loader
except ImportError:  # pragma: no cover - libyaml is in the wheels we pin
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Loader(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)

        def dispose(self) -> None:
            pass


MAX_DEPTH = 64
# Nodes that aliases may add to one file, counted through nested aliases. Each alias copies its
# anchor, so without a bound a few hundred bytes of nested aliases ("billion laughs") expand into
# billions of nodes. Legitimate reuse (a shared list of steps, a block of labels) stays far below.
MAX_ALIAS_NODES = 10_000

Path = tuple[str | int, ...]


@dataclass
class Document:
    """One YAML document: its value and the positions of every node below it."""

    path: str
    value: Any
    start: Position
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)

    def position(self, loc: Path, *, key: bool = False) -> Position:
        """The position of the node at `loc`, or of its nearest ancestor that exists."""
        if key and loc in self.keys:
            return self.keys[loc]
        loc = tuple(loc)
        while loc:
            if loc in self.values:
                return self.values[loc]
            loc = loc[:-1]
        return self.values.get((), self.start)


class YamlError(Exception):
    def __init__(self, position: Position, message: str) -> None:
        super().__init__(message)
        self.position = position
        self.message = message


_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")
_INF = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$")
_NAN = re.compile(r"^\.(?:nan|NaN|NAN)$")

_STR_TAG = "tag:yaml.org,2002:str"
_KNOWN_TAGS = {
    "!": "str",
    _STR_TAG: "str",
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:float": "float",
    "tag:yaml.org,2002:bool": "bool",
    "tag:yaml.org,2002:null": "null",
}


def _pos(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def _plain(value: str) -> Any:
    """YAML 1.2 core schema resolution of an untagged plain scalar."""
    if _NULL.match(value):
        return None
    if value in _BOOL:
        return _BOOL[value]
    if _INT.match(value):
        if value.startswith("0o"):
            return int(value[2:], 8)
        if value.startswith("0x"):
            return int(value[2:], 16)
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    if _INF.match(value):
        return -math.inf if value.startswith("-") else math.inf
    if _NAN.match(value):
        return math.nan
    return value


def _scalar(event: yaml.ScalarEvent) -> Any:
    tag = event.tag
    if tag is None or (tag == "!" and not event.implicit[0]):
        if event.implicit[0] and not event.style:  # plain (unquoted) scalar
            return _plain(event.value)
        return event.value
    kind = _KNOWN_TAGS.get(tag)
    if kind is None:
        raise YamlError(_pos(event.start_mark), f"unsupported YAML tag {tag!r}")
    if kind == "str":
        return event.value
    value = _plain(event.value)
    valid = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "null": value is None,
    }[kind]
    if not valid:
        raise YamlError(_pos(event.start_mark), f"{event.value!r} is not a valid !!{kind}")
    return float(value) if kind == "float" else value


@dataclass
class _Frame:
    container: dict[Any, Any] | list[Any]
    path: Path
    anchor: str | None
    size: int = 1  # nodes in this collection, itself included, aliases counted expanded
    pending_key: Any = None
    has_key: bool = False
    key_position: Position | None = None
    first_seen: dict[Any, Position] = field(default_factory=dict)


@dataclass
class _Budget:
    """Nodes produced through aliases so far in one file, shared by its documents."""

    expanded: int = 0


@dataclass(frozen=True)
class _Anchor:
    value: Any
    size: int  # nodes in the anchored value, nested aliases counted expanded
    position: Position


class _Builder:
    """Turns one document's events into a value plus position tables, iteratively."""

    def __init__(self, path: str, start: Position, budget: _Budget | None = None) -> None:
        self.doc = Document(path=path, value=None, start=start)
        self.stack: list[_Frame] = []
        self.anchors: dict[str, _Anchor] = {}
        self.budget = budget if budget is not None else _Budget()
        self.done = False

    def _count(self, size: int) -> None:
        """Add a child of `size` nodes to the collection being built."""
        if self.stack:
            self.stack[-1].size += size

    def _child_path(self) -> Path | None:
        """Path for the next value, or None when the next node is a mapping key."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.container, list):
            return (*top.path, len(top.container))
        if not top.has_key:
            return None
        return (*top.path, top.pending_key)

    def _attach(self, value: Any, position: Position) -> None:
        if not self.stack:
            self.doc.value = value
            self.done = True
            return
        top = self.stack[-1]
        if isinstance(top.container, list):
            top.container.append(value)
            return
        if not top.has_key:
            if isinstance(value, (dict, list)):
                raise YamlError(position, "a mapping key must be a plain value, not a collection")
            if isinstance(value, float) and math.isnan(value):
                raise YamlError(position, "a mapping key cannot be NaN")
            if value in top.first_seen:
                first = top.first_seen[value]
                raise YamlError(
                    position, f"duplicate key {value!r} (first defined at line {first.line})"
                )
            top.first_seen[value] = position
            top.pending_key = value
            top.has_key = True
            top.key_position = position
            self.doc.keys[(*top.path, value)] = position
            return
        top.container[top.pending_key] = value
        top.has_key = False

    def feed(self, event: yaml.Event) -> None:
        position = _pos(event.start_mark)
        path = self._child_path()
        if isinstance(event, yaml.ScalarEvent):
            value = _scalar(event)
            if path is not None:
                self.doc.values[path] = position
            if event.anchor:
                self.anchors[event.anchor] = _Anchor(value, 1, position)
            self._attach(value, position)
            self._count(1)
        elif isinstance(event, yaml.AliasEvent):
            anchor = self.anchors.get(event.anchor) if event.anchor is not None else None
            if anchor is None:
                raise YamlError(position, f"unknown alias *{event.anchor}")
            # Check before copying: the copy itself is what a bomb uses to exhaust memory.
            self.budget.expanded += anchor.size
            if self.budget.expanded > MAX_ALIAS_NODES:
                raise YamlError(
                    position,
                    f"alias *{event.anchor} expands anchor &{event.anchor} "
                    f"(line {anchor.position.line}, {anchor.size} nodes) past the limit of "
                    f"{MAX_ALIAS_NODES} nodes that aliases may add to one file",
                )
            value = _copy(anchor.value)
            if path is not None:
                self.doc.values[path] = position
            self._attach(value, position)
            self._count(anchor.size)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if path is None:
                raise YamlError(position, "a mapping key must be a plain value, not a collection")
            if len(self.stack) >= MAX_DEPTH:
                raise YamlError(position, f"nesting is deeper than {MAX_DEPTH} levels")
            tag = event.tag
            if tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                raise YamlError(position, f"unsupported YAML tag {tag!r}")
            self.doc.values[path] = position
            container: dict[Any, Any] | list[Any] = (
                {} if isinstance(event, yaml.MappingStartEvent) else []
            )
            self.stack.append(_Frame(container, path, event.anchor))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            start = self.doc.values.get(frame.path, position)
            if frame.anchor:
                self.anchors[frame.anchor] = _Anchor(frame.container, frame.size, start)
            self._attach(frame.container, start)
            self._count(frame.size)


def _copy(value: Any) -> Any:
    stack: list[tuple[Any, Any]] = []
    root = _shallow(value)
    stack.append((value, root))
    while stack:
        src, dst = stack.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            if isinstance(v, (dict, list)):
                c = _shallow(v)
                dst[k] = c
                stack.append((v, c))
    return root


def _shallow(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def read_documents(text: str, path: str) -> tuple[list[Document], list[Diagnostic]]:
    """Parse every document of a YAML stream; a syntax error ends the file with one diagnostic."""
    documents: list[Document] = []
    builder: _Builder | None = None
    budget = _Budget()
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            assert event is not None
            if isinstance(event, yaml.DocumentStartEvent):
                builder = _Builder(path, _pos(event.start_mark), budget)
            elif isinstance(event, yaml.DocumentEndEvent):
                if builder is not None:
                    documents.append(builder.doc)
                builder = None
            elif builder is not None and not isinstance(
                event, (yaml.StreamStartEvent, yaml.StreamEndEvent)
            ):
                builder.feed(event)
    except YamlError as exc:
        return documents, [error(path, exc.position, exc.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = _pos(mark) if mark is not None else Position(1, 1)
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            message = f"{exc.context}: {exc.problem}" if "while" not in exc.context else exc.problem
            unclosed = "tab character" not in exc.problem  # a tab's context adds nothing
            if unclosed and "while" in exc.context and exc.context_mark is not None:
                opened = _pos(exc.context_mark)
                if opened != position:  # say where the unclosed construct began
                    message += (
                        f" ({exc.context} started at line {opened.line}, column {opened.col})"
                    )
        return documents, [error(path, position, f"YAML syntax error: {message}")]
    except yaml.YAMLError as exc:  # reader errors (bad characters) carry their own position
        position = Position(1, 1)
        message = str(exc)
        if isinstance(exc, yaml.reader.ReaderError):
            position = _line_col(text, exc.position)
            code = exc.character if isinstance(exc.character, int) else ord(exc.character)
            message = f"character #x{code:04x} is not allowed in YAML ({exc.reason})"
        return documents, [error(path, position, f"YAML syntax error: {message}")]
    finally:
        loader.dispose()
    return documents, []


def _line_col(text: str, offset: int) -> Position:
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Position(line, col)
