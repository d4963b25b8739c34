"""Ingest's storage: accept a delivery, and the hot operations the pipeline runs on a session.

`IngestStore.accept` is what the ingest endpoint calls: the database's fast path for the
common delivery (one trigger without a delivery id), else `pipeline.ingest` in a worker thread
with this store's operations. Each hot operation (claim a replay mark, lock an alert, repeat,
open or join) has one definition per database, in `ingest_postgres` and `ingest_sqlite`.
Resolve's session definition is here, for both databases' general path; PostgreSQL's endpoint
resolves a lone resolve on its asyncio connection with the same rules (`resolved_alerts`,
the state machine, the timers' and outbox's own statements). Each writes exactly the rows the
others write, which tests/store/test_ingest_stores.py checks row by row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.core.alerts import Alert
from oncall.core.routing import Destination
from oncall.db.engine import write_session
from oncall.db.models import AlertRow, IncidentRow, fit
from oncall.incidents import events, service
from oncall.incidents.actors import Actor
from oncall.ingest import pipeline, replays
from oncall.ingest.pipeline import FIRING, RESOLVED, RESOLVED_OUTCOME, Result, ServiceDirectory

RETRIES = 3
"""Deadlocks and serialisation failures are retried; each retry starts the transaction anew."""
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


@dataclass(frozen=True)
class Opening:
    """A new alert routed to one paging service: what open-or-join writes."""

    integration: Integration
    alert: Alert
    fingerprint: str
    destination: Destination
    service_id: int
    urgency: str
    escalation_policy: str | None
    now: datetime

    @property
    def title(self) -> str:
        return fit(IncidentRow.title, self.alert.summary)

    @property
    def group_key(self) -> str:
        return fit(IncidentRow.group_key, self.destination.group_key)

    def triggered_data(self) -> dict[str, Any]:
        return {"service": self.destination.service, "group_key": self.group_key,
                "title": self.title}

    def alert_data(self) -> dict[str, Any]:
        """The 'alert' event's data, but for `alert_id` and `joined`, known once written."""
        return {"summary": fit(AlertRow.summary, self.alert.summary),
                "severity": self.alert.severity, "dedup_key": self.alert.dedup_key,
                "rule": self.destination.rule}


@dataclass(frozen=True)
class Opened:
    incident_id: int
    alert_id: int
    created: bool


class IngestStore(ABC):
    """One database's ingest. Built once per engine by `oncall.store.stores_for`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @abstractmethod
    async def open(self) -> None:
        """Open connections before the first delivery (the API's warm-up)."""

    @abstractmethod
    async def close(self) -> None:
        """Close what `open` opened (the API's shutdown)."""

    @abstractmethod
    async def accept(self, config: ConfigSet, integration: Integration, alerts: list[Alert],
                     now: datetime, services: ServiceDirectory,
                     mark: replays.Mark | None = None) -> Result:
        """Store one delivery, committed before this returns; `replays.Replayed` if `mark`
        was claimed before (then nothing is stored)."""

    @abstractmethod
    def claim(self, session: Session, mark: replays.Mark | None) -> None:
        """Claim `mark` in the caller's transaction; `replays.Replayed` if claimed before."""

    @abstractmethod
    def lock_alert(self, session: Session, integration: str, fingerprint: str) -> None:
        """Serialise the read-then-write of one alert's rows until the transaction ends."""

    @abstractmethod
    def repeat(self, session: Session, integration: str, alert: Alert, now: datetime
               ) -> list[tuple[int, int | None]]:
        """A trigger of a firing alert: bump its last event time and record the delivery.
        (alert id, incident id) of the firing rows, by id; none: nothing was written."""

    @abstractmethod
    def open_or_join(self, session: Session, opening: Opening) -> Opened:
        """The group's open incident (created, with its first timer, if there is none), the
        alert row in it, and the 'triggered' and 'alert' audit events. No delivery row."""

    def resolve(self, session: Session, firing: Sequence[AlertRow], alert: Alert, now: datetime,
                actor: Actor) -> tuple[str, list[int], list[int]]:
        """The source resolved the alert: its firing rows resolve, each incident they belong
        to records it, then an incident whose alerts are all resolved resolves."""
        at = alert.occurred_at
        session.execute(
            update(AlertRow).where(AlertRow.id.in_([row.id for row in firing]))
            .values(status=RESOLVED, resolved_at=at, last_event_at=at)
            .execution_options(synchronize_session="evaluate"))
        noted = resolved_alerts([(row.id, row.incident_id) for row in firing], alert)
        for incident_id, data in noted:
            events.write(session, at=now, actor=actor, type=events.ALERT,
                         incident_id=incident_id, data=data)
        for incident_id, _ in noted:
            left = session.scalar(select(func.count(AlertRow.id)).where(
                AlertRow.incident_id == incident_id, AlertRow.status == FIRING))
            if not left:
                service.resolve(session, incident_id, actor, now, note=SOURCE_RESOLVED)
        return RESOLVED_OUTCOME, [row.id for row in firing], [i for i, _ in noted]

    def general(self, config: ConfigSet, integration: Integration, alerts: list[Alert],
                now: datetime, services: ServiceDirectory, mark: replays.Mark | None,
                repeat_tried: bool = False) -> Result:
        """`pipeline.ingest` in one write transaction, retried on deadlocks and serialisation
        failures. Blocking: run it in a worker thread."""
        for attempt in range(RETRIES):
            try:
                with write_session(self.engine) as session:
                    return pipeline.ingest(session, config, integration, alerts, now=now,
                                           store=self, services=services,
                                           repeat_tried=repeat_tried and attempt == 0,
                                           replay=mark)
            except OperationalError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                if code not in _RETRYABLE_SQLSTATES or attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def general_in_thread(self, config: ConfigSet, integration: Integration,
                                alerts: list[Alert], now: datetime, services: ServiceDirectory,
                                mark: replays.Mark | None, repeat_tried: bool = False
                                ) -> Result:
        return await run_in_threadpool(self.general, config, integration, alerts, now,
                                       services, mark, repeat_tried)


SOURCE_RESOLVED = "resolved by the source"
"""The note of an incident resolved because its last firing alert resolved."""


def resolved_alerts(firing: Sequence[tuple[int, int | None]], alert: Alert
                    ) -> list[tuple[int, dict[str, Any]]]:
    """For each incident of the firing rows (alert id, incident id) a resolve resolved, in
    the order the rows were read: its id and the data of its 'alert' event."""
    return [(incident_id, {"alert_ids": [a for a, i in firing if i == incident_id],
                           "status": RESOLVED, "dedup_key": alert.dedup_key})
            for incident_id in dict.fromkeys(i for _, i in firing if i is not None)]


def opening(config: ConfigSet, integration: Integration, alert: Alert, now: datetime,
            destination: Destination, service_id: int | None) -> Opening | None:
    """What open-or-join needs for a paging destination; None if its service is not applied."""
    svc = config.services.get(destination.service) if destination.service else None
    if svc is None or service_id is None:
        return None
    return Opening(integration, alert, pipeline.alert_fingerprint(alert.dedup_key), destination,
                   service_id, svc.urgency, svc.escalation_policy, now)
