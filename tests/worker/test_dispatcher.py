"""Sending the outbox through real SDKs to local peers: delivery, retries, failover, updates."""

from __future__ import annotations

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


def _recorded(h: Harness, incident_id: int) -> list[tuple[object, ...]]:
    """What sending leaves behind, less ids and times: outbox rows, attempts, audit events."""
    with Session(h.engine) as session:
        rows = session.scalars(select(NotificationRow).where(
            NotificationRow.incident_id == incident_id).order_by(NotificationRow.id)).all()
        out: list[tuple[object, ...]] = [
            ("notification", r.kind, r.channel, r.address, r.status, r.provider,
             r.attempt_count, r.last_error, sorted(r.provider_data or {}),
             r.sent_at is not None) for r in rows]
        for r in rows:
            out += [("attempt", r.channel, a.attempt, a.provider, a.outcome, a.error,
                     a.response_status, a.provider_message_id is not None)
                    for a in session.scalars(select(DeliveryAttemptRow).where(
                        DeliveryAttemptRow.notification_id == r.id))]
        out += [("event", e.type, e.actor, e.subject_kind,
                 sorted((k, v) for k, v in (e.data or {}).items() if k != "notification_id"))
                for e in session.scalars(select(AuditEventRow).where(
                    AuditEventRow.incident_id == incident_id,
                    AuditEventRow.type.like("notification.%")))]
    return sorted(out, key=repr)


def test_a_plain_send_records_what_the_general_outcome_step_records(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import oncall.worker.dispatcher as dispatcher

    h = harness
    lean = h.open_incident()
    h.run_due()
    lean_rows = _recorded(h, lean)
    with write_session(h.engine) as session:
        service.resolve(session, lean, Actor.integration("prometheus-prod"), h.clock())

    monkeypatch.setattr(dispatcher, "_plainly_sent", lambda *_args: False)
    general = h.open_incident()
    assert general != lean
    h.run_due()

    assert [r for r in lean_rows if r[0] == "notification" and r[4] == "sent"]
    assert lean_rows == _recorded(h, general)
