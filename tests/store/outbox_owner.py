"""Who may write the notifications table: only `oncall/store/outbox*.py`.

`violations` scans the package's source; `install` adds a runtime guard for a test session:
a notification row built or changed, or a Core INSERT/UPDATE/DELETE on the table, whose
nearest project frame is an `oncall` module other than the outbox fails at once.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from oncall.db.models import NotificationRow

PACKAGE = Path(__file__).resolve().parents[2] / "oncall"
OWNER = re.compile(r"oncall/store/outbox\w*\.py$")
WRITE_SQL = re.compile(r"\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+notifications\b", re.I)
_WRITES = {"insert", "update", "delete"}
_EXEMPT = ("oncall/db/migrations/",)


def _is_owner(path: Path | str) -> bool:
    return bool(OWNER.search(str(path).replace("\\", "/")))


def _findings(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else (
                node.func.attr if isinstance(node.func, ast.Attribute) else "")
            if name == "NotificationRow":
                found.append((node.lineno, "builds a NotificationRow"))
            if name in _WRITES and node.args and "NotificationRow" in ast.unparse(node.args[0]):
                found.append((node.lineno, f"{name}(NotificationRow)"))
        elif isinstance(node, ast.Attribute) and node.attr == "__table__" and (
                ast.unparse(node.value) == "NotificationRow"):
            found.append((node.lineno, "takes NotificationRow.__table__"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
                WRITE_SQL.search(node.value)):
            found.append((node.lineno, "writes notifications in SQL text"))
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    """`path:line: what` for every write of the notifications table outside the outbox."""
    out = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root.parent).as_posix()
        if _is_owner(relative) or relative.startswith(_EXEMPT):
            continue
        for line, what in sorted(_findings(ast.parse(path.read_text(), str(path)))):
            out.append(f"{relative}:{line}: {what}")
    return out


def _writer() -> str | None:
    """The nearest `oncall` module on the stack that is neither the database plumbing nor the
    outbox; None when the outbox (or a test itself) is the writer."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        if frame.f_code.co_filename == __file__:
            pass
        elif "/oncall/" in path and "/site-packages/" not in path:
            if _is_owner(path):
                return None
            if "/oncall/db/" not in path:
                return f"{path.split('/oncall/', 1)[1]}:{frame.f_lineno}"
        elif "/tests/" in path and "/site-packages/" not in path:
            return None
        frame = frame.f_back  # type: ignore[assignment]
    return None


class NotOwner(AssertionError):
    """A write of the notifications table from outside the outbox."""


def _check(what: str) -> None:
    writer = _writer()
    if writer is not None:
        raise NotOwner(f"oncall/{writer} {what}: only oncall/store/outbox*.py writes it")


def _in_flush() -> bool:
    frame: Any = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "flush" and "sqlalchemy/orm" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def _before_execute(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
    if WRITE_SQL.search(statement) and not _in_flush():
        _check("writes the notifications table")


def _on_init(target: Any, *_args: Any) -> None:
    _check("builds a NotificationRow")


def _on_set(target: Any, value: Any, old: Any, initiator: Any) -> None:
    _check(f"sets NotificationRow.{initiator.key}")


def install() -> None:
    """Guard every engine's statements and every NotificationRow change, once."""
    if event.contains(Engine, "before_cursor_execute", _before_execute):
        return
    event.listen(Engine, "before_cursor_execute", _before_execute)
    event.listen(NotificationRow, "init", _on_init)
    for column in NotificationRow.__table__.columns:
        event.listen(getattr(NotificationRow, column.key), "set", _on_set)
