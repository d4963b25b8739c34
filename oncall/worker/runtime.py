"""Everything a worker process needs, built once from the environment and passed down."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.applied import AppliedConfig
from oncall.db.engine import make_engine, write_session
from oncall.heap import freeze_long_lived
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.worker.dispatcher import Dispatched, DispatchPolicy, dispatch, due_notification_ids
from oncall.worker.escalator import StepResult, due_timer_ids, run_timer
from oncall.worker.providers import ProviderChains, build_chains

CONFIG_RECHECK_SECONDS = 1.0


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
    config_recheck: float = CONFIG_RECHECK_SECONDS
    _config: ConfigSet | None = None
    _checked: float = -1e9

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Runtime:
        settings = Settings.from_env(environ)
        providers = ProviderSettings.from_env(environ)
        # No pre-ping: it would cost a round trip for each of the several sessions a page
        # takes. After a database restart the first statement on a stale connection fails,
        # SQLAlchemy replaces the whole pool, and the row it was for stays due for the sweeper.
        engine = (
            make_engine(settings.database_url, pool_size=20, max_overflow=20,
                        pool_pre_ping=False)
            if not settings.is_sqlite
            else (make_engine(settings.database_url))
        )
        slowest = max([providers.timeout(name) for name in providers.timeouts] or [10.0])
        policy = DispatchPolicy(lease=timedelta(seconds=2 * slowest + 5))
        return cls(settings, providers, engine, build_chains(providers), policy=policy)

    def config(self) -> ConfigSet:
        """The applied config, checked against the database at most every second: an apply
        is in force within a second, and a page does not pay two queries to learn that."""
        now = time.monotonic()
        if self._config is None or now - self._checked >= self.config_recheck:
            with Session(self.engine) as session:
                config = self.applied.get(session)
            if config is not self._config and self._config is not None:
                freeze_long_lived()
            self._config = config
            self._checked = now
        return self._config

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
