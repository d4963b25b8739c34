"""What a page shows, read back from the status tables and the applied example config, on
SQLite and PostgreSQL. Rows are inserted as the status writer would leave them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.status import ComponentStatus, Indicator
from oncall.db.engine import write_session
from oncall.db.models import (
    IncidentRow,
    StatusPageComponentRow,
    StatusPageNoticeRow,
    StatusPageNoticeUpdateRow,
)
from oncall.statuspages.view import load_page, page_version
from oncall.testing import incidents

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PAGE = "northwind-status"
SECRET_TITLE = "db-7.internal OOM: customer 4111-1111-1111-1111"
COMPONENTS = ["Website", "Search", "Checkout and payments", "Sign-in"]
UPGRADE = "payments-db-upgrade-2026-12"  # 2026-12-06 01:00 to 03:30 America/New_York


def component(session: Session, name: str, status: str, at: datetime,
              page: str = PAGE) -> None:
    session.add(StatusPageComponentRow(page_name=page, component_name=name, status=status,
                                       computed_status=status, updated_at=at))


def notice(session: Session, title: str, updates: list[tuple[str, str, datetime]], *,
           page: str = PAGE, components: list[str] | None = None,
           resolved_at: datetime | None = None) -> int:
    first, last = updates[0][2], updates[-1][2]
    row = StatusPageNoticeRow(page_name=page, title=title, body=updates[0][1],
                              status=updates[-1][0], impact="major",
                              components=components or [], created_at=first, updated_at=last,
                              resolved_at=resolved_at)
    session.add(row)
    session.flush()
    for status, body, at in updates:
        session.add(StatusPageNoticeUpdateRow(notice_id=row.id, status=status, body=body,
                                              created_at=at))
    return row.id


def view_at(engine: Engine, config: ConfigSet, now: datetime = NOW, page: str = PAGE) -> Any:
    with Session(engine) as session:
        return load_page(session, config, page, now)


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_page_without_rows_is_all_operational(applied_engine: Engine,
                                                example_config: ConfigSet) -> None:
    view = view_at(applied_engine, example_config)
    assert view.title == "Northwind Commerce status" and view.visibility == "public"
    assert [c.name for c in view.components] == COMPONENTS
    assert [c.position for c in view.components] == [1, 2, 3, 4]
    assert view.components[0].description == "Browsing and product pages"
    assert {c.status for c in view.components} == {ComponentStatus.OPERATIONAL}
    assert (view.indicator, view.status_description) == (Indicator.NONE,
                                                         "All Systems Operational")
    assert view.notices == ()
    assert all(len(c.bars) == 90 and c.uptime == 100.0 for c in view.components)
    assert view_at(applied_engine, example_config, page="no-such-page") is None


def test_components_show_their_rows_status_and_the_worst_sets_the_indicator(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with write_session(applied_engine) as session:
        component(session, "Search", "degraded_performance", NOW - timedelta(minutes=5))
        component(session, "Sign-in", "partial_outage", NOW - timedelta(minutes=3))
        component(session, "Kubernetes", "major_outage", NOW, page="internal")
    view = view_at(applied_engine, example_config)
    assert [c.status.value for c in view.components] == [
        "operational", "degraded_performance", "operational", "partial_outage"]
    assert (view.indicator, view.status_description) == (Indicator.MAJOR,
                                                         "Partial System Outage")
    assert view.updated_at == NOW - timedelta(minutes=3)


def test_notices_open_and_recent_with_updates_newest_first(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    t = NOW - timedelta(hours=1)
    with write_session(applied_engine) as session:
        current = notice(session, "Checkout errors", [
            ("investigating", "Looking.", t),
            ("identified", "Found it.", t + timedelta(minutes=10))],
            components=["Checkout and payments"])
        recent = notice(session, "Search slow", [
            ("investigating", "Slow.", NOW - timedelta(days=3)),
            ("resolved", "Fixed.", NOW - timedelta(days=3) + timedelta(hours=1))],
            resolved_at=NOW - timedelta(days=3) + timedelta(hours=1))
        notice(session, "Old news", [("resolved", "Long ago.", NOW - timedelta(days=20))],
               resolved_at=NOW - timedelta(days=16))
        notice(session, "Not this page", [("investigating", "Elsewhere.", t)], page="internal")
    view = view_at(applied_engine, example_config)
    assert [n.id for n in view.open_notices] == [current]
    assert [n.id for n in view.past_notices] == [recent]
    assert [u.status for u in view.open_notices[0].updates] == ["identified", "investigating"]
    assert view.open_notices[0].components == ("Checkout and payments",)
    assert view.past_notices[0].resolved_at == NOW - timedelta(days=3) + timedelta(hours=1)


@pytest.mark.parametrize(("now", "stage"), [
    (NOW, "scheduled"),
    (datetime(2026, 12, 6, 7, 0, tzinfo=UTC), "in_progress"),  # 02:00 in New York
    (datetime(2026, 12, 6, 9, 0, tzinfo=UTC), "completed"),
    (datetime(2026, 12, 20, 9, 0, tzinfo=UTC), "completed"),
    (datetime(2026, 12, 22, 9, 0, tzinfo=UTC), None),  # over 15 days ago: gone
])
def test_maintenance_of_the_pages_services_by_stage(
        applied_engine: Engine, example_config: ConfigSet, now: datetime,
        stage: str | None) -> None:
    view = view_at(applied_engine, example_config, now)
    found = [m for m in view.maintenances if m.maintenance.name == UPGRADE]
    if stage is None:
        assert found == []
        return
    window, = found
    assert window.stage == stage
    assert window.maintenance.starts_at == datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
    assert window.components == ("Checkout and payments",)
    assert view_at(applied_engine, example_config, now, "internal").maintenances[0].components \
        == ("Order pipelines",)


def test_uptime_bars_come_from_incidents_and_never_carry_their_text(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with write_session(applied_engine) as session:
        old = incidents.open_incident(
            session, service="payments-db", title=SECRET_TITLE, priority="P1",
            now=NOW - timedelta(days=2, hours=3), labels={"host": "db-7.internal"}, page=False)
        session.execute(update(IncidentRow).where(IncidentRow.id == old)
                        .values(resolved_at=NOW - timedelta(days=2, hours=1)))
        incidents.open_incident(session, service="catalog-api", title="Catalog 500s",
                                priority="P2", now=NOW - timedelta(hours=2), page=False)
        incidents.open_incident(session, service="search-api", title="Ancient",
                                priority="P1", now=NOW - timedelta(days=120), page=False)
        incidents.open_incident(session, service="auth-api", title="Minor", priority="P4",
                                now=NOW - timedelta(hours=1), page=False)
    view = view_at(applied_engine, example_config)
    website, search, checkout, sign_in = view.components
    assert checkout.bars[-3].worst is ComponentStatus.MAJOR_OUTAGE
    assert round(checkout.bars[-3].uptime, 4) == round(1 - 7200 / 86400, 4)
    assert website.bars[-1].worst is ComponentStatus.PARTIAL_OUTAGE
    assert search.bars[-1].worst is ComponentStatus.MAJOR_OUTAGE  # still open: every day
    assert all(b.worst is ComponentStatus.MAJOR_OUTAGE for b in search.bars)
    assert sign_in.uptime == 100.0  # P4: no effect
    assert view.stale_at == NOW + timedelta(minutes=1)  # an open incident moves today's bar
    assert SECRET_TITLE not in repr(view) and "db-7" not in repr(view)


def test_the_query_count_does_not_grow_with_components(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with write_session(applied_engine) as session:
        notice(session, "One", [("investigating", "x", NOW - timedelta(hours=1))])
    with counted(applied_engine) as few:
        view_at(applied_engine, example_config)
    with write_session(applied_engine) as session:
        for name in COMPONENTS:
            component(session, name, "degraded_performance", NOW)
        for n in range(5):
            notice(session, f"More {n}", [("investigating", "x", NOW - timedelta(minutes=n)),
                                          ("identified", "y", NOW)])
        incidents.open_incident(session, service="checkout-api", title="x", priority="P1",
                                now=NOW - timedelta(hours=1), page=False)
    with counted(applied_engine) as many:
        view_at(applied_engine, example_config)
    assert len(few) == len(many) == 4


def test_the_version_moves_with_every_row_the_page_shows(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    services = {s for c in example_config.status_pages[PAGE].components for s in c.services}

    def version() -> tuple[object, ...]:
        with Session(applied_engine) as session:
            return page_version(session, PAGE, services)

    seen = [version()]
    with write_session(applied_engine) as session:
        component(session, "Search", "partial_outage", NOW)
    seen.append(version())
    with write_session(applied_engine) as session:
        nid = notice(session, "N", [("investigating", "x", NOW)])
    seen.append(version())
    with write_session(applied_engine) as session:
        session.add(StatusPageNoticeUpdateRow(notice_id=nid, status="identified", body="y",
                                              created_at=NOW))
    seen.append(version())
    with write_session(applied_engine) as session:
        incidents.open_incident(session, service="auth-api", title="x", priority="P1",
                                now=NOW, page=False)
    seen.append(version())
    with write_session(applied_engine) as session:  # another page's rows do not count
        component(session, "Kubernetes", "major_outage", NOW, page="internal")
        notice(session, "Elsewhere", [("investigating", "x", NOW)], page="internal")
    seen.append(version())
    assert len(set(seen)) == 5 and seen[-1] == seen[-2]


def test_the_pages_own_impact_mapping_drives_the_bars(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    config = ConfigSet(objects={k: dict(v) for k, v in example_config.objects.items()},
                       sources=dict(example_config.sources))
    page = example_config.status_pages[PAGE]
    config.objects["StatusPage"][PAGE] = page.model_copy(
        update={"impact": {"P2": "none", "P4": "major_outage"}})
    with write_session(applied_engine) as session:
        incidents.open_incident(session, service="catalog-api", title="P2", priority="P2",
                                now=NOW - timedelta(hours=2), page=False)
        incidents.open_incident(session, service="auth-api", title="P4", priority="P4",
                                now=NOW - timedelta(hours=2), page=False)
    website, _, _, sign_in = view_at(applied_engine, config).components
    assert website.bars[-1].worst is ComponentStatus.OPERATIONAL
    assert sign_in.bars[-1].worst is ComponentStatus.MAJOR_OUTAGE
