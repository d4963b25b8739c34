"""Everything a worker process needs, built once from the environment and passed down."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.applied import AppliedConfig
from oncall.db.engine import make_engine, write_session
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.worker.dispatcher import Dispatched, DispatchPolicy, dispatch, due_notification_ids
from oncall.worker.escalator import StepResult, due_timer_ids, run_timer
from oncall.worker.providers import ProviderChains, build_chains


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    providers: ProviderSettings
    engine: Engine
    chains: ProviderChains
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    clock: Callable[[], datetime] = utcnow
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    applied: AppliedConfig = field(default_factory=AppliedConfig)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Runtime:
        settings = Settings.from_env(environ)
        providers = ProviderSettings.from_env(environ)
        engine = (
            make_engine(settings.database_url, pool_size=10)
            if not settings.is_sqlite
            else (make_engine(settings.database_url))
        )
        slowest = max([providers.timeout(name) for name in providers.timeouts] or [10.0])
        policy = DispatchPolicy(lease=timedelta(seconds=2 * slowest + 5))
        return cls(settings, providers, engine, build_chains(providers), policy=policy)

    def config(self) -> ConfigSet:
        with Session(self.engine) as session:
            return self.applied.get(session)

    def run_timer(self, timer_id: int) -> StepResult:
        config = self.config()
        with write_session(self.engine) as session:
            return run_timer(
                session,
                timer_id,
                self.clock(),
                config=config,
                enabled=self.chains.enabled,
                worker=self.worker_id,
            )

    def dispatch(self, notification_id: int) -> Dispatched:
        return dispatch(
            self.engine,
            notification_id,
            config=self.config(),
            chains=self.chains,
            public_url=self.providers.public_url,
            worker=self.worker_id,
            clock=self.clock,
            policy=self.policy,
        )

    def due_timers(self) -> list[int]:
        with Session(self.engine) as session:
            return due_timer_ids(session, self.clock())

    def due_notifications(self) -> list[int]:
        with Session(self.engine) as session:
            return due_notification_ids(session, self.clock(), lease=self.policy.lease)
