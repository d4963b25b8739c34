"""One owner of the notifications table: no module outside `oncall/store/outbox*.py` writes a
notification row, checked in the source and, for the whole test session, at run time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from outbox_owner import NotOwner, violations  # type: ignore[import-not-found]
from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session

from oncall.db.models import NotificationRow


def test_no_module_outside_the_outbox_writes_notifications() -> None:
    assert violations() == []


def test_the_scan_finds_each_kind_of_write(tmp_path: Path) -> None:
    package = tmp_path / "oncall"
    (package / "worker").mkdir(parents=True)
    (package / "store").mkdir()
    (package / "worker" / "rogue.py").write_text(
        "from sqlalchemy import update, insert\n"
        "row = NotificationRow(status='pending')\n"
        "update(NotificationRow).values(status='sent')\n"
        "table = NotificationRow.__table__\n"
        "sql = 'UPDATE notifications SET status = 1'\n"
    )
    (package / "store" / "outbox.py").write_text("row = NotificationRow()\n")
    found = violations(package)
    assert [f.split(": ", 1)[0] for f in found] == [
        "oncall/worker/rogue.py:2", "oncall/worker/rogue.py:3", "oncall/worker/rogue.py:4",
        "oncall/worker/rogue.py:5"]


def test_a_write_from_another_oncall_module_fails_at_run_time(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    """A module of the package (compiled with an oncall/ path) writing the table is refused;
    the same statement from a test is allowed."""
    rogue = compile(
        "def write(conn):\n    conn.execute(statement)\n", "/x/oncall/worker/rogue.py", "exec")
    scope: dict[str, object] = {
        "statement": update(NotificationRow).values(status="sent").where(
            NotificationRow.id == -1)}
    exec(rogue, scope)
    with migrated_engine.begin() as conn:
        conn.execute(text("SELECT 1"))
        with pytest.raises(NotOwner, match=r"oncall/worker/rogue\.py"):
            scope["write"](conn)  # type: ignore[operator]
        conn.execute(scope["statement"])  # type: ignore[arg-type]

    build = compile("def build():\n    return NotificationRow(status='pending')\n",
                    "/x/oncall/web/rogue.py", "exec")
    scope = {"NotificationRow": NotificationRow}
    exec(build, scope)
    with pytest.raises(NotOwner, match=r"oncall/web/rogue\.py"):
        scope["build"]()  # type: ignore[operator]
    with Session(migrated_engine) as session:
        assert session.get(NotificationRow, -1) is None
    assert datetime.now(UTC)
