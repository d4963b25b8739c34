"""Everything a worker process needs: the process context plus the providers that page."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from oncall.config.configset import ConfigSet
from oncall.context import Context, utc_now
from oncall.db.engine import read_session, write_connection, write_session
from oncall.notify.providers.base import DeliveryResult
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.store import stores_for
from oncall.worker.dispatcher import (
    Dispatched,
    DispatchPolicy,
    Sends,
    dispatch_many,
    due_notification_ids,
    one_by_one,
)
from oncall.worker.escalator import StepResult, due_timer_ids, run_due
from oncall.worker.providers import ProviderChains, build_chains

HOOK_TIMEOUT_SECONDS = 10.0
"""How long a webhook subscriber's endpoint has to answer; a slow one is retried later."""

if TYPE_CHECKING:
    from oncall.worker.deadman import DeadmanSwitch
    from oncall.workflows.http import DenyList, GuardedClient
    from oncall.workflows.steps import StepContext

utcnow = utc_now
log = logging.getLogger("oncall.worker")


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
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    """Where workflow steps resolve `${env:NAME}` (in URLs and headers only)."""

    def __post_init__(self) -> None:
        if self.context is None:
            self.context = Context(self.settings, self.engine, clock=self.clock)

    @property
    def ctx(self) -> Context:
        assert self.context is not None
        return self.context

    @classmethod
    def from_context(cls, context: Context,
                     environ: Mapping[str, str] | None = None) -> Runtime:
        """The worker's runtime on the process context: providers from its settings."""
        providers = context.settings.providers
        slowest = max([providers.timeout(name) for name in providers.timeouts] or [10.0])
        policy = DispatchPolicy(lease=timedelta(seconds=2 * slowest + 5))
        return cls(context.settings, providers, context.engine, build_chains(providers),
                   clock=context.clock, policy=policy, context=context,
                   environ=os.environ if environ is None else environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Runtime:
        return cls.from_context(Context.build(Settings.from_env(environ)), environ)

    @cached_property
    def deny(self) -> DenyList:
        """The targets no workflow step may call (ONCALL_WEBHOOK_DENY and the defaults)."""
        from oncall.workflows.http import DenyList

        return DenyList.from_settings(self.settings)

    @cached_property
    def http(self) -> GuardedClient:
        """The one client of this process's webhook and runbook calls (thread-safe, keeping
        connections alive): building a client per call, with its TLS context, cost some
        twenty times the CPU of the call itself."""
        from oncall.workflows.http import GuardedClient

        return GuardedClient(self.deny)

    def step_context(self, incident_id: int, actor: str, step_key: str) -> StepContext:
        """What a workflow step's executor needs, from this process."""
        from oncall.workflows.steps import StepContext

        return StepContext(environ=self.environ, deny=self.deny, chains=self.chains,
                           public_url=self.providers.public_url, engine=self.engine,
                           config=self.config(), clock=self.clock, incident_id=incident_id,
                           actor=actor, http=self.http, step_key=step_key)

    def plan_workflows(self) -> list[int]:
        """Plan a batch of the workflow inbox; the outbox rows due now."""
        from oncall.worker.workflows import plan_workflows

        return plan_workflows(self.engine, self.config(), self.clock())

    def sync_status_pages(self) -> int:
        """Bring the applied status pages in step with the incidents; how many changes this
        process made (none, and no query, without status pages)."""
        config = self.config()
        if not config.status_pages:
            return 0
        from oncall.statuspages.sync import sync_pages

        return len(sync_pages(self.engine, config, self.clock(), self.providers.public_url))

    def remind_overdue(self) -> int:
        """Queue today's reminders of overdue action items, in a transaction of their own;
        how many were queued."""
        from oncall.postmortems.reminders import remind_overdue

        with write_connection(self.engine) as conn:
            return remind_overdue(conn, self.clock(), self.providers.public_url)

    def check_heartbeats(self) -> list[int]:
        """Open the incidents of heartbeats whose pings are overdue (each claimed by one
        worker only); the incidents opened or joined."""
        config = self.config()
        if not config.heartbeats:
            return []
        from oncall.ingest.heartbeats import sweep

        return sweep(self.engine, config, self.clock())

    def notify_handoffs(self) -> int:
        """Queue the notices of on-call handoffs that just happened; how many."""
        from oncall.paging.handoffs import notify_handoffs

        return notify_handoffs(self.engine, self.config(), self.clock(),
                               self.providers.public_url, self.chains.enabled)

    @cached_property
    def deadman(self) -> DeadmanSwitch | None:
        """The platform's own switch (ONCALL_DEADMAN_URL), or None when it is not set."""
        if not self.settings.deadman_url:
            return None
        from oncall.worker.deadman import DeadmanSwitch

        return DeadmanSwitch(self.settings.deadman_url, self.settings.deadman_interval)

    def config(self) -> ConfigSet:
        """The applied config, from the process's one cache: an apply is in force within a
        second, and a page does not pay two queries to learn that."""
        return self.ctx.config()

    def run_timer(self, timer_id: int) -> StepResult:
        """Run one timer if it is due (the queued task's path)."""
        found = self.run_due(1, [timer_id])
        return found[0] if found else StepResult(False, timer_id=timer_id)

    def run_due(self, limit: int, ids: list[int] | None = None) -> list[StepResult]:
        """Claim and run up to `limit` due timers (of `ids`, if given) in one transaction; a
        result per timer claimed. Should the batch fail, each of its timers is run in a
        transaction of its own, so that one bad step holds up no other."""
        config = self.config()
        try:
            with write_session(self.engine) as session:
                return run_due(session, self.clock(), config=config,
                               enabled=self.chains.enabled, worker=self.worker_id,
                               limit=limit, ids=ids)
        except Exception:
            if limit == 1 or (ids is not None and len(ids) == 1):
                raise
            log.exception("a batch of escalation steps failed; running them one by one")
        with read_session(self.engine) as session:
            candidates = ids if ids is not None else due_timer_ids(session, self.clock(), limit)
        results: list[StepResult] = []
        for timer_id in candidates:
            try:
                results.extend(self.run_due(1, [timer_id]))
            except Exception:
                log.exception("escalation step of timer %s failed; it stays due", timer_id)
        return results

    def dispatch(self, notification_id: int) -> Dispatched:
        """Send one row (the queued task's path)."""
        return self.dispatch_many([notification_id]).get(notification_id,
                                                         Dispatched("skipped"))

    def dispatch_many(self, ids: list[int] | None, limit: int = 100,
                      sends: Sends = one_by_one) -> dict[int, Dispatched]:
        """Claim and send the due rows of `ids` (None: up to `limit` of the oldest due pages
        and messages); `sends` runs the provider calls (side by side, from the sweep)."""
        return dispatch_many(
            self.engine,
            ids,
            config=self.config(),
            chains=self.chains,
            public_url=self.providers.public_url,
            worker=self.worker_id,
            clock=self.clock,
            policy=self.policy,
            step_context=self.step_context,
            hook=self.post_hook,
            limit=limit,
            sends=sends,
        )

    def post_hook(self, url: str, content: str, headers: dict[str, str]) -> DeliveryResult:
        """POST a webhook subscriber's message through the guarded client. Nothing in a URL
        that came from outside git is resolved (`${env:…}` fails the call), and the answer's
        body is not kept beyond an excerpt."""
        from oncall.workflows.http import call

        action = {"url": url, "method": "POST", "headers": headers, "content": content,
                  "max_response_bytes": 1024}
        outcome = call(action, HOOK_TIMEOUT_SECONDS, environ={}, deny=self.deny,
                       client=self.http)
        if outcome.ok:
            return DeliveryResult.sent("webhook", f"HTTP {outcome.status_code}")
        return DeliveryResult.failed("webhook", outcome.detail, retryable=outcome.retryable,
                                     status_code=outcome.status_code)

    def due_timers(self) -> list[int]:
        with read_session(self.engine) as session:
            return due_timer_ids(session, self.clock())

    def due_notifications(self) -> list[int]:
        with read_session(self.engine) as session:
            return due_notification_ids(session, self.clock(), lease=self.policy.lease)

    def due_background(self) -> list[int]:
        """Due workflow steps, mail and hooks: the steps lane's rows."""
        with read_session(self.engine) as session:
            return stores_for(self.engine).outbox.due_ids(session, self.clock(),
                                                         lease=self.policy.lease,
                                                         background=True)
