"""Handoff notices on SQLite and PostgreSQL: at a handoff of the example organisation's
payments-primary schedule the person whose turn ends and the one whose turn starts are each
told once, through the outbox, on their chosen channel, with app overrides taken into account,
and the dispatcher delivers the message through the real providers to the local peers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall import schedules_service
from oncall.config.configset import ConfigSet
from oncall.config.models import HandoffNotices
from oncall.core.notification_rules import Channel
from oncall.db.engine import write_session
from oncall.db.models import ContactMethodRow, NotificationRow, UserRow
from oncall.incidents.actors import Actor
from oncall.notify.mail import Mail
from oncall.notify.settings import ProviderSettings
from oncall.paging import handoffs
from oncall.settings import Settings
from oncall.testing.peers import SlackPeer
from oncall.testing.peers.smtp import SmtpPeer
from oncall.worker.dispatcher import DispatchPolicy
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime

HANDOFF = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)
"""Monday: payments-primary's weekly layer (Daniel) gives way to office-hours (Sofia)."""
PUBLIC = "https://oncall.example"
DANIEL = "daniel.whitaker@northwind.example"
SOFIA = "sofia.alvarez@northwind.example"
MARCUS = "marcus.bell@northwind.example"
PRIYA = Actor("user", "priya.raman@northwind.example", {"payments": "admin"}, via="web")
BOTH = (Channel.EMAIL, Channel.SLACK)


def _notify(engine: Engine, config: ConfigSet, now: datetime,
            enabled: tuple[Channel, ...] = BOTH) -> int:
    return handoffs.notify_handoffs(engine, config, now, PUBLIC, enabled)


def _rows(engine: Engine, schedule: str = "payments-primary") -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.execute(
            select(NotificationRow.idempotency_key, NotificationRow.kind,
                   NotificationRow.channel, NotificationRow.address)
            .where(NotificationRow.idempotency_key.like(f"handoff:{schedule}:%"))
            .order_by(NotificationRow.idempotency_key))
        return [tuple(r) for r in rows]


def _mail(engine: Engine, key: str) -> Mail:
    with Session(engine) as session:
        data = session.scalar(select(NotificationRow.provider_data)
                              .where(NotificationRow.idempotency_key == key))
    assert data is not None
    return Mail.from_data(data)


def _slack_method(engine: Engine, email: str, address: str) -> None:
    with write_session(engine) as session:
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == email))
        session.add(ContactMethodRow(user_id=user_id, type="slack", address=address,
                                     verified_at=HANDOFF, verification_attempts=0,
                                     created_at=HANDOFF))


def test_both_sides_of_a_handoff_are_told_once(applied_engine: Engine,
                                              example_config: ConfigSet) -> None:
    _slack_method(applied_engine, SOFIA, "U0SOFIA")
    _notify(applied_engine, example_config, HANDOFF - timedelta(minutes=1))
    assert _rows(applied_engine) == []  # nothing yet at 13:59

    _notify(applied_engine, example_config, HANDOFF + timedelta(minutes=1))
    ended = f"handoff:payments-primary:{DANIEL}:end:2026-12-07T14:00:00+00:00"
    started = f"handoff:payments-primary:{SOFIA}:start:2026-12-07T14:00:00+00:00"
    # Sofia set up Slack; Daniel has no methods: Slack by his email, the default before email
    expected = [(ended, "mail", "slack", DANIEL), (started, "mail", "slack", "U0SOFIA")]
    assert _rows(applied_engine) == expected

    # another worker, and the same one a minute later: nothing twice
    _notify(applied_engine, example_config, HANDOFF + timedelta(minutes=1))
    _notify(applied_engine, example_config, HANDOFF + timedelta(minutes=2))
    assert _rows(applied_engine) == expected
    assert _mail(applied_engine, started) == Mail(
        subject="You are on call for payments-primary",
        text=("You are on call for payments-primary from Mon 2026-12-07 09:00 EST until "
              "Mon 2026-12-07 17:00 EST.\n"
              "Your next turn: Fri 2026-12-11 09:00 EST until Fri 2026-12-11 17:00 EST.\n\n"
              f"Who is on call: {PUBLIC}/oncall\n"))
    assert _mail(applied_engine, ended) == Mail(
        subject="Your on-call turn for payments-primary has ended",
        text=("Your on-call turn for payments-primary ended at Mon 2026-12-07 09:00 EST.\n"
              "Your next turn: Tue 2026-12-08 09:00 EST until Tue 2026-12-08 17:00 EST.\n\n"
              f"Who is on call: {PUBLIC}/oncall\n"))


def test_a_handoff_is_not_told_after_the_look_back(applied_engine: Engine,
                                                  example_config: ConfigSet) -> None:
    _notify(applied_engine, example_config, HANDOFF + handoffs.LOOKBACK + timedelta(seconds=1))
    assert _rows(applied_engine) == []


def test_an_override_made_in_the_app_is_a_handoff(applied_engine: Engine,
                                                 example_config: ConfigSet) -> None:
    start = HANDOFF - timedelta(hours=2)
    with write_session(applied_engine) as session:
        schedules_service.create_override(
            session, example_config, PRIYA, schedule_name="payments-primary", who=MARCUS,
            start=start, end=start + timedelta(hours=3), reason="dentist", now=start)
    _notify(applied_engine, example_config, start + timedelta(minutes=1))
    assert _rows(applied_engine) == [
        (f"handoff:payments-primary:{DANIEL}:end:2026-12-07T12:00:00+00:00", "mail", "slack",
         DANIEL),
        (f"handoff:payments-primary:{MARCUS}:start:2026-12-07T12:00:00+00:00", "mail", "slack",
         MARCUS),
    ]


def test_email_when_slack_is_not_configured(applied_engine: Engine,
                                            example_config: ConfigSet) -> None:
    _slack_method(applied_engine, SOFIA, "U0SOFIA")
    _notify(applied_engine, example_config, HANDOFF + timedelta(minutes=1),
            enabled=(Channel.EMAIL, Channel.SMS))
    assert [(r[2], r[3]) for r in _rows(applied_engine)] == [("email", DANIEL), ("email", SOFIA)]


@pytest.mark.parametrize(("notices", "told"), [
    (HandoffNotices(), [(DANIEL, "end"), (SOFIA, "start")]),
    (HandoffNotices(enabled=False), []),
    # Sofia's eight office hours are shorter than nine: only Daniel's long night is told
    (HandoffNotices.model_validate({"min_shift": "9h"}), [(DANIEL, "end")]),
])
def test_a_schedule_says_what_is_told(example_config: ConfigSet, notices: HandoffNotices,
                                      told: list[tuple[str, str]]) -> None:
    schedule = example_config.schedules["payments-primary"].model_copy(
        update={"handoff_notices": notices})
    due = handoffs.due(schedule, schedule, HANDOFF + timedelta(minutes=1))
    assert [(h.who, h.edge) for h in due] == told


@dataclass
class Worker:
    runtime: Runtime
    slack: SlackPeer
    smtp: SmtpPeer


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
                          clock=lambda: HANDOFF + timedelta(minutes=1), policy=DispatchPolicy())
        yield Worker(runtime, slack, smtp)


def test_the_worker_tells_in_slack_by_default(applied_engine: Engine, worker: Worker) -> None:
    assert worker.runtime.notify_handoffs() >= 2
    for notification_id in worker.runtime.due_notifications():
        worker.runtime.dispatch(notification_id)
    texts = {str(c["text"]).split("\n")[0]: c["channel"]
             for c in worker.slack.calls("chat.postMessage")}
    assert "You are on call for payments-primary" in texts
    assert "Your on-call turn for payments-primary has ended" in texts
    with Session(applied_engine) as session:
        statuses = set(session.scalars(select(NotificationRow.status).where(
            NotificationRow.idempotency_key.like("handoff:%"))))
    assert statuses == {"sent"}
