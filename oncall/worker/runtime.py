"""Everything a worker process needs: the process context plus the providers that page."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.context import Context, utc_now
from oncall.db.engine import write_session
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.worker.dispatcher import Dispatched, DispatchPolicy, dispatch, due_notification_ids
from oncall.worker.escalator import StepResult, due_timer_ids, run_timer
from oncall.worker.providers import ProviderChains, build_chains

utcnow = utc_now


@dataclass
class Runtime:
    settings: Settings
    providers: ProviderSettings
    engine: Engine
    chains: ProviderChains
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    clock: Callable[[], datetime] = utcnow
    policy: DispatchPolicy = field(default_factory=DispatchPolicy)
    context: Context | None = None
    """The process context; None: one built on this runtime's settings, engine and clock."""

    def __post_init__(self) -> None:
        if self.context is None:
            self.context = Context(self.settings, self.engine, clock=self.clock)

    @property
    def ctx(self) -> Context:
        assert self.context is not None
        return self.context

    @classmethod
    def from_context(cls, context: Context) -> Runtime:
        """The worker's runtime on the process context: providers from its settings."""
        providers = context.settings.providers
        slowest = max([providers.timeout(name) for name in providers.timeouts] or [10.0])
        policy = DispatchPolicy(lease=timedelta(seconds=2 * slowest + 5))
        return cls(context.settings, providers, context.engine, build_chains(providers),
                   clock=context.clock, policy=policy, context=context)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Runtime:
        return cls.from_context(Context.build(Settings.from_env(environ)))

    def config(self) -> ConfigSet:
        """The applied config, from the process's one cache: an apply is in force within a
        second, and a page does not pay two queries to learn that."""
        return self.ctx.config()

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
