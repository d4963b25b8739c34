"""`oncall incident show`: the timeline and the delivery trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from oncall.cli.main import main
from oncall.db.engine import write_session
from oncall.db.models import DeliveryAttemptRow, NotificationRow, UserRow
from oncall.testing.incidents import open_incident

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def seed(engine: Engine) -> int:
    with write_session(engine) as session:
        user = session.scalar(
            select(UserRow).where(UserRow.email == "sofia.alvarez@northwind.example")
        )
        assert user is not None
        incident_id = open_incident(session, service="checkout-api", group_key="cli",
                                    title="Checkout down", priority="P1",
                                    integration="prometheus-prod", now=NOW)
        row = NotificationRow(
            idempotency_key="k",
            incident_id=incident_id,
            user_id=user.id,
            channel="slack",
            address=user.email,
            kind="page",
            status="failed",
            attempt_count=2,
            next_attempt_at=NOW,
            created_at=NOW,
            last_error="HTTP 500: internal_error",
        )
        session.add(row)
        session.flush()
        for n in (1, 2):
            session.add(
                DeliveryAttemptRow(
                    notification_id=row.id,
                    attempt=n,
                    provider="slack",
                    outcome="failed",
                    error="HTTP 500: internal_error",
                    started_at=NOW + timedelta(seconds=n),
                    finished_at=NOW + timedelta(seconds=n, milliseconds=40),
                )
            )
        return incident_id


def test_show_prints_timeline_and_trail(
    applied_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    incident_id = seed(applied_engine)
    url = applied_engine.url.render_as_string(hide_password=False)
    assert main(["incident", "show", str(incident_id), "--database-url", url]) == 0
    out = capsys.readouterr().out
    assert f"#{incident_id} [triggered] P1 Checkout down" in out
    assert "incident.triggered" in out and "integration:prometheus-prod" in out
    assert "page         slack  sofia.alvarez@northwind.example  -> failed" in out
    assert "attempt 2 via slack at 2026-11-25 12:00:02: failed in 40 ms" in out

    assert (
        main(["incident", "show", str(incident_id), "--format", "json", "--database-url", url]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert [a["attempt"] for a in data["deliveries"][0]["attempts"]] == [1, 2]


def test_unknown_incident(applied_engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    url = applied_engine.url.render_as_string(hide_password=False)
    assert main(["incident", "show", "999999", "--database-url", url]) == 1
    assert capsys.readouterr().err.strip() == "oncall: error: incident 999999 does not exist"
