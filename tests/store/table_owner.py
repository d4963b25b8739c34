"""Who may write a table: a scan of the package's source for writes outside the table's owner.

A write is building a model row, `insert`/`update`/`delete` of the model, taking its
`__table__`, or SQL text that writes the table. Reading (a `select`) is anyone's.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "oncall"
_WRITES = {"insert", "update", "delete"}
_EXEMPT = ("oncall/db/",)


@dataclass(frozen=True)
class Owned:
    owner: str
    """The one module that may write, relative to the repository (oncall/store/x.py)."""
    models: Collection[str]
    tables: Collection[str]

    def _write_sql(self) -> re.Pattern[str]:
        names = "|".join(re.escape(t) for t in self.tables)
        return re.compile(rf"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+({names})\b", re.I)

    def _findings(self, tree: ast.AST) -> list[tuple[int, str]]:
        sql = self._write_sql()
        found: list[tuple[int, str]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else (
                    node.func.attr if isinstance(node.func, ast.Attribute) else "")
                if name in self.models:
                    found.append((node.lineno, f"builds a {name}"))
                if name in _WRITES and node.args and any(
                        m in ast.unparse(node.args[0]) for m in self.models):
                    found.append((node.lineno, f"{name}({ast.unparse(node.args[0])})"))
            elif isinstance(node, ast.Attribute) and node.attr == "__table__" and (
                    ast.unparse(node.value) in self.models):
                found.append((node.lineno, f"takes {ast.unparse(node.value)}.__table__"))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                    sql.search(node.value)):
                found.append((node.lineno, "writes the table in SQL text"))
        return found

    def violations(self, root: Path = PACKAGE) -> list[str]:
        """`path:line: what` for every write of the tables outside their owner."""
        out = []
        for path in sorted(root.rglob("*.py")):
            relative = path.relative_to(root.parent).as_posix()
            if relative == self.owner or relative.startswith(_EXEMPT):
                continue
            for line, what in sorted(self._findings(ast.parse(path.read_text(), str(path)))):
                out.append(f"{relative}:{line}: {what}")
        return out
