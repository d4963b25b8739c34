"""The delivery health read: recorded calls joined to their channel, walked newest first in
pages, stopping at the window's start or at the cap; on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.db.engine import write_session
from oncall.db.models import DeliveryAttemptRow, NotificationRow, ProviderCircuitRow
from oncall.observability import delivery

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def seed(engine: Engine, calls: list[tuple[str, str, str, int, timedelta]],
         circuits: dict[str, str] | None = None, now: datetime = NOW) -> None:
    """(channel, provider, outcome, attempt, ago before `now`) per call, each its own
    notification."""
    with write_session(engine) as session:
        for i, (channel, provider, outcome, attempt, ago) in enumerate(calls):
            row = NotificationRow(idempotency_key=f"health-{i}", channel=channel,
                                  address="x", kind="page", status="sent",
                                  next_attempt_at=now - ago, created_at=now - ago)
            session.add(row)
            session.flush()
            session.add(DeliveryAttemptRow(
                notification_id=row.id, attempt=attempt, provider=provider, outcome=outcome,
                started_at=now - ago, finished_at=now - ago + timedelta(milliseconds=300)))
        for provider, circuit in (circuits or {}).items():
            session.add(ProviderCircuitRow(provider=provider, circuit=circuit, failures=5,
                                           opened_at=now, updated_at=now))


def test_the_windows_of_recorded_calls(migrated_engine: Engine) -> None:
    seed(migrated_engine, [
        ("sms", "twilio_sms", "sent", 1, timedelta(minutes=10)),
        ("sms", "twilio_sms", "failed", 1, timedelta(minutes=20)),
        ("sms", "sns", "sent", 2, timedelta(minutes=20)),
        ("email", "smtp", "sent", 1, timedelta(hours=5)),
        ("email", "smtp", "sent", 1, timedelta(days=3)),
    ], {"twilio_sms": "open", "slack": "closed"})
    with Session(migrated_engine) as session:
        report = delivery.read(session, NOW)
    hour, day = report.windows["1h"], report.windows["24h"]
    assert not report.truncated
    assert [(r.channel, r.provider, r.attempts, r.sent, r.retries) for r in hour.rows] == [
        ("sms", "twilio_sms", 2, 1, 0), ("sms", "sns", 1, 1, 1)]
    assert hour.open_circuits == ("twilio_sms",)
    assert [(r.channel, r.provider, r.attempts) for r in day.rows] == [
        ("sms", "twilio_sms", 2), ("email", "smtp", 1), ("sms", "sns", 1)]
    assert day.rows[1].p50_seconds == pytest.approx(0.3)


def test_the_walk_stops_before_the_window_and_at_the_cap(
    migrated_engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "PAGE", 3)
    old = [("push", "webpush", "sent", 1, timedelta(days=2))] * 7
    new = [("push", "webpush", "sent", 1, timedelta(minutes=m)) for m in range(5, 0, -1)]
    seed(migrated_engine, [*old, *new])
    statements: list[int] = []
    with Session(migrated_engine) as session:
        real = session.execute

        def counted(*args: object, **kwargs: object) -> object:
            statements.append(1)
            return real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(session, "execute", counted)
        found, truncated = delivery.attempts_since(session, NOW - timedelta(hours=1))
        assert (len(found), truncated) == (5, False)
        assert len(statements) == 3  # two pages reach back to the old calls; no more read
        capped, truncated = delivery.attempts_since(session, NOW - timedelta(hours=1), limit=4)
    assert (len(capped), truncated) == (4, True)
    assert [a.started_at for a in found] == sorted((a.started_at for a in found), reverse=True)
