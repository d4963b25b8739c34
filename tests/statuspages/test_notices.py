"""Responders' actions on a status page, on SQLite and PostgreSQL: notices posted and updated,
statuses set by hand, and the mistakes a person can make, answered clearly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.status import ComponentStatus
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow
from oncall.statuspages import notices
from oncall.statuspages.notices import NoticeResolved, StatusPageError, UnknownName
from oncall.statuspages.sync import sync_pages
from oncall.store import status as store
from oncall.testing.incidents import open_incident

from .conftest import apply_yaml

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ALICE = "alice@example.com"
SHOP = """
kind: Team
name: shop
members:
  - {email: alice@example.com}
---
kind: Service
name: api-a
team: shop
---
kind: Service
name: api-b
team: shop
---
kind: StatusPage
name: shop-status
title: Shop status
components:
  - {name: Storefront, services: [api-a]}
  - {name: Payments, services: [api-b]}
---
kind: StatusPage
name: internal
title: Internal
components:
  - {name: Build, services: [api-b]}
"""


@pytest.fixture
def shop(migrated_engine: Engine, tmp_path: Path) -> tuple[Engine, ConfigSet]:
    return migrated_engine, apply_yaml(migrated_engine, tmp_path, SHOP, T0)


def act(engine: Engine, action: Any, *args: Any, **kwargs: Any) -> Any:
    with write_session(engine) as session:
        return action(session, *args, **kwargs)


def audit(engine: Engine) -> list[tuple[str, str, Any, Any]]:
    with Session(engine) as session:
        rows = session.execute(
            select(AuditEventRow.type, AuditEventRow.actor, AuditEventRow.before,
                   AuditEventRow.after)
            .where(AuditEventRow.subject_kind == "status_page",
                   AuditEventRow.type.not_like("status_page.component_%"))
            .order_by(AuditEventRow.id)).all()
    return [tuple(r) for r in rows]


def test_a_notice_is_posted_updated_and_resolved(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    with write_session(engine) as session:
        open_incident(session, service="api-b", title="x", now=T0, priority="P2", page=False)
    sync_pages(engine, config, T0)
    notice_id = act(engine, notices.post_notice, config, ALICE, T0, "shop-status",
                    "Card payments failing", "Some card payments fail; we are on it.",
                    "identified", ["Payments", "Payments"])
    later = T0 + timedelta(minutes=20)
    act(engine, notices.update_notice, config, ALICE, later, notice_id, "monitoring",
        "A fix is deployed.")
    resolved = act(engine, notices.update_notice, config, ALICE, later + timedelta(hours=1),
                   notice_id, "resolved", "All card payments succeed again.")
    assert (resolved.title, resolved.status, resolved.impact, resolved.components,
            resolved.created_by, resolved.auto_component) == (
        "Card payments failing", "resolved", "major", ("Payments",), ALICE, None)
    assert resolved.resolved_at == later + timedelta(hours=1)
    with engine.connect() as conn:
        assert [(u.status, u.body, u.created_by) for u in store.updates(conn, notice_id)] == [
            ("identified", "Some card payments fail; we are on it.", ALICE),
            ("monitoring", "A fix is deployed.", ALICE),
            ("resolved", "All card payments succeed again.", ALICE)]
    assert [a[:2] for a in audit(engine) if a[1] == ALICE] == [
        ("status_page.notice_posted", ALICE), ("status_page.notice_updated", ALICE),
        ("status_page.notice_updated", ALICE)]

    with pytest.raises(NoticeResolved, match=r"resolved already; post a new notice"):
        act(engine, notices.update_notice, config, ALICE, later, notice_id, "monitoring", "?")
    with engine.connect() as conn:
        assert len(store.updates(conn, notice_id)) == 3


def test_a_notice_about_the_whole_page_has_no_impact(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    notice_id = act(engine, notices.post_notice, config, ALICE, T0, "internal",
                    "Slow builds", "Builds queue longer than usual.")
    with engine.connect() as conn:
        found = store.notice(conn, notice_id)
    assert found is not None
    assert (found.status, found.impact, found.components, found.resolved_at) == (
        "investigating", "none", (), None)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda s, c: notices.post_notice(s, c, ALICE, T0, "shop", "t", "b"), UnknownName,
     "unknown status page 'shop'; known pages: internal, shop-status"),
    (lambda s, c: notices.post_notice(s, c, ALICE, T0, "shop-status", "t", "b",
                                      components=["Search"]), UnknownName,
     "status page 'shop-status' has no component 'Search'; its components: Payments, "
     "Storefront"),
    (lambda s, c: notices.post_notice(s, c, ALICE, T0, "shop-status", "t", "b", "fixed"),
     StatusPageError, "unknown notice status 'fixed'; one of: investigating, identified, "
     "monitoring, resolved"),
    (lambda s, c: notices.post_notice(s, c, ALICE, T0, "shop-status", "  ", "b"),
     StatusPageError, "a notice's title must not be empty"),
    (lambda s, c: notices.update_notice(s, c, ALICE, T0, 999, "monitoring", "b"), UnknownName,
     "no status page notice 999"),
    (lambda s, c: notices.set_manual(s, c, ALICE, T0, "shop-status", "Payments", "down"),
     StatusPageError, "unknown component status 'down'; one of: operational, "
     "under_maintenance, degraded_performance, partial_outage, major_outage"),
    (lambda s, c: notices.set_manual(s, c, ALICE, T0, "shop-status", "Payments",
                                     "major_outage", T0), StatusPageError,
     "a manual status must expire in the future"),
    (lambda s, c: notices.clear_manual(s, c, ALICE, T0, "internal", "Payments"), UnknownName,
     "status page 'internal' has no component 'Payments'; its components: Build"),
])
def test_mistakes_are_refused_with_what_would_be_right(
        shop: tuple[Engine, ConfigSet], call: Any, error: type[Exception], message: str
) -> None:
    engine, config = shop
    with pytest.raises(error) as info:
        act(engine, call, config)
    assert str(info.value).startswith(message)
    with engine.connect() as conn:
        assert store.open_notices(conn, ["shop-status", "internal"]) == []
        assert store.components(conn) == []


def test_a_manual_status_shows_until_cleared_and_the_sync_keeps_it(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop

    def shown() -> dict[str, str]:
        with engine.connect() as conn:
            return {c.component: c.status for c in store.components(conn, ["shop-status"])}

    # before any sync: the row is made, and the sync fills in what the services earn
    before = act(engine, notices.set_manual, config, ALICE, T0, "shop-status", "Payments",
                 "degraded_performance")
    assert before is None
    sync_pages(engine, config, T0 + timedelta(seconds=1))
    assert shown() == {"Payments": "degraded_performance", "Storefront": "operational"}
    with engine.connect() as conn:
        row = store.component(conn, "shop-status", "Payments")
    assert row is not None and (row.manual, row.updated_by, row.computed) == (
        "degraded_performance", ALICE, "operational")

    assert act(engine, notices.clear_manual, config, ALICE, T0 + timedelta(minutes=1),
               "shop-status", "Payments") is ComponentStatus.OPERATIONAL
    assert shown()["Payments"] == "operational"
    assert act(engine, notices.clear_manual, config, ALICE, T0 + timedelta(minutes=2),
               "shop-status", "Payments") is None
    assert audit(engine) == [
        ("status_page.manual_set", ALICE, None, "degraded_performance"),
        ("status_page.manual_cleared", ALICE, "degraded_performance", "operational")]


def test_open_notices_of_an_incident(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    with write_session(engine) as session:
        incident_id = open_incident(session, service="api-b", title="x", now=T0,
                                    priority="P4", page=False)
    mine = act(engine, notices.post_notice, config, "workflow:w", T0, "shop-status", "t",
               "b", incident_id=incident_id)
    act(engine, notices.post_notice, config, ALICE, T0, "shop-status", "other", "b")
    with Session(engine) as session:
        assert [n.id for n in notices.open_notices(
            session, config, "shop-status", incident_id=incident_id)] == [mine]
        assert len(notices.open_notices(session, config, "shop-status")) == 2
