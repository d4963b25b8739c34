"""Real pages for an incident page to show: the escalator's first step run, then each email
sent by the dispatcher through a local SMTP server, the first refused for a while (a retry)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.notification_rules import Channel
from oncall.db.engine import write_session
from oncall.db.models import NotificationRow
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.testing.peers.smtp import SmtpPeer
from oncall.worker.escalator import due_timer_ids, run_timer
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime

RETRY_WAIT = timedelta(minutes=10)
"""Later than any first retry's backoff."""


def page_by_email(engine: Engine, config: ConfigSet, incident_id: int, at: datetime,
                  refuse_first: bool = True) -> list[int]:
    """Run the incident's due escalation steps at `at` (email only), then send its pages: the
    first try refused by the mail server (451, retried later) when `refuse_first`, the retry
    accepted. Returns the notification ids."""
    with Session(engine) as session:
        timers = due_timer_ids(session, at)
    for timer_id in timers:
        with write_session(engine) as session:
            run_timer(session, timer_id, at, config=config, enabled={Channel.EMAIL},
                      worker="tests")
    with Session(engine) as session:
        ids = list(session.scalars(select(NotificationRow.id).where(
            NotificationRow.incident_id == incident_id, NotificationRow.kind == "page",
            NotificationRow.status == "pending").order_by(NotificationRow.id)))
    with SmtpPeer() as smtp:
        providers = ProviderSettings.from_env({"ONCALL_SMTP_URL": smtp.url})

        def runtime(clock: Callable[[], datetime]) -> Runtime:
            return Runtime(settings=Settings(database_url=engine.url.render_as_string(False)),
                           providers=providers, engine=engine, chains=build_chains(providers),
                           worker_id="tests", clock=clock)

        if refuse_first:
            smtp.rejection = "451 4.7.1 greylisted, try again later"
            runtime(lambda: at + timedelta(seconds=1)).dispatch_many(ids)
            smtp.rejection = None
            runtime(lambda: at + RETRY_WAIT).dispatch_many(ids)
        else:
            runtime(lambda: at + timedelta(seconds=1)).dispatch_many(ids)
    return ids
