"""What a status page shows follows the incidents of its services, on SQLite and PostgreSQL:
components, their automatic notices, maintenance, manual statuses, and workers racing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.status import ComponentStatus, NoticeStatus
from oncall.db.engine import make_engine, write_connection, write_session
from oncall.db.migrate import upgrade_engine
from oncall.db.models import AuditEventRow, StatusPageNoticeRow
from oncall.incidents import service
from oncall.incidents.actors import Actor
from oncall.notify.settings import ProviderSettings
from oncall.reconcile.apply import Origin, apply_config
from oncall.statuspages.sync import Change, sync_pages
from oncall.store import status as store
from oncall.testing.incidents import open_incident

from .conftest import load_yaml

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OK, MAINT = ComponentStatus.OPERATIONAL, ComponentStatus.UNDER_MAINTENANCE
MAJOR, PARTIAL = ComponentStatus.MAJOR_OUTAGE, ComponentStatus.PARTIAL_OUTAGE
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
kind: MaintenanceWindow
name: db-upgrade
services: [api-a]
from: 2026-12-05T02:00
to: 2026-12-05T04:00
timezone: Europe/Berlin
---
kind: StatusPage
name: shop-status
title: Shop status
visibility: public
components:
"""
COMPONENTS = """  - {name: Storefront, services: [api-a]}
  - {name: Payments, services: [api-b]}
"""
IN_MAINTENANCE = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)  # 03:00 in Berlin


def shop_config(root: Path, components: str = COMPONENTS, page: str = "") -> ConfigSet:
    return load_yaml(root, SHOP.replace("components:\n", page + "components:\n") + components)


@pytest.fixture
def shop(migrated_engine: Engine, tmp_path: Path) -> tuple[Engine, ConfigSet]:
    config = shop_config(tmp_path / "config")
    apply_config(migrated_engine, config,
                 Origin(actor="tests", source="tests", revision=None, now=T0))
    return migrated_engine, config


def incident(engine: Engine, svc: str, priority: Any, at: datetime = T0,
             title: str = "disk full on db-7", labels: dict[str, str] | None = None) -> int:
    with write_session(engine) as session:
        return open_incident(session, service=svc, title=title, now=at, priority=priority,
                             page=False, labels=labels)


def resolve(engine: Engine, incident_id: int, at: datetime) -> None:
    with write_session(engine) as session:
        service.resolve(session, incident_id, Actor("system", "tests"), at)


def shown(engine: Engine) -> dict[str, ComponentStatus]:
    with engine.connect() as conn:
        return {c.component: ComponentStatus(c.status) for c in store.components(conn)}


def notices(engine: Engine) -> list[store.Notice]:
    with Session(engine) as session:
        ids = session.scalars(select(StatusPageNoticeRow.id).order_by(StatusPageNoticeRow.id))
        with engine.connect() as conn:
            return [n for i in ids if (n := store.notice(conn, i)) is not None]


def updates(engine: Engine, notice_id: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(u.status, u.body) for u in store.updates(conn, notice_id)]


def test_no_incident_shows_every_component_operational(shop: tuple[Engine, ConfigSet]
                                                       ) -> None:
    engine, config = shop
    changes = sync_pages(engine, config, T0)
    assert shown(engine) == {"Storefront": OK, "Payments": OK}
    assert {(c.component, c.old, c.new) for c in changes} == {
        ("Storefront", None, OK), ("Payments", None, OK)}
    assert notices(engine) == []
    assert sync_pages(engine, config, T0 + timedelta(seconds=1)) == []


def test_a_p1_opens_a_notice_and_its_resolution_resolves_it(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    sync_pages(engine, config, T0)
    p1 = incident(engine, "api-a", "P1")
    changes = sync_pages(engine, config, T0 + timedelta(seconds=1))
    assert shown(engine) == {"Storefront": MAJOR, "Payments": OK}
    (notice,) = notices(engine)
    assert (notice.title, notice.body, notice.status, notice.impact, notice.components) == (
        "Storefront: Major outage", "We are investigating an issue affecting Storefront.",
        "investigating", "critical", ("Storefront",))
    assert changes == [Change("shop-status", "Storefront", OK, MAJOR, notice.id,
                              NoticeStatus.INVESTIGATING)]
    assert sync_pages(engine, config, T0 + timedelta(seconds=2)) == []

    resolve(engine, p1, T0 + timedelta(minutes=5))
    changes = sync_pages(engine, config, T0 + timedelta(minutes=5, seconds=1))
    assert shown(engine) == {"Storefront": OK, "Payments": OK}
    assert changes == [Change("shop-status", "Storefront", MAJOR, OK, notice.id,
                              NoticeStatus.RESOLVED)]
    (notice,) = notices(engine)
    assert notice.status == "resolved"
    assert notice.resolved_at == T0 + timedelta(minutes=5, seconds=1)
    assert updates(engine, notice.id) == [
        ("investigating", "We are investigating an issue affecting Storefront."),
        ("resolved", "Storefront is operating normally again.")]


@pytest.mark.parametrize(("priority", "expected", "impact"), [
    ("P1", MAJOR, "critical"),
    ("P2", PARTIAL, "major"),
    ("P3", ComponentStatus.DEGRADED_PERFORMANCE, "minor"),
    ("P4", OK, None),
    ("P5", OK, None),
])
def test_each_priority_has_its_effect(shop: tuple[Engine, ConfigSet], priority: str,
                                      expected: ComponentStatus, impact: str | None) -> None:
    engine, config = shop
    sync_pages(engine, config, T0)
    incident(engine, "api-b", priority)
    changes = sync_pages(engine, config, T0 + timedelta(seconds=1))
    assert shown(engine) == {"Storefront": OK, "Payments": expected}
    assert [n.impact for n in notices(engine)] == ([impact] if impact else [])
    assert len(changes) == (1 if impact else 0)


def test_the_pages_own_impact_and_texts_are_used(migrated_engine: Engine, tmp_path: Path
                                                  ) -> None:
    config = shop_config(tmp_path / "config", page=(
        "impact: {P3: none, P4: degraded_performance}\n"
        "notices:\n"
        "  title: '{{ status }} of {{ component }}'\n"
        "  opened: '{{ page }}: looking into {{ component }}.'\n"
        "  resolved: '{{ component }} is back.'\n"))
    apply_config(migrated_engine, config,
                 Origin(actor="tests", source="tests", revision=None, now=T0))
    incident(migrated_engine, "api-a", "P3")
    p4 = incident(migrated_engine, "api-b", "P4")
    sync_pages(migrated_engine, config, T0)
    assert shown(migrated_engine) == {"Storefront": OK,
                                      "Payments": ComponentStatus.DEGRADED_PERFORMANCE}
    (notice,) = notices(migrated_engine)
    assert (notice.title, notice.body, notice.impact) == (
        "Degraded performance of Payments", "Shop status: looking into Payments.", "minor")
    resolve(migrated_engine, p4, T0 + timedelta(minutes=1))
    sync_pages(migrated_engine, config, T0 + timedelta(minutes=1))
    assert updates(migrated_engine, notice.id)[-1] == ("resolved", "Payments is back.")


def test_a_worse_incident_regrades_the_open_notice(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    incident(engine, "api-a", "P3", title="slow")
    sync_pages(engine, config, T0)
    incident(engine, "api-a", "P1", title="down")
    sync_pages(engine, config, T0 + timedelta(seconds=1))
    assert shown(engine)["Storefront"] is MAJOR
    assert [(n.impact, n.status) for n in notices(engine)] == [("critical", "investigating")]


def test_maintenance_shows_and_an_incident_during_it_wins(shop: tuple[Engine, ConfigSet]
                                                         ) -> None:
    engine, config = shop
    sync_pages(engine, config, IN_MAINTENANCE - timedelta(hours=2))
    sync_pages(engine, config, IN_MAINTENANCE)
    assert shown(engine) == {"Storefront": MAINT, "Payments": OK}
    assert notices(engine) == []

    p1 = incident(engine, "api-a", "P1", at=IN_MAINTENANCE)
    sync_pages(engine, config, IN_MAINTENANCE + timedelta(seconds=1))
    assert shown(engine)["Storefront"] is MAJOR
    assert [n.status for n in notices(engine)] == ["investigating"]
    resolve(engine, p1, IN_MAINTENANCE + timedelta(minutes=10))
    sync_pages(engine, config, IN_MAINTENANCE + timedelta(minutes=10))
    assert shown(engine)["Storefront"] is MAINT
    assert [n.status for n in notices(engine)] == ["resolved"]
    sync_pages(engine, config, IN_MAINTENANCE + timedelta(hours=2))
    assert shown(engine)["Storefront"] is OK


def test_a_manual_status_wins_until_it_expires(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    incident(engine, "api-b", "P2")
    sync_pages(engine, config, T0)
    (notice,) = notices(engine)
    with write_connection(engine) as conn:
        store.set_manual(conn, "shop-status", "Payments", status="operational",
                         by="alice@example.com", expires_at=T0 + timedelta(hours=1), now=T0)
    # shown operational by hand: the automatic notice is resolved with its final text
    changes = sync_pages(engine, config, T0 + timedelta(minutes=1))
    assert shown(engine)["Payments"] is OK
    assert [(c.old, c.new, c.notice_status) for c in changes] == [
        (OK, OK, NoticeStatus.RESOLVED)]
    assert notices(engine)[0].status == "resolved"
    assert sync_pages(engine, config, T0 + timedelta(minutes=2)) == []

    changes = sync_pages(engine, config, T0 + timedelta(hours=1))
    assert shown(engine)["Payments"] is PARTIAL
    with engine.connect() as conn:
        row = store.component(conn, "shop-status", "Payments")
    assert row is not None and (row.manual, row.manual_expires_at, row.updated_by) == (
        None, None, None)
    # back to the incident's status: a new episode, a new notice
    assert [(c.old, c.new, c.notice_status) for c in changes] == [
        (OK, PARTIAL, NoticeStatus.INVESTIGATING)]
    assert [n.id == notice.id for n in notices(engine)] == [True, False]


def test_a_component_dropped_from_the_config_is_deleted_and_its_notice_resolved(
        shop: tuple[Engine, ConfigSet], tmp_path: Path) -> None:
    engine, config = shop
    incident(engine, "api-b", "P1")
    sync_pages(engine, config, T0)
    smaller = shop_config(tmp_path / "smaller", "  - {name: Storefront, services: [api-a]}\n")
    changes = sync_pages(engine, smaller, T0 + timedelta(seconds=1))
    assert shown(engine) == {"Storefront": OK}
    assert [(c.component, c.old, c.new, c.notice_status) for c in changes] == [
        ("Payments", MAJOR, None, NoticeStatus.RESOLVED)]
    assert [n.status for n in notices(engine)] == ["resolved"]


def test_every_change_is_on_the_audit_log(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    sync_pages(engine, config, T0)
    incident(engine, "api-a", "P1")
    sync_pages(engine, config, T0 + timedelta(seconds=1))
    with Session(engine) as session:
        events = session.execute(
            select(AuditEventRow.type, AuditEventRow.subject_name, AuditEventRow.before,
                   AuditEventRow.after, AuditEventRow.actor, AuditEventRow.incident_id)
            .where(AuditEventRow.subject_kind == "status_page").order_by(AuditEventRow.id)).all()
    assert [tuple(e) for e in events] == [
        ("status_page.component_added", "shop-status", None, "operational", "system", None),
        ("status_page.component_added", "shop-status", None, "operational", "system", None),
        ("status_page.component_changed", "shop-status", "operational", "major_outage",
         "system", None),
        ("status_page.notice_posted", "shop-status", None, "investigating", "system", None),
    ]


def test_nothing_of_the_alert_reaches_a_status_table(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    secret_title, secret_label = "payments-db-7 OOM at 10.0.3.7", "customer-acme-ltd"
    incident(engine, "api-a", "P1", title=secret_title, labels={"tenant": secret_label})
    sync_pages(engine, config, T0)
    assert notices(engine)
    with engine.connect() as conn:
        for table in ("status_page_components", "status_page_notices",
                      "status_page_notice_updates"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                dumped = " ".join(str(v) for v in row)
                assert secret_title not in dumped and "10.0.3.7" not in dumped
                assert secret_label not in dumped and "tenant" not in dumped


def _race(engine: Engine, config: ConfigSet, at: datetime, start: threading.Barrier,
          results: list[list[Change]], errors: list[BaseException]) -> None:
    start.wait()
    try:
        results.append(sync_pages(engine, config, at + timedelta(seconds=1)))
    except BaseException as exc:  # noqa: BLE001 - the test asserts there was none
        errors.append(exc)


@pytest.mark.postgres
def test_racing_syncs_open_exactly_one_notice(postgres_url: str, tmp_path: Path) -> None:
    engine = make_engine(postgres_url, pool_size=8)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    try:
        upgrade_engine(engine)
        config = shop_config(tmp_path / "config")
        apply_config(engine, config, Origin(actor="tests", source="tests", revision=None, now=T0))
        sync_pages(engine, config, T0)
        for round_ in range(5):  # several rounds: one might happen not to overlap
            at = T0 + timedelta(minutes=round_)
            p1 = incident(engine, "api-a", "P1", at=at, title=f"down {round_}")
            results: list[list[Change]] = []
            errors: list[BaseException] = []
            start = threading.Barrier(4)
            threads = [threading.Thread(target=_race, args=(engine, config, at, start, results,
                                                            errors)) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            opened = [c for r in results for c in r if c.notice_status is not None]
            assert len(opened) == 1, results
            open_now = [n for n in notices(engine) if n.resolved_at is None]
            assert len(open_now) == 1 and open_now[0].id == opened[0].notice_id
            resolve(engine, p1, at + timedelta(seconds=30))
            sync_pages(engine, config, at + timedelta(seconds=31))
        assert len(notices(engine)) == 5
    finally:
        engine.dispose()


class _Runtime:
    """What the sweep's status sync asks of a runtime: a sync that counts, or fails."""

    def __init__(self, fail: bool = False) -> None:
        self.calls, self.fail = 0, fail

    def sync_status_pages(self) -> int:
        self.calls += 1
        if self.fail:
            raise RuntimeError("database went away")
        return 0


def test_the_worker_syncs_at_most_once_a_second_and_survives_a_failure(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from oncall.worker import handlers

    clock = [1000.0]
    monkeypatch.setattr(handlers, "monotonic", lambda: clock[0])
    monkeypatch.setattr(handlers._sync_status_pages, "at", None)
    rt = _Runtime()
    for _ in range(40):  # a burst of ingest kicks within one second
        handlers._sync_status_pages(rt)  # type: ignore[arg-type]
    assert rt.calls == 1
    clock[0] += 1.0
    handlers._sync_status_pages(rt)  # type: ignore[arg-type]
    assert rt.calls == 2

    failing = _Runtime(fail=True)
    clock[0] += 1.0
    handlers._sync_status_pages(failing)  # type: ignore[arg-type]
    assert failing.calls == 1 and "status page sync failed" in caplog.text
    clock[0] += 1.0
    handlers._sync_status_pages(failing)  # type: ignore[arg-type]
    assert failing.calls == 2


def test_the_runtime_syncs_only_an_applied_config_with_pages(
        shop: tuple[Engine, ConfigSet], monkeypatch: pytest.MonkeyPatch) -> None:
    from oncall.worker.runtime import Runtime

    engine, config = shop
    incident(engine, "api-a", "P1")

    class _Stub:
        def __init__(self, config: ConfigSet) -> None:
            self.engine, self._config = engine, config
            self.providers = ProviderSettings()

        def config(self) -> ConfigSet:
            return self._config

        def clock(self) -> datetime:
            return T0

    assert Runtime.sync_status_pages(_Stub(ConfigSet())) == 0  # type: ignore[arg-type]
    assert shown(engine) == {}
    assert Runtime.sync_status_pages(_Stub(config)) == 2  # type: ignore[arg-type]
    assert shown(engine) == {"Storefront": MAJOR, "Payments": OK}
