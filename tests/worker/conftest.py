"""A worker runtime wired to local provider peers, over the example organisation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from oncall.config.configset import ConfigSet
from oncall.core.delivery import Backoff, BreakerPolicy
from oncall.core.schedule import who_at
from oncall.db.engine import write_session
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.testing.incidents import open_incident
from oncall.testing.peers import SlackPeer
from oncall.testing.peers.smtp import SmtpPeer
from oncall.worker.dispatcher import DispatchPolicy
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Harness:
    runtime: Runtime
    clock: Clock
    slack: SlackPeer
    smtp: SmtpPeer
    config: ConfigSet
    engine: Engine

    def open_incident(self, service_name: str = "checkout-api") -> int:
        with write_session(self.engine) as session:
            return open_incident(session, service=service_name, group_key="k",
                                 title="Checkout p99 above 2s", priority="P1",
                                 labels={"env": "prod"}, integration="prometheus-prod",
                                 now=self.clock())

    def run_due(self) -> None:
        """What the worker's sweeper does: due timers, then due notifications, until quiet."""
        for _ in range(20):
            timers = self.runtime.due_timers()
            for timer_id in timers:
                self.runtime.run_timer(timer_id)
            notifications = self.runtime.due_notifications()
            for notification_id in notifications:
                self.runtime.dispatch(notification_id)
            if not timers and not notifications:
                return

    def on_call(self, schedule: str) -> str:
        who = who_at(self.config.schedules[schedule], self.clock())
        assert who is not None
        return who


@pytest.fixture
def harness(applied_engine: Engine, example_config: ConfigSet) -> Iterator[Harness]:
    users = {u: f"U{i:04d}" for i, u in enumerate(sorted(example_config.users))}
    with SlackPeer(users=users) as slack, SmtpPeer() as smtp:
        env = {**slack.env(), **smtp.env(), "ONCALL_SLACK_TIMEOUT": "2",
               "ONCALL_PUBLIC_URL": "https://oncall.example"}
        providers = ProviderSettings.from_env(env)
        clock = Clock(T0)
        runtime = Runtime(
            settings=Settings(database_url=str(applied_engine.url)),
            providers=providers,
            engine=applied_engine,
            chains=build_chains(providers),
            worker_id="test-worker",
            clock=clock,
            policy=DispatchPolicy(
                backoff=Backoff(base=timedelta(seconds=1), max_attempts=3),
                breaker=BreakerPolicy(threshold=10),
            ),
        )
        yield Harness(runtime, clock, slack, smtp, example_config, applied_engine)
