"""Sending the outbox through real SDKs to local peers: delivery, retries, failover, updates."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    ContactMethodRow,
    DeliveryAttemptRow,
    NotificationRow,
    NotificationRuleRow,
    UserRow,
)
from oncall.incidents import service
from oncall.incidents.actors import Actor

from .conftest import Harness  # type: ignore[import-not-found]


def outbox(h: Harness, incident_id: int) -> list[tuple[str, str, str, str]]:
    with Session(h.engine) as session:
        rows = session.scalars(
            select(NotificationRow)
            .where(NotificationRow.incident_id == incident_id)
            .order_by(NotificationRow.id)
        )
        return [(r.kind, r.channel, r.address, r.status) for r in rows]


def test_first_page_reaches_slack_and_email(harness: Harness) -> None:
    h = harness
    incident_id = h.open_incident()
    primary = h.on_call("payments-primary")
    h.run_due()
    assert sorted(outbox(h, incident_id)) == sorted(
        [
            ("page", "email", primary, "sent"),
            ("page", "slack", primary, "sent"),
            ("channel", "slack", "#payments-oncall", "sent"),
        ]
    )
    posts = h.slack.calls("chat.postMessage")
    assert {p["channel"] for p in posts} >= {"#payments-oncall"}
    assert any("Checkout p99 above 2s" in str(p.get("text")) for p in posts)
    [mail] = h.smtp.mails
    assert mail.message["To"] == primary
    assert "https://oncall.example/ack/" in mail.part("html")


def test_acknowledge_updates_the_slack_messages(harness: Harness) -> None:
    h = harness
    incident_id = h.open_incident()
    h.run_due()
    priya = Actor("user", "priya.raman@northwind.example", {"payments": "admin"})
    with write_session(h.engine) as session:
        service.acknowledge(session, incident_id, priya, h.clock())
    h.run_due()
    updates = h.slack.calls("chat.update")
    assert len(updates) == 2  # the DM and the channel post
    assert all("Acknowledged" in str(u.get("text")) for u in updates)
    with Session(h.engine) as session:
        rows = session.scalars(select(NotificationRow).where(
            NotificationRow.incident_id == incident_id, NotificationRow.channel == "slack")).all()
    posted = {(r.provider_data or {}).get("channel"): (r.provider_data or {}).get("ts")
              for r in rows if r.kind in ("page", "channel")}
    assert len(posted) == 2 and None not in posted.values()
    # each update edits the message it belongs to, and Slack took it
    assert {u["channel"]: u["ts"] for u in updates} == posted
    assert sorted(r.status for r in rows if r.kind == "update") == ["sent", "sent"]
    # nothing is sent twice: a second sweep finds nothing due
    before = len(h.slack.requests)
    h.run_due()
    assert len(h.slack.requests) == before


def test_slack_outage_retries_then_moves_to_the_next_channel(harness: Harness) -> None:
    h = harness
    primary = h.on_call("payments-primary")
    with write_session(h.engine) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == primary))
        assert user is not None
        slack = ContactMethodRow(user_id=user.id, type="slack", address=primary,
                                 verified_at=h.clock(), created_at=h.clock())
        email = ContactMethodRow(user_id=user.id, type="email", address=primary,
                                 verified_at=h.clock(), created_at=h.clock())
        session.add_all([slack, email])
        session.flush()
        session.add_all([
            NotificationRuleRow(user_id=user.id, contact_method_id=slack.id, urgency="high",
                                delay_seconds=0, created_at=h.clock()),
            NotificationRuleRow(user_id=user.id, contact_method_id=email.id, urgency="high",
                                delay_seconds=600, created_at=h.clock()),
        ])
    h.slack.fail(500)
    incident_id = h.open_incident("payments-db")
    h.run_due()
    for _ in range(3):  # let the retries fall due
        h.clock.advance(timedelta(seconds=5))
        h.run_due()
    rows = outbox(h, incident_id)
    assert ("page", "slack", primary, "failed") in rows
    assert ("page", "email", primary, "sent") in rows  # sent well before its 10 minutes
    assert len(h.smtp.mails) == 1
    with Session(h.engine) as session:
        attempts = session.scalars(
            select(DeliveryAttemptRow.outcome)
            .join(NotificationRow, NotificationRow.id == DeliveryAttemptRow.notification_id)
            .where(NotificationRow.channel == "slack", NotificationRow.kind == "page")
        ).all()
        assert attempts == ["failed", "failed", "failed"]
        events = session.execute(
            select(AuditEventRow.type, AuditEventRow.data).where(
                AuditEventRow.incident_id == incident_id
            )
        ).all()
        page = [t for t, d in events if d and d.get("kind") == "page" and d["channel"] == "slack"]
        assert page.count("notification.retry") == 2
        assert page.count("notification.failed") == 1


def test_slack_timeout_is_a_retryable_failure(harness: Harness) -> None:
    h = harness
    h.slack.hang()
    incident_id = h.open_incident("payments-db")
    h.run_due()
    rows = dict(((c, s) for _, c, _, s in outbox(h, incident_id)))
    assert rows["slack"] == "pending"  # waiting for its retry
    assert rows["email"] == "sent"
    h.slack.recover()
    h.clock.advance(timedelta(seconds=5))
    h.run_due()
    assert dict(((c, s) for _, c, _, s in outbox(h, incident_id)))["slack"] == "sent"


_RECORDED_TABLES = ("notifications", "delivery_attempts", "audit_events")
_MADE_PER_SEND = re.compile(
    r"\d{10}\.\d{6}"  # a Slack message timestamp
    r"|<[^<>@\s]+@[^<>\s]+>"  # an email Message-ID
)


class _Placeholders:
    """Stand-ins for what differs between two incidents by construction (row ids, the
    incident's id, ids providers make per send), numbered by first appearance: two snapshots
    compare equal only if they share every other value and the same pattern of references."""

    def __init__(self, incident_id: int) -> None:
        self.incident_id = incident_id
        self.seen: dict[tuple[str, object], str] = {}

    def _name(self, kind: str, value: object) -> str:
        key = (kind, value)
        if key not in self.seen:
            self.seen[key] = f"<{kind}#{sum(1 for k, _ in self.seen if k == kind) + 1}>"
        return self.seen[key]

    def text(self, column: str, value: str) -> str:
        if column == "subject_name" and value == str(self.incident_id):
            return "<incident>"
        if column == "idempotency_key":
            value = value.replace(f":{self.incident_id}:", ":<incident>:")
        return _MADE_PER_SEND.sub(lambda m: self._name("made", m.group(0)), value)

    def value(self, table: str, column: str, value: object) -> object:
        if value is None or isinstance(value, bool):
            return value
        if column == "incident_id":
            return "<incident>" if value == self.incident_id else value
        if column == "id":
            return self._name(table, value)
        if column == "notification_id":
            return self._name("notifications", value)
        if column in ("timer_id", "user_id", "contact_method_id"):
            return self._name(column, value)
        if isinstance(value, str):
            return self.text(column, value)
        if isinstance(value, dict):
            return {k: self.value(table, k, v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return [self.value(table, column, v) for v in value]
        return value


def _recorded(h: Harness, incident_id: int) -> list[dict[str, object]]:
    """Every column of every row that sending leaves behind (the incident's outbox rows,
    their attempts and its notification events), with only construction-made differences
    replaced (see _Placeholders); times are kept, since the harness clock stands still."""
    names = _Placeholders(incident_id)
    with h.engine.connect() as conn:
        ids = [r.id for r in conn.execute(
            select(NotificationRow.id).where(NotificationRow.incident_id == incident_id)
            .order_by(NotificationRow.id))]
        rows = {
            "notifications": conn.execute(
                select(NotificationRow.__table__).where(NotificationRow.id.in_(ids))
                .order_by(NotificationRow.id)).mappings().all(),
            "delivery_attempts": conn.execute(
                select(DeliveryAttemptRow.__table__)
                .where(DeliveryAttemptRow.notification_id.in_(ids))
                .order_by(DeliveryAttemptRow.id)).mappings().all(),
            "audit_events": conn.execute(
                select(AuditEventRow.__table__).where(
                    AuditEventRow.incident_id == incident_id,
                    AuditEventRow.type.like("notification.%")).order_by(AuditEventRow.id)
            ).mappings().all(),
        }
    out: list[dict[str, object]] = []
    for table in _RECORDED_TABLES:
        for row in rows[table]:
            out.append({"table": table} | {
                column: names.value(table, column, value) for column, value in row.items()})
    assert out, "sending left nothing behind"
    return out


def test_a_plain_send_records_what_the_general_outcome_step_records(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import oncall.store.outbox as outbox_store

    h = harness
    lean = h.open_incident()
    h.run_due()
    lean_rows = _recorded(h, lean)
    with write_session(h.engine) as session:
        service.resolve(session, lean, Actor.integration("prometheus-prod"), h.clock())

    monkeypatch.setattr(outbox_store, "plainly_sent", lambda *_args: False)
    general = h.open_incident()
    assert general != lean
    h.run_due()

    assert [r for r in lean_rows if r["table"] == "notifications" and r["status"] == "sent"]
    assert lean_rows == _recorded(h, general)
