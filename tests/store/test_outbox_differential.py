"""The PostgreSQL and SQLite outboxes, side by side: the same operations (enqueue, claim,
record sent / retry / failed, cancel, receipt) leave the same rows, column by column, in
notifications, delivery_attempts, provider_circuits and audit_events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.delivery import Breaker
from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    DeliveryAttemptRow,
    NotificationRow,
    ProviderCircuitRow,
    UserRow,
)
from oncall.notify.providers.base import DeliveryResult
from oncall.store import outbox as store
from oncall.store import stores_for
from oncall.store.outbox import Call, DispatchPolicy, NotificationStatus
from oncall.testing.incidents import open_incident

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
PROVIDERS = {"slack": ["slack"], "sms": ["twilio_sms"], "voice": ["twilio_voice"],
             "email": ["smtp"]}
WORKER = "worker-1"


def _incident(engine: Engine) -> tuple[int, int]:
    with write_session(engine) as session:
        user = session.scalar(select(UserRow.id).order_by(UserRow.id).limit(1))
        assert user is not None
        incident_id = open_incident(session, service="checkout-api", group_key="k",
                                    title="Checkout p99 above 2s", priority="P1",
                                    labels={"env": "prod"}, integration="prometheus-prod",
                                    now=T0)
        return incident_id, user


def _scenario(engine: Engine, config: ConfigSet) -> None:
    """Every hot operation once: a plain send, a retry, a failure that pulls the next
    channel forward, a general (email) claim, a receipt, a cancel, and a second claim that
    finds nothing due."""
    outbox = stores_for(engine).outbox
    incident_id, user_id = _incident(engine)
    rows = [
        store.owed(incident_id, T0, idempotency_key=f"p:{key}", user_id=user_id,
                   channel=channel, address=address, kind="page",
                   next_attempt_at=T0 + timedelta(minutes=delay))
        for key, channel, address, delay in (
            ("slack", "slack", "U1", 0), ("sms-retry", "sms", "+15550001", 0),
            ("sms-fail", "sms", "+15550002", 0), ("voice", "voice", "+15550002", 5),
            ("email", "email", "a@example.com", 0), ("sms-receipt", "sms", "+15550003", 0),
            ("later", "sms", "+15550004", 10))
    ]
    with engine.begin() as conn:
        ids = dict(zip([r["idempotency_key"][2:] for r in rows], store.enqueue(conn, rows),
                       strict=True))
    with Session(engine) as session:
        assert outbox.due_ids(session, T0) == [ids[k] for k in (
            "slack", "sms-retry", "sms-fail", "email", "sms-receipt")]
    policy = DispatchPolicy()

    def claim(key: str) -> Any:
        found = outbox.claim(ids[key], T0, WORKER, policy.lease, config, "https://oncall.test",
                             lambda channel: PROVIDERS[channel])
        assert found is not None
        return found

    def record(key: str, *results: DeliveryResult) -> None:
        claimed = claim(key)
        calls = [Call(r.provider, r, T0, T0 + timedelta(seconds=1), i > 0,
                      claimed.breakers.get(r.provider, Breaker()))
                 for i, r in enumerate(results)]
        outbox.record(ids[key], claimed, calls, policy, lambda: 0.5, T0 + timedelta(seconds=2))

    record("slack", DeliveryResult.sent("slack", "m1", channel="C1", ts="1.2"))
    record("sms-retry", DeliveryResult.failed("twilio_sms", "timed out", retryable=True))
    record("sms-fail", DeliveryResult.failed("twilio_sms", "bad number", retryable=False,
                                             status_code=400))
    record("email", DeliveryResult.sent("smtp", "e1"))
    record("sms-receipt", DeliveryResult.sent("twilio_sms", "SM1"))
    assert outbox.claim(ids["slack"], T0, WORKER, policy.lease, config, "",
                        lambda channel: PROVIDERS[channel]) is None
    with write_session(engine) as session:
        assert store.record_receipt(session, "SM1", "twilio_sms", T0 + timedelta(seconds=3),
                                    failed=None, actor="system:twilio") == ()
        store.cancel_pages(session, incident_id, T0 + timedelta(seconds=4))
    with Session(engine) as session:
        status = session.scalar(select(NotificationRow.status).where(
            NotificationRow.id == ids["later"]))
    assert status == NotificationStatus.CANCELLED


def _snapshot(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """Every column of every row of the four tables, ids numbered by first appearance."""
    seen: dict[tuple[str, object], int] = {}

    def ref(kind: str, value: object) -> object:
        if value is None:
            return None
        return f"<{kind}#{seen.setdefault((kind, value), len(seen))}>"

    refs = {"id": "", "notification_id": "notifications", "incident_id": "incidents",
            "user_id": "users", "contact_method_id": "contact_methods",
            "timer_id": "escalation_timers"}
    out: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for model in (NotificationRow, DeliveryAttemptRow, ProviderCircuitRow, AuditEventRow):
            table: Any = model.__table__
            key = table.primary_key.columns.values()[0]
            rows = conn.execute(select(table).order_by(key)).mappings().all()
            out[table.name] = [
                {c: ref(refs[c] or table.name, v) if c in refs else v for c, v in row.items()}
                for row in rows if table.name != "audit_events" or row["type"].startswith(
                    ("notification.", "provider."))
            ]
    return out


@pytest.mark.postgres
def test_every_hot_operation_leaves_the_same_rows_on_both_databases(
    engines: tuple[Engine, Engine], example_config: ConfigSet
) -> None:
    postgres, sqlite = engines
    for engine in engines:
        _scenario(engine, example_config)
    on_postgres, on_sqlite = _snapshot(postgres), _snapshot(sqlite)
    assert all(on_postgres[t] for t in ("notifications", "delivery_attempts", "audit_events"))
    for table in on_postgres:
        assert on_postgres[table] == on_sqlite[table], table
