"""The PostgreSQL and SQLite ingest stores write the same rows, delivery by delivery.

One sequence of deliveries covers every hot operation (open, join, repeat, an older repeat,
resolve, stale, replay claims, and the general path's several destinations, drops, delivery
ids, acknowledgements and batches). It is stored through `IngestStore.accept`, as the ingest
endpoint stores it, once on a PostgreSQL and once on a SQLite database, and every column of
every row either writes is compared. Ids are compared by their rank in their table (a
PostgreSQL upsert spends a sequence value when it joins), everywhere they appear.

Then `open_or_join` on its own, on each database: what it opens, joins and leaves closed, and
concurrent callers ending with one incident.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, delete, func, select, text
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.alerts import Action, Alert
from oncall.db.engine import make_engine, write_session
from oncall.db.migrate import upgrade_engine
from oncall.db.models import (
    AlertDeliveryRow,
    AlertRow,
    AuditEventRow,
    EscalationTimerRow,
    IncidentRow,
    IngestReplayRow,
    NotificationRow,
)
from oncall.incidents import service
from oncall.incidents.actors import Actor
from oncall.ingest import replays
from oncall.ingest.pipeline import Result, ServiceDirectory
from oncall.reconcile.apply import Origin, apply_config
from oncall.store import stores_for
from oncall.testing.incidents import open_incident

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
INTEGRATION = "prometheus-prod"
CHECKOUT = {"alertname": "CheckoutLatencyHigh", "env": "prod", "cluster": "eu"}
NODE = {"alertname": "KubeNodeNotReady", "namespace": "payments", "cluster": "eu"}
DROPPED = {"alertname": "CheckoutDown", "env": "staging"}
TABLES: tuple[Table, ...] = tuple(
    cast(Table, row.__table__)
    for row in (IncidentRow, AlertRow, EscalationTimerRow, AuditEventRow, AlertDeliveryRow,
                IngestReplayRow, NotificationRow)
)
REFERENCES = {"incident_id": "incidents", "alert_id": "alerts"}


def alert(key: str, action: Action = "trigger", minutes: int = 0,
          delivery_id: str | None = None, **labels: str) -> Alert:
    return Alert(provider="alertmanager", action=action, summary=f"{labels.get('alertname')}",
                 severity="critical", dedup_key=key, occurred_at=NOW + timedelta(minutes=minutes),
                 labels={"severity": "critical", **labels}, delivery_id=delivery_id,
                 integration=INTEGRATION)


def mark(digest: str) -> replays.Mark:
    return replays.Mark(INTEGRATION, digest, NOW + timedelta(minutes=5))


@dataclass(frozen=True)
class Delivery:
    alerts: tuple[Alert, ...]
    mark: replays.Mark | None = None
    posted: bool = False
    """Before it: every open incident has a Slack page and a Teams card sent, which its
    acknowledge or resolve then updates."""


def one(*alerts: Alert, signed: str | None = None, posted: bool = False) -> Delivery:
    return Delivery(alerts, mark(signed) if signed else None, posted)


SEQUENCE = (
    one(alert("a", **CHECKOUT, pod="1")),  # opens an incident
    one(alert("a", minutes=2, **CHECKOUT, pod="1")),  # a repeat
    one(alert("b", minutes=1, **CHECKOUT, pod="2")),  # joins the open incident
    one(alert("a", minutes=1, **CHECKOUT, pod="1")),  # an older repeat: its time kept
    one(alert("c", minutes=2, **CHECKOUT, pod="3"), signed="m1"),  # signed: joins
    one(alert("c", minutes=2, **CHECKOUT, pod="3"), signed="m1"),  # replayed: nothing stored
    one(alert("a", minutes=3, **CHECKOUT, pod="1"), signed="m2"),  # a signed repeat
    one(alert("a", "resolve", 4, **CHECKOUT, pod="1")),
    one(alert("a", minutes=3, **CHECKOUT, pod="1")),  # older than its resolve: stale
    one(alert("b", "resolve", 4, **CHECKOUT, pod="2"),
        alert("c", "resolve", 4, **CHECKOUT, pod="3")),  # the incident resolves
    one(alert("a", minutes=5, **CHECKOUT, pod="1")),  # a new episode, a new incident
    one(alert("n", **NODE)),  # two services paged
    one(alert("n", "acknowledge", 1, **NODE)),
    one(alert("s", **DROPPED)),  # dropped by a rule
    one(alert("s", **DROPPED), signed="m3"),  # a signed repeat of a dropped alert
    one(alert("n2", **NODE), signed="m4"),  # signed, two services: the general path claims
    one(alert("d", delivery_id="d-1", **CHECKOUT, pod="4")),
    one(alert("d", minutes=1, delivery_id="d-1", **CHECKOUT, pod="4")),  # a duplicate delivery
    one(alert("d", minutes=1, delivery_id="d-2", **CHECKOUT, pod="4")),  # a repeat with an id
    one(alert("e", "resolve", 1, **CHECKOUT), alert("e", minutes=0, **CHECKOUT)),
    one(alert("n", "resolve", 2, **NODE), posted=True),  # two incidents, n2 still firing
    one(alert("d", "resolve", 2, **CHECKOUT, pod="4")),  # its incident has another firing
    one(alert("a", "resolve", 4, **CHECKOUT, pod="1")),  # older than the trigger: stale
    one(alert("a", "resolve", 6, **CHECKOUT, pod="1"), posted=True),  # the last: resolves
    one(alert("a", "resolve", 7, **CHECKOUT, pod="1")),  # resolved before: its time kept
    one(alert("n2", "resolve", 3, **NODE)),  # the last alert of two acknowledged incidents
)


def _applied(engine: Engine, config: ConfigSet) -> Engine:
    upgrade_engine(engine)
    apply_config(engine, config, Origin(actor="tests", source="tests", revision=None, now=NOW))
    with engine.begin() as conn:  # apply's own audit events are not ingest's
        conn.execute(delete(AuditEventRow))
    return engine


@pytest.fixture
def engines(postgres_url: str, tmp_path: Path, example_config: ConfigSet
            ) -> Iterator[tuple[Engine, Engine]]:
    postgres = make_engine(postgres_url)
    with postgres.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    sqlite = make_engine(f"sqlite:///{tmp_path / 'oncall.db'}")
    try:
        yield _applied(postgres, example_config), _applied(sqlite, example_config)
    finally:
        postgres.dispose()
        sqlite.dispose()


def _post(engine: Engine, at: datetime) -> None:
    """A Slack page and a Teams channel card sent for every open incident, and an SMS page
    not sent yet (which its acknowledge or resolve cancels)."""
    with write_session(engine) as session:
        for rank, incident_id in enumerate(session.scalars(select(IncidentRow.id).where(
                IncidentRow.status != "resolved").order_by(IncidentRow.id))):
            for channel, kind, status, data in (
                    ("slack", "page", "sent", {"channel": "D1", "ts": "1.5"}),
                    ("teams", "channel", "sent", None), ("sms", "page", "pending", None)):
                session.add(NotificationRow(
                    idempotency_key=f"{channel}:{rank}:{at.isoformat()}",
                    incident_id=incident_id, channel=channel, address=f"{channel}-address",
                    kind=kind, status=status, attempt_count=0 if status == "pending" else 1,
                    next_attempt_at=at + timedelta(hours=1), provider_data=data,
                    created_at=at, sent_at=at if status == "sent" else None))


def _store(engine: Engine, config: ConfigSet, delivery: Delivery, services: ServiceDirectory
           ) -> Result | str:
    if delivery.posted:
        _post(engine, delivery.alerts[0].occurred_at)
    store = stores_for(engine).ingest
    integration, alerts = config.integrations[INTEGRATION], list(delivery.alerts)
    try:
        return asyncio.run(store.accept(config, integration, alerts, alerts[0].occurred_at,
                                        services, delivery.mark))
    except replays.Replayed:
        return "replayed"


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            table.name: [{column.name: _value(row._mapping[column]) for column in table.columns}
                         for row in conn.execute(select(table).order_by(*table.primary_key))]
            for table in TABLES
        }


def _ranks(rows: dict[str, list[dict[str, Any]]]) -> dict[str, dict[Any, int]]:
    return {name: {row["id"]: rank for rank, row in enumerate(found, 1)}
            for name, found in rows.items() if found and "id" in found[0]}


def _normalised(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Every id replaced by its rank in its table, wherever it appears."""
    ranks = _ranks(rows)

    def ref(table: str, value: Any) -> Any:
        return None if value is None else ("rank", ranks[table][value])

    def data(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = dict(value)
        if "alert_id" in out:
            out["alert_id"] = ref("alerts", out["alert_id"])
        if "alert_ids" in out:
            out["alert_ids"] = [ref("alerts", a) for a in out["alert_ids"]]
        return out

    out: dict[str, list[dict[str, Any]]] = {}
    for name, found in rows.items():
        out[name] = []
        for row in found:
            row = dict(row)
            if "id" in row:
                row["id"] = ref(name, row["id"])
            for column, table in REFERENCES.items():
                if column in row:
                    row[column] = ref(table, row[column])
            if name == "audit_events":
                if row["subject_kind"] == "incident" and row["subject_name"] is not None:
                    row["subject_name"] = ref("incidents", int(row["subject_name"]))
                row["data"] = data(row["data"])
            out[name].append(row)
    return out


def _answer(result: Result | str, rows: dict[str, list[dict[str, Any]]]) -> Any:
    if isinstance(result, str):
        return result
    ranks = _ranks(rows)
    return (result.outcomes, [ranks["alerts"][a] for a in result.alert_ids],
            [ranks["incidents"][i] for i in result.incident_ids], result.duplicate_deliveries)


@pytest.mark.postgres
def test_both_stores_write_the_same_rows_for_every_delivery(
        engines: tuple[Engine, Engine], example_config: ConfigSet) -> None:
    postgres, sqlite = engines
    services = {postgres: ServiceDirectory(), sqlite: ServiceDirectory()}
    for number, delivery in enumerate(SEQUENCE, 1):
        results = {engine: _store(engine, example_config, delivery, services[engine])
                   for engine in engines}
        written = {engine: _rows(engine) for engine in engines}
        assert _answer(results[postgres], written[postgres]) == _answer(
            results[sqlite], written[sqlite]), f"delivery {number}"
        assert _normalised(written[postgres]) == _normalised(written[sqlite]), (
            f"delivery {number}")
    final = _rows(sqlite)
    assert len(final["incidents"]) == 4 and len(final["ingest_replays"]) == 4
    assert [row["outcome"] for row in final["alert_deliveries"]] == [
        "new", "deduplicated", "new", "deduplicated", "new", "deduplicated", "resolved",
        "stale", "resolved", "resolved", "new", "new", "acknowledged", "suppressed",
        "deduplicated", "new", "new", "deduplicated", "resolved", "stale", "resolved",
        "resolved", "stale", "resolved", "deduplicated", "resolved"]
    assert [row["status"] for row in final["incidents"]] == ["resolved"] * 4
    assert sum(1 for row in final["notifications"] if row["kind"] == "update") == 12
    assert {row["status"] for row in final["notifications"] if row["channel"] == "sms"} == {
        "cancelled"}


# --- open_or_join on the caller's session, on each database --------------------------------------


def _open(session: Session, group_key: str = "g1", dedup_key: str | None = None) -> int:
    return open_incident(session, service="checkout-api", group_key=group_key,
                         title="Checkout latency high", priority="P1",
                         labels={"alertname": "CheckoutLatencyHigh"}, integration=INTEGRATION,
                         now=NOW, dedup_key=dedup_key)


def _timers(session: Session, incident_id: int) -> list[tuple[int, int, int, str]]:
    rows = session.scalars(select(EscalationTimerRow)
                           .where(EscalationTimerRow.incident_id == incident_id)
                           .order_by(EscalationTimerRow.id))
    return [(t.generation, t.cycle, t.step, t.status) for t in rows]


def _incident(session: Session, incident_id: int) -> IncidentRow:
    row = session.get(IncidentRow, incident_id, populate_existing=True)
    assert row is not None
    return row


def test_open_creates_incident_alert_events_and_first_timer(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        incident_id = _open(session)
        incident = _incident(session, incident_id)
        assert (incident.status, incident.alert_count, incident.priority) == (
            "triggered", 1, "P1")
        assert _timers(session, incident_id) == [(0, 0, 0, "pending")]
        assert session.scalars(select(AlertRow.incident_id)).all() == [incident_id]
        events = session.execute(select(AuditEventRow.type, AuditEventRow.actor)
                                 .where(AuditEventRow.incident_id == incident_id)
                                 .order_by(AuditEventRow.id)).all()
        assert [tuple(e) for e in events] == [
            ("incident.triggered", f"integration:{INTEGRATION}"),
            ("incident.alert", f"integration:{INTEGRATION}"),
        ]


def test_a_second_alert_joins_the_open_incident(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        first = _open(session)
        again = _open(session)
        assert again == first and _incident(session, first).alert_count == 2
        assert len(_timers(session, first)) == 1
        assert session.scalar(select(func.count(AlertRow.id))) == 2


def test_a_resolved_incident_is_not_reopened(applied_engine: Engine) -> None:
    with Session(applied_engine) as session, session.begin():
        first = _open(session)
        service.resolve(session, first, Actor.integration(INTEGRATION), NOW)
        second = _open(session)
        assert second != first and _incident(session, second).status == "triggered"


def test_concurrent_opens_make_one_incident(applied_engine: Engine) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            with write_session(applied_engine) as session:
                _open(session, "storm", dedup_key=f"storm-{n}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(applied_engine) as session:
        rows = session.scalars(select(IncidentRow).where(IncidentRow.group_key == "storm")).all()
        assert len(rows) == 1
        assert rows[0].alert_count == 8
        assert session.scalar(select(func.count(AlertRow.id))
                              .where(AlertRow.incident_id == rows[0].id)) == 8
