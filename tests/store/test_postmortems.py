"""The postmortem store: the one writer of its tables; saves and reminders are
compare-and-set, so concurrent editors and workers never overwrite or double up."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from oncall.store import postmortems as store

from .table_owner import Owned

POSTMORTEM_TABLES = Owned(
    "oncall/store/postmortems.py",
    {"PostmortemRow", "PostmortemIncidentRow", "PostmortemEntryRow", "ActionItemRow"},
    {"postmortems", "postmortem_incidents", "postmortem_timeline", "postmortem_action_items"})
T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_no_module_but_the_postmortem_store_writes_the_postmortem_tables() -> None:
    assert POSTMORTEM_TABLES.violations() == []


def _postmortem(engine: Engine) -> int:
    with engine.begin() as conn:
        return store.create(conn, title="t", severity=None, owner_id=None, template=None,
                            body="", actor="tests", now=T0)


def _race(engine: Engine, work: object, n: int = 4) -> list[object]:
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        with engine.begin() as conn:
            got = work(conn)  # type: ignore[operator]
        with lock:
            results.append(got)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("writers", [4])
def test_of_saves_made_on_one_version_exactly_one_is_written(migrated_engine: Engine,
                                                            writers: int) -> None:
    pm = _postmortem(migrated_engine)
    results = _race(migrated_engine, lambda conn: store.save(
        conn, pm, 1, {"body": f"from {threading.get_ident()}"}, "tests", T0), writers)
    assert sorted(results, key=lambda r: r is None) == [2] + [None] * (writers - 1)


def test_todays_reminder_of_an_item_is_claimed_once_whoever_asks(migrated_engine: Engine
                                                                 ) -> None:
    pm = _postmortem(migrated_engine)
    with migrated_engine.begin() as conn:
        item = store.add_item(conn, pm, title="fix it", owner_id=None, due_on=date(2026, 12, 1),
                              url=None, actor="tests", now=T0)
    today = date(2026, 12, 3)
    assert sorted(_race(migrated_engine, lambda c: store.claim_reminder(c, item, today))) == [
        False, False, False, True]
    with migrated_engine.begin() as conn:
        assert not store.claim_reminder(conn, item, today)
        assert store.claim_reminder(conn, item, date(2026, 12, 4))
        store.update_item(conn, item, {"status": "done"}, T0)
        assert not store.claim_reminder(conn, item, date(2026, 12, 5))
