"""The layering of `oncall`, read from the source: no import cycles, the arrows run one way.

- No two modules import each other, directly or through others (imports executed when a
  module loads; imports inside functions and under `if TYPE_CHECKING:` do not count).
- The domain (api, contacts, web, incidents, paging, workflows, statuspages, postmortems,
  reports, store, core, config) never imports the worker.
- `oncall.core` does no I/O: no database, network or process imports.
- `oncall.config`'s models are the bottom layer: core builds on them, and only config's
  whole-set validation (which runs the schedule engine) looks up at core.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "oncall"


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    line: int
    at_load: bool
    """Executed when `source` loads: module level, not in a function, not TYPE_CHECKING."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = node.module or ""
    if node.level:
        package = module.split(".")
        is_package = MODULES.get(module, Path()).name == "__init__.py"
        anchor = package[: len(package) - node.level + (1 if is_package else 0)]
        base = ".".join([*anchor, base] if base else anchor)
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in MODULES else base


def _imports(module: str, path: Path) -> Iterator[Import]:
    def walk(node: ast.AST, at_load: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                for target in _targets(module, child):
                    yield Import(module, target, child.lineno, at_load)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(child, False)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), False)
                for stmt in child.orelse:
                    yield from walk(ast.Module(body=[stmt], type_ignores=[]), at_load)
            else:
                yield from walk(child, at_load)

    yield from walk(ast.parse(path.read_text(), str(path)), True)


IMPORTS: list[Import] = [i for m, p in MODULES.items() for i in _imports(m, p)]


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _cycles() -> list[list[str]]:
    """Strongly connected components of the load-time import graph with more than one
    module (Tarjan)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for i in IMPORTS:
        if i.at_load and i.target in MODULES and i.target != i.source:
            graph[i.source].add(i.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_import_walk_sees_the_package() -> None:
    assert "oncall.core.escalation" in MODULES
    assert any(i.source == "oncall.worker.escalator" and i.target == "oncall.core.escalation"
               for i in IMPORTS)


def test_no_import_cycles() -> None:
    assert _cycles() == []


DOMAIN = ["api", "contacts", "web", "incidents", "paging", "workflows", "statuspages",
          "postmortems", "reports", "store", "core", "config"]


@pytest.mark.parametrize("package", DOMAIN)
def test_the_domain_never_imports_the_worker(package: str) -> None:
    found = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _within(i.source, f"oncall.{package}") and _within(i.target, "oncall.worker")
    ]
    assert found == []


IO = [
    "sqlalchemy", "oncall.db", "oncall.store", "oncall.worker", "oncall.api", "oncall.web",
    "oncall.notify", "oncall.ingest", "oncall.settings", "httpx", "requests", "urllib",
    "aiohttp", "boto3", "botocore", "psycopg", "psycopg2", "sqlite3", "huey", "redis", "smtplib",
    "socket", "subprocess", "os", "shutil", "fastapi", "starlette", "twilio", "slack_sdk",
]


def test_core_does_no_io() -> None:
    found = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _within(i.source, "oncall.core") and any(_within(i.target, bad) for bad in IO)
    ]
    assert found == []


VALIDATION = ["oncall.config.checks", "oncall.config.schedule_checks", "oncall.config.loader"]
"""Config's whole-set validation: it runs the schedule engine, so it sits above core."""


def test_config_models_are_the_bottom_layer_core_builds_on() -> None:
    up = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _within(i.source, "oncall.config")
        and i.source not in VALIDATION
        and _within(i.target, "oncall.core")
    ]
    down = [
        f"{i.source}:{i.line} imports {i.target}"
        for i in IMPORTS
        if _within(i.source, "oncall.core") and i.target in VALIDATION
    ]
    assert (up, down) == ([], [])
