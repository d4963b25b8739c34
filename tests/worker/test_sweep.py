"""The sweep's batches: steps claimed and run together, their pages claimed, sent side by side
and recorded together, writing row for row what one step at a time writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    DeliveryAttemptRow,
    EscalationTimerRow,
    IncidentRow,
    NotificationRow,
)
from oncall.observability.metrics import PROCESS
from oncall.testing.incidents import open_incident
from oncall.worker import handlers
from oncall.worker.dispatcher import Send

from .conftest import Harness
from .test_dispatcher import _Placeholders

SERVICES = ("checkout-api", "auth-api", "orders-pipeline")


class Tasks:
    def __init__(self) -> None:
        self.timers: list[int] = []

    def notification_due(self, *_args: Any) -> None: ...

    def timer_due(self, timer_id: int, *_args: Any) -> None:
        self.timers.append(timer_id)


@pytest.fixture
def worker(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.setattr(handlers, "_runtime", harness.runtime)
    monkeypatch.setattr(handlers, "_tasks", lambda: Tasks())
    monkeypatch.setattr(handlers, "_send_seconds", {})  # no timings from another test
    yield harness


def _open(h: Harness, service: str, key: str) -> int:
    with write_session(h.engine) as session:
        return open_incident(session, service=service, group_key=key,
                             title=f"{service} is failing", priority="P1",
                             labels={"env": "prod"}, integration="prometheus-prod",
                             now=h.clock())


def _timers(h: Harness, incident_id: int) -> list[int]:
    with h.engine.connect() as conn:
        return list(conn.scalars(select(EscalationTimerRow.id).where(
            EscalationTimerRow.incident_id == incident_id,
            EscalationTimerRow.status == "pending")))


def _everything(h: Harness, incident_id: int) -> list[dict[str, object]]:
    """Every column of every row the incident's first step and its pages left behind:
    the incident, its timers, its outbox rows and their attempts, and every event the worker
    wrote on its timeline."""
    names = _Placeholders(incident_id)
    with h.engine.connect() as conn:
        ids = list(conn.scalars(select(NotificationRow.id).where(
            NotificationRow.incident_id == incident_id).order_by(NotificationRow.id)))
        tables = {
            "incidents": select(IncidentRow.__table__).where(IncidentRow.id == incident_id),
            "escalation_timers": select(EscalationTimerRow.__table__).where(
                EscalationTimerRow.incident_id == incident_id).order_by(EscalationTimerRow.id),
            "notifications": select(NotificationRow.__table__).where(
                NotificationRow.id.in_(ids)).order_by(NotificationRow.id),
            # a batch's sends finish in any order: attempts by the row they belong to
            "delivery_attempts": select(DeliveryAttemptRow.__table__).where(
                DeliveryAttemptRow.notification_id.in_(ids)).order_by(
                DeliveryAttemptRow.notification_id, DeliveryAttemptRow.attempt),
            "audit_events": select(AuditEventRow.__table__).where(  # the worker's, not ingest's
                AuditEventRow.incident_id == incident_id, AuditEventRow.actor.like("system:%"))
            .order_by(AuditEventRow.id),
        }
        out: list[dict[str, object]] = []
        for table, query in tables.items():
            rows = list(conn.execute(query).mappings())
            if table == "audit_events":  # a send's events in the order of their rows, too
                rows.sort(key=lambda row: (str(row["type"]).startswith("notification."),
                                           (row["data"] or {}).get("notification_id", 0)))
            for row in rows:
                out.append({"table": table} | {
                    column: "<group key>" if column == "group_key"
                    else names.value(table, column, value)
                    for column, value in row.items()})
    return out


def test_a_batch_of_steps_writes_row_for_row_what_one_step_at_a_time_writes(
    worker: Harness,
) -> None:
    h = worker
    alone = [_open(h, service, f"alone-{service}") for service in SERVICES]
    for incident in alone:
        for timer_id in _timers(h, incident):
            assert handlers._escalate([timer_id]) == 1
    together = [_open(h, service, f"together-{service}") for service in SERVICES]
    assert handlers._escalate(None) == len(SERVICES)  # one batch: every due step
    for one, other in zip(alone, together, strict=True):
        ours = _everything(h, other)
        assert ours == _everything(h, one)
        assert sum(row["table"] == "delivery_attempts" for row in ours) >= 2  # DM and channel


def test_a_sweep_pages_a_burst_larger_than_a_batch_and_times_each_first_page(
    worker: Harness,
) -> None:
    h = worker

    def first_pages() -> float:
        return sum(PROCESS.get_sample_value("oncall_alert_to_first_page_seconds_count",
                                            {"channel": channel}) or 0.0
                   for channel in ("slack", "email", "sms", "voice", "push"))

    before = first_pages()
    count = handlers.TIMER_BATCH + 5
    incidents = [_open(h, SERVICES[n % 3], f"burst-{n}") for n in range(count)]
    assert handlers.sweep() >= count
    with h.engine.connect() as conn:
        due_now = conn.execute(
            select(NotificationRow.incident_id, NotificationRow.kind, NotificationRow.status)
            .where(NotificationRow.incident_id.in_(incidents),
                   NotificationRow.kind.in_(("page", "channel")),
                   NotificationRow.next_attempt_at <= h.clock())).all()
    assert {incident for incident, kind, _status in due_now if kind == "page"} == set(incidents)
    assert {status for _incident, _kind, status in due_now} == {"sent"}
    first = sum(1 for _incident, kind, _status in due_now if kind == "page")
    assert first_pages() - before == first


def test_a_hanging_provider_holds_up_its_own_channel_only(worker: Harness) -> None:
    """Slack accepts the connection and never answers: the batch's email pages go out at
    once, not after Slack's timeout (2 s here)."""
    h = worker
    h.slack.hang()
    incidents = [_open(h, service, f"hang-{service}") for service in SERVICES]
    wanted = len(incidents)  # each incident's first step pages one person by email
    mailed: list[float] = []
    started = time.monotonic()
    runner = threading.Thread(target=handlers._escalate, args=(None,))
    runner.start()
    while time.monotonic() - started < 10 and len(h.smtp.mails) < wanted:
        time.sleep(0.01)
    mailed.append(time.monotonic() - started)
    runner.join(30)
    h.slack.recover()
    assert len(h.smtp.mails) >= wanted
    assert mailed[0] < 1.5, f"email waited {mailed[0]:.2f} s behind the hanging Slack"
    with h.engine.connect() as conn:
        slack = conn.execute(select(NotificationRow.status, NotificationRow.last_error).where(
            NotificationRow.incident_id.in_(incidents),
            NotificationRow.channel == "slack")).all()
    assert slack and all(status == "pending" for status, _error in slack)  # retried later


def _slack_posts(h: Harness, incidents: list[int]) -> int:
    with h.engine.connect() as conn:
        return len(conn.execute(select(NotificationRow.id).where(
            NotificationRow.incident_id.in_(incidents), NotificationRow.channel == "slack",
            NotificationRow.status == "sent")).all())


BURST = 8
"""Incidents per service of a burst: 24 in all, each with Slack pages and posts."""
SLOW = 0.2
"""Seconds the Slack peer takes to answer, as Slack across the internet might."""


@pytest.mark.parametrize("timed", ["untimed", "fast-until-now"])
def test_a_slow_provider_s_pages_of_a_burst_go_out_side_by_side(
    worker: Harness, timed: str
) -> None:
    """24 incidents' Slack sends (44 or more) against a provider taking 0.2 s a call: one
    after another they would take 9 s or more; side by side the batch is done within a few.
    Also when the channel's calls had been fast, so that the batch was dealt to one thread:
    that thread deals out what it has not started once it falls behind."""
    h = worker
    if timed == "fast-until-now":
        handlers._send_seconds["slack"] = 0.001
    h.slack.slow(SLOW)
    incidents = [_open(h, service, f"slow-{service}-{n}")
                 for service in SERVICES for n in range(BURST)]
    started = time.monotonic()
    assert handlers._escalate(None) == len(incidents)
    took = time.monotonic() - started
    sent = _slack_posts(h, incidents)
    assert sent >= len(incidents)  # every incident's Slack sends went out and were recorded
    assert took < 20 * SLOW, f"{sent} Slack sends took {took:.1f} s"


def _sends(*rows: tuple[str, str, int]) -> list[Send]:
    return [Send(channel, (address, incident), lambda: []) for channel, address, incident in rows]


@pytest.mark.parametrize(
    ("timings", "rows", "dealt"),
    [
        pytest.param({"slack": 0.001}, [("slack", "U1", 1), ("slack", "#ops", 1),
                                        ("slack", "U1", 2)],
                     [("slack", [[0], [1], [2]])], id="fast-provider-one-thread"),
        pytest.param({"slack": 0.2}, [("slack", "U1", 1), ("slack", "#ops", 1),
                                      ("slack", "U1", 2)],
                     [("slack", [[0]]), ("slack", [[1]]), ("slack", [[2]])],
                     id="slow-provider-a-thread-each"),
        pytest.param({}, [("slack", "U1", 1), ("slack", "U2", 2)],
                     [("slack", [[0]]), ("slack", [[1]])], id="untimed-taken-as-slow"),
        pytest.param({"slack": 0.2}, [("slack", "#ops", 7), ("slack", "U1", 7),
                                      ("slack", "#ops", 7)],
                     [("slack", [[0, 2]]), ("slack", [[1]])], id="post-then-update-in-turn"),
        pytest.param({"slack": 0.02, "email": 0.001},
                     [("slack", "U1", 1), ("email", "a@x", 1), ("slack", "U2", 2),
                      ("slack", "U3", 3), ("email", "b@x", 2)],
                     [("slack", [[0], [2]]), ("email", [[1], [4]]), ("slack", [[3]])],
                     id="each-channel-its-own-threads"),
    ],
)
def test_a_batch_is_dealt_to_threads_by_how_long_its_channel_s_calls_take(
    monkeypatch: pytest.MonkeyPatch, timings: dict[str, float],
    rows: list[tuple[str, str, int]], dealt: list[tuple[str, list[list[int]]]],
) -> None:
    monkeypatch.setattr(handlers, "_send_seconds", dict(timings))
    assert handlers._dealt(_sends(*rows)) == dealt


def test_due_steps_mail_and_hooks_are_looked_for_once_an_interval_not_on_every_kick(
    worker: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A burst of alerts kicks a sweep every 50 ms from each API process; the steps lane's due
    rows (retries, waits, mail, hooks) are looked for by the first of them and then at the
    chore's interval, while every kick still sends the due pages."""
    looked: list[float] = []

    def due_background() -> list[int]:
        looked.append(time.monotonic())
        return []

    chore = handlers._hand_out_background
    monkeypatch.setattr(chore, "at", None)
    monkeypatch.setattr(chore, "seconds", 60.0)  # however slow this machine's sweeps are
    monkeypatch.setattr(worker.runtime, "due_background", due_background)
    incidents = [_open(worker, SERVICES[n % 3], f"kick-{n}") for n in range(5)]
    for _ in range(5):
        handlers.sweep()
    assert len(looked) == 1
    with worker.engine.connect() as conn:  # the kicks' sweeps paged every incident
        paged = set(conn.scalars(select(NotificationRow.incident_id).where(
            NotificationRow.incident_id.in_(incidents), NotificationRow.kind == "page",
            NotificationRow.status == "sent")))
    assert paged == set(incidents)
    monkeypatch.setattr(chore, "at", time.monotonic() - chore.seconds)  # the interval is over
    handlers.sweep()
    assert len(looked) == 2
