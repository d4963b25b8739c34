"""Escalation steps against the database (SQLite and PostgreSQL): each step runs once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.notification_rules import Channel
from oncall.core.schedule import who_at
from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    EscalationTimerRow,
    IncidentRow,
    NotificationRow,
    UserRow,
)
from oncall.incidents import service
from oncall.incidents.actors import Actor
from oncall.schedules_service import create_override
from oncall.testing import incidents
from oncall.worker.escalator import StepResult, due_timer_ids, run_timer

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
ENABLED = {Channel.EMAIL, Channel.SLACK}
PRIYA = Actor("user", "priya.raman@northwind.example", {"payments": "admin"})


def open_incident(engine: Engine) -> int:
    with write_session(engine) as session:
        return incidents.open_incident(session, service="checkout-api", group_key="k",
                                       title="Checkout down", priority="P1",
                                       integration="prometheus-prod", now=T0)


def tick(engine: Engine, config: ConfigSet, now: datetime) -> list[StepResult]:
    results = []
    with Session(engine) as session:
        ids = due_timer_ids(session, now)
    for timer_id in ids:
        with write_session(engine) as session:
            results.append(
                run_timer(session, timer_id, now, config=config, enabled=ENABLED, worker="t")
            )
    return results


def paged(engine: Engine, incident_id: int) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.scalars(
            select(NotificationRow)
            .where(NotificationRow.incident_id == incident_id, NotificationRow.kind == "page")
            .order_by(NotificationRow.id)
        )
        return [(r.address, r.channel) for r in rows]


def test_steps_run_in_order_once_each(applied_engine: Engine, example_config: ConfigSet) -> None:
    incident_id = open_incident(applied_engine)
    primary = who_at(example_config.schedules["payments-primary"], T0)
    secondary = who_at(example_config.schedules["payments-secondary"], T0 + 5 * MIN)

    [first] = tick(applied_engine, example_config, T0)
    assert first.ran and first.next_timer is not None
    assert first.next_timer[1] == T0 + 5 * MIN
    assert paged(applied_engine, incident_id) == [(primary, "email"), (primary, "slack")]
    # the channel post goes to the service's Slack channel too
    assert tick(applied_engine, example_config, T0 + 4 * MIN) == []  # nothing due yet

    [second] = tick(applied_engine, example_config, T0 + 5 * MIN)
    assert second.ran
    users = {a for a, _ in paged(applied_engine, incident_id)}
    assert users == {primary, secondary, "priya.raman@northwind.example"}

    with Session(applied_engine) as session:
        incident = session.get(IncidentRow, incident_id)
        assert incident is not None
        assert (incident.escalation_cycle, incident.escalation_step) == (0, 1)
        steps = session.scalars(
            select(AuditEventRow.data).where(
                AuditEventRow.incident_id == incident_id,
                AuditEventRow.type == "incident.escalated",
            )
        ).all()
        assert [d["step"] for d in steps if d] == [0, 1]


def test_replayed_timer_does_nothing(applied_engine: Engine, example_config: ConfigSet) -> None:
    open_incident(applied_engine)
    with Session(applied_engine) as session:
        [timer_id] = due_timer_ids(session, T0)
    with write_session(applied_engine) as session:
        assert run_timer(
            session, timer_id, T0, config=example_config, enabled=ENABLED, worker="a"
        ).ran
    with write_session(applied_engine) as session:
        again = run_timer(session, timer_id, T0, config=example_config, enabled=ENABLED, worker="b")
        assert not again.ran


def test_two_workers_race_for_one_timer(applied_engine: Engine, example_config: ConfigSet) -> None:
    incident_id = open_incident(applied_engine)
    with Session(applied_engine) as session:
        [timer_id] = due_timer_ids(session, T0)
    ran: list[bool] = []
    barrier = threading.Barrier(4)

    def worker(name: str) -> None:
        barrier.wait()
        with write_session(applied_engine) as session:
            ran.append(
                run_timer(
                    session, timer_id, T0, config=example_config, enabled=ENABLED, worker=name
                ).ran
            )

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(ran) == [False, False, False, True]
    assert len(paged(applied_engine, incident_id)) == 2


def test_acknowledge_cancels_the_next_step(
    applied_engine: Engine, example_config: ConfigSet
) -> None:
    incident_id = open_incident(applied_engine)
    tick(applied_engine, example_config, T0)
    with write_session(applied_engine) as session:
        service.acknowledge(session, incident_id, PRIYA, T0 + MIN)
    assert tick(applied_engine, example_config, T0 + 10 * MIN) == []
    with Session(applied_engine) as session:
        statuses = session.scalars(
            select(NotificationRow.status).where(
                NotificationRow.incident_id == incident_id, NotificationRow.kind == "page"
            )
        ).all()
        assert set(statuses) == {"cancelled"}  # pages not sent yet are called off


def test_policy_repeats_then_exhausts(applied_engine: Engine, example_config: ConfigSet) -> None:
    incident_id = open_incident(applied_engine)
    # payments: 3 steps (5m, 10m, 15m) and repeat 2: 9 steps over 90 minutes, then exhausted
    now = T0
    runs = 0
    for _ in range(20):
        results = tick(applied_engine, example_config, now)
        runs += sum(r.ran for r in results)
        nxt = [r.next_timer for r in results if r.next_timer]
        if not nxt:
            break
        now = nxt[0][1]
    assert runs == 10  # 9 steps plus the final timeout that records the exhaustion
    with Session(applied_engine) as session:
        types = session.scalars(
            select(AuditEventRow.type).where(AuditEventRow.incident_id == incident_id)
        ).all()
        assert types.count("incident.escalated") == 9
        assert types[-1] == "escalation.exhausted"
        pending = session.scalars(
            select(EscalationTimerRow).where(EscalationTimerRow.status == "pending")
        ).all()
        assert pending == []


def test_reassign_pages_the_assignee_then_restarts(
    applied_engine: Engine, example_config: ConfigSet
) -> None:
    incident_id = open_incident(applied_engine)
    tick(applied_engine, example_config, T0)
    with write_session(applied_engine) as session:
        service.reassign(
            session, incident_id, PRIYA, "marcus.bell@northwind.example", T0 + MIN, policy_steps=3
        )
    [assignee] = tick(applied_engine, example_config, T0 + MIN)
    assert assignee.ran and assignee.next_timer is not None
    assert assignee.next_timer[1] == T0 + 6 * MIN  # step 0's timeout
    assert ("marcus.bell@northwind.example", "email") in paged(applied_engine, incident_id)
    [restart] = tick(applied_engine, example_config, T0 + 6 * MIN)
    assert restart.ran
    with Session(applied_engine) as session:
        incident = session.get(IncidentRow, incident_id)
        assert incident is not None
        assert (incident.escalation_generation, incident.escalation_cycle) == (1, 0)
        assert incident.escalation_step == 0


def test_an_override_made_in_the_app_is_who_the_step_pages(
    applied_engine: Engine, example_config: ConfigSet
) -> None:
    holder = who_at(example_config.schedules["payments-primary"], T0)
    members = {m for layer in example_config.schedules["payments-primary"].layers
               for m in layer.members}
    cover = sorted(members - {holder})[0]
    with write_session(applied_engine) as session:
        create_override(session, example_config, PRIYA, schedule_name="payments-primary",
                        who=cover, start=T0 - MIN, end=T0 + 60 * MIN, reason="swap",
                        now=T0 - 2 * MIN)
    incident_id = open_incident(applied_engine)
    tick(applied_engine, example_config, T0)
    assert paged(applied_engine, incident_id) == [(cover, "email"), (cover, "slack")]


def test_a_disabled_person_is_not_paged_and_the_timeline_says_so(
    applied_engine: Engine, example_config: ConfigSet
) -> None:
    with write_session(applied_engine) as session:
        priya = session.scalar(select(UserRow).where(UserRow.email == PRIYA.name))
        assert priya is not None
        priya.disabled_at = T0 - MIN
    incident_id = open_incident(applied_engine)
    tick(applied_engine, example_config, T0)
    tick(applied_engine, example_config, T0 + 5 * MIN)  # step 2 names priya directly
    assert PRIYA.name not in {a for a, _ in paged(applied_engine, incident_id)}
    with Session(applied_engine) as session:
        escalated = session.scalars(
            select(AuditEventRow.data).where(
                AuditEventRow.incident_id == incident_id,
                AuditEventRow.type == "incident.escalated",
            ).order_by(AuditEventRow.id)
        ).all()
    assert escalated[-1] is not None and PRIYA.name not in escalated[-1]["users"]
    assert f"user:{PRIYA.name}" in escalated[-1]["targets"]
