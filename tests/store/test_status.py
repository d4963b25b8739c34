"""The status page store: its compare-and-set writes on SQLite and PostgreSQL, and its being
the one writer of the status tables (checked in the package's source)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from oncall.db.engine import write_connection
from oncall.store import status as store

from .table_owner import Owned

STATUS_TABLES = Owned(
    "oncall/store/status.py",
    {"StatusPageComponentRow", "StatusPageNoticeRow", "StatusPageNoticeUpdateRow",
     "StatusPageSubscriberRow"},
    {"status_page_components", "status_page_notices", "status_page_notice_updates",
     "status_page_subscribers"})
T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_no_module_but_the_status_store_writes_the_status_tables() -> None:
    assert STATUS_TABLES.violations() == []


def test_the_scan_finds_each_kind_of_write(tmp_path: Path) -> None:
    package = tmp_path / "oncall"
    (package / "statuspages").mkdir(parents=True)
    (package / "store").mkdir()
    (package / "statuspages" / "rogue.py").write_text(
        "row = StatusPageNoticeRow(title='x')\n"
        "update(StatusPageComponentRow).values(status='major_outage')\n"
        "table = StatusPageNoticeUpdateRow.__table__\n"
        "sql = 'DELETE FROM status_page_notices WHERE id = 1'\n"
        "read = select(StatusPageComponentRow)\n"
        "update(StatusPageSubscriberRow).values(confirmed_at=None)\n"
        "sql = 'UPDATE status_page_subscribers SET unsubscribed_at = NULL'\n"
    )
    (package / "store" / "status.py").write_text("row = StatusPageNoticeRow()\n")
    assert [f.split(": ", 1)[0] for f in STATUS_TABLES.violations(package)] == [
        "oncall/statuspages/rogue.py:1", "oncall/statuspages/rogue.py:2",
        "oncall/statuspages/rogue.py:3", "oncall/statuspages/rogue.py:4",
        "oncall/statuspages/rogue.py:6", "oncall/statuspages/rogue.py:7"]


def test_a_component_changes_only_while_it_holds_what_was_read(migrated_engine: Engine
                                                               ) -> None:
    with write_connection(migrated_engine) as conn:
        assert store.insert_component(conn, "p", "Web", status="operational",
                                      computed="operational", now=T0)
        assert not store.insert_component(conn, "p", "Web", status="major_outage",
                                          computed="major_outage", now=T0)
        (read,) = store.components(conn)
        assert store.record_computed(conn, read, computed="major_outage", shown="major_outage",
                                     clear_manual=False, now=T0)
        # a second writer holding the same stale read loses
        assert not store.record_computed(conn, read, computed="partial_outage",
                                         shown="partial_outage", clear_manual=False, now=T0)
        assert store.set_manual(conn, "p", "Web", status="operational", by="a@example.com",
                                expires_at=None, now=T0) == "major_outage"
        (fresh,) = store.components(conn)
        assert not store.record_computed(conn, read, computed="operational",
                                         shown="operational", clear_manual=False, now=T0)
        assert not store.delete_component(conn, read)
        assert (fresh.status, fresh.computed, fresh.manual, fresh.updated_by) == (
            "operational", "major_outage", "operational", "a@example.com")
        assert store.clear_manual(conn, "p", "Web", now=T0) == ("operational", "major_outage")
        assert store.component(conn, "p", "Web") is not None
        (last,) = store.components(conn)
        assert store.delete_component(conn, last)
        assert store.components(conn) == []


def test_one_open_automatic_notice_per_component(migrated_engine: Engine) -> None:
    def open_one(conn: Connection, at: datetime) -> int | None:
        return store.open_auto_notice(conn, "p", "Web", title="Web: Major outage",
                                      body="Investigating.", status="investigating",
                                      impact="critical", now=at)

    with write_connection(migrated_engine) as conn:
        first = open_one(conn, T0)
        assert first is not None
        assert open_one(conn, T0) is None  # the transaction goes on after the conflict
        assert store.open_auto_notice(conn, "p", "Search", title="t", body="b",
                                      status="investigating", impact="minor",
                                      now=T0) is not None
        assert store.set_impact(conn, first, "major", T0)
        assert not store.set_impact(conn, first, "major", T0)
        assert store.update_notice(conn, first, status="resolved", body="Fine again.",
                                   by=None, now=T0 + timedelta(minutes=1))
        assert not store.update_notice(conn, first, status="monitoring", body="?", by=None,
                                       now=T0 + timedelta(minutes=2))
        second = open_one(conn, T0 + timedelta(minutes=3))
        assert second is not None and second != first
        assert [n.auto_component for n in store.open_notices(conn, ["p"], automatic=True)] == [
            "Search", "Web"]
        assert store.open_notices(conn, ["p"], automatic=False) == []
        assert [(u.status, u.body) for u in store.updates(conn, first)] == [
            ("investigating", "Investigating."), ("resolved", "Fine again.")]


@pytest.mark.parametrize("status", ["investigating", "resolved"])
def test_a_posted_notice_starts_with_its_text(migrated_engine: Engine, status: str) -> None:
    with write_connection(migrated_engine) as conn:
        notice_id = store.post_notice(conn, "p", title="t", body="First.", status=status,
                                      impact="none", components=["Web"], by="a@example.com",
                                      now=T0)
        found = store.notice(conn, notice_id)
        assert found is not None
        assert (found.components, found.resolved_at) == (
            ("Web",), T0 if status == "resolved" else None)
        assert [(u.status, u.body) for u in store.updates(conn, notice_id)] == [
            (status, "First.")]


def _add(conn: Connection, address: str, *, token: str, components: tuple[str, ...] = (),
         confirmed: bool = True, kind: str = store.EMAIL) -> store.Subscriber | None:
    return store.add_subscriber(conn, "p", kind=kind, address=address, components=components,
                                token=token, secret=None, by=None, now=T0,
                                confirmed=confirmed)


def test_a_subscription_is_confirmed_ended_and_renewed_by_its_token(migrated_engine: Engine
                                                                    ) -> None:
    with write_connection(migrated_engine) as conn:
        added = _add(conn, "a@example.com", token="tok-a", confirmed=False)
        assert added is not None and not added.active
        assert _add(conn, "a@example.com", token="tok-b") is None  # one per page and address
        assert store.recipients(conn, "p") == []  # unconfirmed: told nothing
        # asked again within the interval: no; after it: yes, once
        every = timedelta(minutes=10)
        assert not store.ask_again(conn, added, components=[], now=T0 + timedelta(minutes=9),
                                   every=every)
        assert store.ask_again(conn, added, components=["Web"], now=T0 + every, every=every)
        assert not store.ask_again(conn, added, components=[], now=T0 + every, every=every)
        confirmed = store.confirm_subscriber(conn, "tok-a", T0 + every)
        assert confirmed is not None and confirmed.active and confirmed.components == ("Web",)
        assert store.confirm_subscriber(conn, "no-such-token", T0) is None
        assert [s.address for s in store.recipients(conn, "p")] == ["a@example.com"]
        ended = store.end_subscriber(conn, "tok-a", T0 + 2 * every)
        assert ended is not None and not ended.active
        # confirming an ended subscription does not revive it
        again = store.confirm_subscriber(conn, "tok-a", T0 + 3 * every)
        assert again is not None and again.unsubscribed_at is not None
        assert store.recipients(conn, "p") == []
        assert store.renew_subscriber(conn, ended, components=[], token="tok-c", secret=None,
                                      by=None, now=T0 + 3 * every, confirmed=False)
        assert not store.renew_subscriber(conn, ended, components=[], token="tok-d",
                                          secret=None, by=None, now=T0, confirmed=False)
        assert store.subscriber_by_token(conn, "tok-a") is None  # the old links are dead
        renewed = store.subscriber_by_token(conn, "tok-c")
        assert renewed is not None and renewed.confirmed_at is None


def test_recipients_follow_the_components_a_notice_touches(migrated_engine: Engine) -> None:
    with write_connection(migrated_engine) as conn:
        _add(conn, "all@example.com", token="t1")
        _add(conn, "web@example.com", token="t2", components=("Web",))
        _add(conn, "api@example.com", token="t3", components=("API",))
        _add(conn, "https://hooks.example/x", token="t4", kind=store.WEBHOOK)

        def told(components: list[str] | None, kinds: tuple[str, ...] = (store.EMAIL,)
                 ) -> list[str]:
            return [s.address for s in store.recipients(conn, "p", components, kinds=kinds)]

        assert told(["Web"]) == ["all@example.com", "web@example.com"]
        assert told([]) == ["all@example.com", "web@example.com", "api@example.com"]
        assert told(["Web", "API"]) == told(None) == told([])
        assert told(["Search"]) == ["all@example.com"]
        assert told(["Web"], (store.WEBHOOK,)) == ["https://hooks.example/x"]
        assert store.recipients(conn, "other-page") == []
