"""Reminders of overdue action items on SQLite and PostgreSQL: one per item per day through the
outbox whatever the clock and however many workers, in Slack when the owner has a Slack
contact method else by email, sent by the dispatcher through the real providers to the local
peers, and run from the worker's sweep at most once a minute."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.engine import write_connection, write_session
from oncall.db.models import AuditEventRow, ContactMethodRow, NotificationRow, UserRow
from oncall.incidents.actors import Actor
from oncall.notify.settings import ProviderSettings
from oncall.postmortems import reminders, service
from oncall.settings import Settings
from oncall.testing.incidents import open_incident
from oncall.testing.peers import SlackPeer
from oncall.testing.peers.smtp import SmtpPeer
from oncall.worker import handlers
from oncall.worker.dispatcher import DispatchPolicy
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PUBLIC = "https://oncall.example"
PRIYA = Actor("user", "priya.raman@northwind.example", {"payments": "admin"}, via="web")
MARCUS = "marcus.bell@northwind.example"
SOFIA = "sofia.alvarez@northwind.example"


def _postmortem(engine: Engine, config: ConfigSet) -> int:
    with write_session(engine) as session:
        incident = open_incident(session, service="checkout-api", title="Checkout errors",
                                 now=T0 - timedelta(days=10), page=False)
        session.flush()
        return service.open_postmortem(session.connection(), config, PRIYA, [incident],
                                       T0 - timedelta(days=9)).id


def _item(engine: Engine, pm_id: int, owner: str, due_days_ago: int,
          title: str = "Alert on card declines") -> int:
    with write_connection(engine) as conn:
        return service.add_item(conn, PRIYA, pm_id, T0 - timedelta(days=9), title=title,
                                owner=owner, due_on=(T0 - timedelta(days=due_days_ago)).date())


def _remind(engine: Engine, now: datetime) -> int:
    with write_connection(engine) as conn:
        return reminders.remind_overdue(conn, now, PUBLIC)


def _rows(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.execute(select(NotificationRow.idempotency_key, NotificationRow.kind,
                                      NotificationRow.channel, NotificationRow.address)
                               .order_by(NotificationRow.id))
        return [tuple(r) for r in rows]


def _slack_contact(engine: Engine, email: str, address: str) -> None:
    with write_session(engine) as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == email))
        assert user_id is not None
        session.add(ContactMethodRow(user_id=user_id, type="slack", address=address,
                                     verified_at=T0, verification_attempts=0, created_at=T0))


def test_an_overdue_item_reminds_its_owner_once_a_day(applied_engine: Engine,
                                                      example_config: ConfigSet) -> None:
    pm = _postmortem(applied_engine, example_config)
    item = _item(applied_engine, pm, MARCUS, due_days_ago=1)
    _item(applied_engine, pm, MARCUS, due_days_ago=0, title="Due today: not late yet")
    done = _item(applied_engine, pm, SOFIA, due_days_ago=3, title="Done already")
    with write_connection(applied_engine) as conn:
        service.update_item(conn, PRIYA, done, T0 - timedelta(days=2), status="done")
    day1 = f"action-item:{item}:{T0.date().isoformat()}"

    assert _remind(applied_engine, T0) == 1
    assert _rows(applied_engine) == [(day1, "mail", "email", MARCUS)]
    assert _remind(applied_engine, T0 + timedelta(hours=8)) == 0  # the same day: nothing more
    assert _rows(applied_engine) == [(day1, "mail", "email", MARCUS)]

    tomorrow = T0 + timedelta(days=1, hours=-8)
    assert _remind(applied_engine, tomorrow) == 2  # the second item is late now too
    keys = [row[0] for row in _rows(applied_engine)]
    assert keys[:2] == [day1, f"action-item:{item}:{tomorrow.date().isoformat()}"]

    with write_connection(applied_engine) as conn:
        service.update_item(conn, PRIYA, item, tomorrow, status="done")
    assert _remind(applied_engine, T0 + timedelta(days=2)) == 1  # only the other one
    assert sum(k.startswith(f"action-item:{item}:") for k, *_ in _rows(applied_engine)) == 2
    with Session(applied_engine) as session:
        events = session.scalars(select(AuditEventRow.data).where(
            AuditEventRow.type == "postmortem.action_item_reminded",
            AuditEventRow.subject_name == str(pm)).order_by(AuditEventRow.id)).all()
    assert [e["item"] for e in events] == [item, item, item + 1, item + 1]
    assert events[0] == {"item": item, "owner": MARCUS, "channel": "email"}


def test_two_workers_at_once_queue_one_reminder(applied_engine: Engine,
                                                example_config: ConfigSet) -> None:
    pm = _postmortem(applied_engine, example_config)
    _item(applied_engine, pm, MARCUS, due_days_ago=2)
    start = threading.Barrier(4)
    counts: list[int] = []

    def worker() -> None:
        start.wait()
        counts.append(_remind(applied_engine, T0))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(counts) == [0, 0, 0, 1]
    assert len(_rows(applied_engine)) == 1


def test_an_owner_with_slack_is_reminded_in_slack(applied_engine: Engine,
                                                  example_config: ConfigSet) -> None:
    pm = _postmortem(applied_engine, example_config)
    _slack_contact(applied_engine, SOFIA, SOFIA)
    on_slack = _item(applied_engine, pm, SOFIA, due_days_ago=1)
    by_mail = _item(applied_engine, pm, MARCUS, due_days_ago=1)
    assert _remind(applied_engine, T0) == 2
    day = T0.date().isoformat()
    assert sorted(_rows(applied_engine)) == sorted([
        (f"action-item:{on_slack}:{day}", "mail", "slack", SOFIA),
        (f"action-item:{by_mail}:{day}", "mail", "email", MARCUS)])


@dataclass
class Worker:
    runtime: Runtime
    slack: SlackPeer
    smtp: SmtpPeer

    def run_due(self) -> None:
        for notification_id in self.runtime.due_notifications():
            self.runtime.dispatch(notification_id)


@pytest.fixture
def worker(applied_engine: Engine, example_config: ConfigSet) -> Iterator[Worker]:
    users = {u: f"U{i:04d}" for i, u in enumerate(sorted(example_config.users))}
    with SlackPeer(users=users) as slack, SmtpPeer() as smtp:
        env = {**slack.env(), **smtp.env(), "ONCALL_SLACK_TIMEOUT": "2",
               "ONCALL_PUBLIC_URL": PUBLIC}
        providers = ProviderSettings.from_env(env)
        runtime = Runtime(settings=Settings(database_url=str(applied_engine.url)),
                          providers=providers, engine=applied_engine,
                          chains=build_chains(providers), worker_id="test-worker",
                          clock=lambda: T0, policy=DispatchPolicy())
        yield Worker(runtime, slack, smtp)


def test_the_dispatcher_sends_a_slack_reminder_as_a_dm_and_an_email_one_by_mail(
        applied_engine: Engine, example_config: ConfigSet, worker: Worker) -> None:
    pm = _postmortem(applied_engine, example_config)
    _slack_contact(applied_engine, SOFIA, SOFIA)
    _item(applied_engine, pm, SOFIA, due_days_ago=3, title="Add a canary")
    _item(applied_engine, pm, MARCUS, due_days_ago=1, title="Alert on card declines")
    assert worker.runtime.remind_overdue() == 2
    worker.run_due()
    (lookup,) = worker.slack.calls("users.lookupByEmail")
    assert lookup["email"] == SOFIA
    (posted,) = worker.slack.calls("chat.postMessage")
    (opened,) = worker.slack.calls("conversations.open")
    assert str(posted["channel"]).startswith("D") and opened["users"] == worker.slack.users[SOFIA]
    assert posted["text"].startswith("Overdue action item: Add a canary\n\n")
    assert "was due on 2026-11-22, 3 days ago" in posted["text"]
    assert f"{PUBLIC}/postmortems/{pm}" in posted["text"]
    (mail,) = worker.smtp.mails
    assert mail.message["To"] == MARCUS
    assert mail.message["Subject"] == "Overdue action item: Alert on card declines"
    with Session(applied_engine) as session:
        statuses = set(session.scalars(select(NotificationRow.status)))
    assert statuses == {"sent"}


def test_the_sweep_reminds_at_most_once_a_minute_and_wakes_the_dispatcher(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class FakeContext:
        def wake(self) -> None:
            calls.append("wake")

    class FakeRuntime:
        ctx = FakeContext()
        queued = 2

        def remind_overdue(self) -> int:
            calls.append("remind")
            return self.queued

    clock = [1000.0]
    monkeypatch.setattr(handlers, "monotonic", lambda: clock[0])
    monkeypatch.setattr(handlers._remind_overdue, "at", None)
    rt: Any = FakeRuntime()
    handlers._remind_overdue(rt)
    clock[0] += 30
    handlers._remind_overdue(rt)
    assert calls == ["remind", "wake"]
    clock[0] += 31
    rt.queued = 0
    handlers._remind_overdue(rt)
    assert calls == ["remind", "wake", "remind"]  # nothing queued: nothing to wake
