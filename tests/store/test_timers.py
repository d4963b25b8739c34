"""Escalation timers on SQLite and PostgreSQL: schedule, due, claim once, hasten, cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, select

from oncall.db.engine import write_connection
from oncall.db.models import EscalationTimerRow, IncidentRow, ServiceRow
from oncall.store.timers import Timers

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def _incident(conn: Connection) -> int:
    service_id = conn.scalar(select(ServiceRow.id).limit(1))
    assert service_id is not None
    row = {"title": "t", "status": "triggered", "service_id": service_id, "group_key": "g",
           "labels": {}, "escalation_generation": 0, "escalation_cycle": 0,
           "escalation_step": -1, "version": 0, "alert_count": 1, "triggered_at": T0,
           "updated_at": T0}
    return int(conn.execute(IncidentRow.__table__.insert().returning(  # type: ignore[attr-defined]
        IncidentRow.__table__.c.id), row).scalar_one())  # type: ignore[attr-defined]


def _statuses(conn: Connection, incident_id: int) -> list[tuple[int, int, str]]:
    rows = conn.execute(
        select(EscalationTimerRow.cycle, EscalationTimerRow.step, EscalationTimerRow.status)
        .where(EscalationTimerRow.incident_id == incident_id)
        .order_by(EscalationTimerRow.id)
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_schedule_due_and_claim_once(applied_engine: Engine) -> None:
    timers = Timers(applied_engine)
    with write_connection(applied_engine) as conn:
        iid = _incident(conn)
        first = timers.schedule(conn, incident_id=iid, generation=0, cycle=0, step=0,
                                due_at=T0, now=T0)
        later = timers.schedule(conn, incident_id=iid, generation=0, cycle=0, step=1,
                                due_at=T0 + 5 * MIN, now=T0)
        assert timers.due_ids(conn, T0) == [first]
        assert timers.due_ids(conn, T0 + 5 * MIN) == [first, later]
        assert timers.claim(conn, later, T0, "w1") is None  # not due yet
        claimed = timers.claim(conn, first, T0, "w1")
        assert claimed is not None
        assert (claimed.incident_id, claimed.generation, claimed.cycle, claimed.step) == (
            iid, 0, 0, 0)
        assert timers.claim(conn, first, T0, "w2") is None  # runs once
        assert timers.due_ids(conn, T0 + 5 * MIN) == [later]
        timers.cancel(conn, first)
        assert _statuses(conn, iid) == [(0, 0, "cancelled"), (0, 1, "pending")]


def test_hasten_makes_the_next_pending_step_due_now(applied_engine: Engine) -> None:
    timers = Timers(applied_engine)
    with write_connection(applied_engine) as conn:
        iid = _incident(conn)
        timers.schedule(conn, incident_id=iid, generation=0, cycle=0, step=2,
                        due_at=T0 + 9 * MIN, now=T0)
        timers.schedule(conn, incident_id=iid, generation=0, cycle=0, step=1,
                        due_at=T0 + 5 * MIN, now=T0)
        assert timers.hasten(conn, iid, 1, T0) is None  # another generation
        assert timers.hasten(conn, iid, 0, T0 + MIN) == (0, 1)
        due = conn.scalars(
            select(EscalationTimerRow.due_at)
            .where(EscalationTimerRow.incident_id == iid)
            .order_by(EscalationTimerRow.step)
        ).all()
        assert [d.replace(tzinfo=UTC) for d in due] == [T0 + MIN, T0 + 9 * MIN]
        # a timer already overdue keeps its earlier time
        assert timers.hasten(conn, iid, 0, T0 + 3 * MIN) == (0, 1)
        kept = conn.scalar(
            select(EscalationTimerRow.due_at).where(EscalationTimerRow.incident_id == iid,
                                                    EscalationTimerRow.step == 1)
        )
        assert kept is not None and kept.replace(tzinfo=UTC) == T0 + MIN


def test_cancel_pending_stops_only_pending_timers(applied_engine: Engine) -> None:
    timers = Timers(applied_engine)
    with write_connection(applied_engine) as conn:
        iid = _incident(conn)
        ran = timers.schedule(conn, incident_id=iid, generation=0, cycle=0, step=0,
                              due_at=T0, now=T0)
        timers.schedule(conn, incident_id=iid, generation=0, cycle=0, step=1,
                        due_at=T0 + 5 * MIN, now=T0)
        assert timers.claim(conn, ran, T0, "w1") is not None
        timers.cancel_pending(conn, iid, T0 + MIN)
        assert _statuses(conn, iid) == [(0, 0, "done"), (0, 1, "cancelled")]
        assert timers.due_ids(conn, T0 + 60 * MIN) == []
