"""Ingest on SQLite (the embedded default): each hot operation a few Core statements built once.

SQLite has one writer at a time, shared by the API and the workers, so what a write costs is
how long it holds the database. Through the ORM a new alert held it for 3-5 ms (a dozen
statements, each flushed through the unit of work); here the same rows go in a few Core
statements, with the routing decided before the transaction begins: under 1 ms.

BEGIN IMMEDIATE serialises writers, so no alert lock is needed: what the transaction reads, no
one changes before it commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, case, insert, select, update
from sqlalchemy.dialects.sqlite import insert as upsert
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.core.alerts import Alert
from oncall.core.incident import START_CYCLE, START_STEP, Status
from oncall.core.routing import Destination, route
from oncall.db.engine import write_connection
from oncall.db.models import (
    AlertRow,
    AuditEventRow,
    EscalationTimerRow,
    IncidentRow,
    IngestReplayRow,
    fit,
    fit_optional,
)
from oncall.incidents import events
from oncall.incidents.actors import Actor
from oncall.ingest import replays
from oncall.ingest.pipeline import (
    DEDUPLICATED,
    DELIVERY,
    FIRING,
    MAX_ROWS_PER_ALERT,
    NEW,
    Result,
    ServiceDirectory,
    alert_annotations,
    alert_fingerprint,
    delivery_values,
    single_plain_trigger,
)
from oncall.store import timers
from oncall.store.ingest import IngestStore, Opened, Opening, opening

_incidents = cast(Table, IncidentRow.__table__)
_at = bindparam("at", type_=AlertRow.last_event_at.type)
# Built once: a statement made per call costs more to build and key than to run.
_REPEAT = (
    update(AlertRow)
    .where(AlertRow.integration_name == bindparam("integration"),
           AlertRow.fingerprint == bindparam("fp"), AlertRow.status == FIRING)
    .values(last_event_at=case((AlertRow.last_event_at < _at, _at),
                               else_=AlertRow.last_event_at))
    .returning(AlertRow.id, AlertRow.incident_id)
    .execution_options(synchronize_session=False)
)
_KNOWN = (
    select(AlertRow.last_event_at)
    .where(AlertRow.integration_name == bindparam("integration"),
           AlertRow.fingerprint == bindparam("fp"))
    .order_by(AlertRow.id.desc()).limit(MAX_ROWS_PER_ALERT)
)
_upsert = upsert(IncidentRow)
_OPEN = _upsert.on_conflict_do_update(
    index_elements=[_incidents.c.service_id, _incidents.c.group_key],
    index_where=_incidents.c.status != Status.RESOLVED.value,
    set_={"alert_count": _incidents.c.alert_count + 1,
          "last_alert_at": _upsert.excluded.last_alert_at,
          "updated_at": _upsert.excluded.updated_at},
).returning(IncidentRow.id, IncidentRow.alert_count, IncidentRow.status, IncidentRow.priority,
            IncidentRow.assignee_id)
_ALERT = insert(AlertRow).returning(AlertRow.id)
_TIMER = insert(EscalationTimerRow)
_EVENTS = insert(AuditEventRow)
_CLAIM = upsert(IngestReplayRow).on_conflict_do_nothing().returning(IngestReplayRow.digest)


class _Fallback(Exception):
    """Roll back (the replay claim included): the general path decides in a new transaction."""


def _claim(conn: Connection, mark: replays.Mark | None) -> None:
    if mark is not None and conn.execute(_CLAIM, mark.values()).first() is None:
        raise replays.Replayed(f"integration {mark.integration}: signature accepted before")


def _repeat(conn: Connection, integration: str, alert: Alert, now: datetime
            ) -> list[tuple[int, int | None]]:
    rows = sorted((row[0], row[1]) for row in conn.execute(_REPEAT, {
        "integration": integration, "fp": alert_fingerprint(alert.dedup_key),
        "at": alert.occurred_at}))
    if rows:
        conn.execute(DELIVERY, delivery_values(integration, alert, DEDUPLICATED,
                                               [row[0] for row in rows], now))
    return rows


def _open(conn: Connection, opening: Opening, deliver: bool) -> Opened:
    alert, destination, name, now = (opening.alert, opening.destination,
                                     opening.integration.name, opening.now)
    incident = conn.execute(_OPEN, {
        "title": opening.title, "status": Status.TRIGGERED.value, "priority": destination.priority,
        "urgency": opening.urgency, "service_id": opening.service_id,
        "group_key": opening.group_key, "labels": dict(alert.labels),
        "escalation_policy_name": opening.escalation_policy, "escalation_generation": 0,
        "escalation_cycle": START_CYCLE, "escalation_step": START_STEP, "version": 0,
        "alert_count": 1, "triggered_at": now, "last_alert_at": now, "updated_at": now,
    }).one()
    incident_id, created = incident[0], incident[1] == 1  # a new one starts at 1
    alert_id = conn.execute(_ALERT, {
        "integration_name": name, "fingerprint": opening.fingerprint,
        "dedup_key": fit(AlertRow.dedup_key, alert.dedup_key), "status": FIRING,
        "severity": alert.severity, "summary": fit(AlertRow.summary, alert.summary),
        "source": fit_optional(AlertRow.source, alert.source or None),
        "labels": dict(alert.labels), "annotations": alert_annotations(alert),
        "service_id": opening.service_id, "incident_id": incident_id,
        "routing_rule_name": destination.rule, "suppressed_reason": None,
        "occurred_at": alert.occurred_at, "received_at": now,
        "last_event_at": alert.occurred_at, "resolved_at": None,
    }).scalar_one()
    if created and opening.escalation_policy is not None:
        conn.execute(_TIMER, {
            "incident_id": incident_id, "generation": 0, "cycle": 0, "step": 0, "due_at": now,
            "status": timers.PENDING, "attempts": 0, "created_at": now,
        })
    actor = Actor.integration(name)
    recorded: list[dict[str, Any]] = []
    if created:
        recorded.append(events.row_values(
            at=now, actor=actor, type=events.TRIGGERED, incident_id=incident_id,
            after={"status": incident[2], "priority": incident[3], "assignee_id": incident[4]},
            data=opening.triggered_data(),
        ))
    recorded.append(events.row_values(
        at=now, actor=actor, type=events.ALERT, incident_id=incident_id,
        data={"alert_id": alert_id, **opening.alert_data(), "joined": not created},
    ))
    conn.execute(_EVENTS, recorded)
    if deliver:
        conn.execute(DELIVERY, delivery_values(name, alert, NEW, [alert_id], now))
    return Opened(incident_id=incident_id, alert_id=alert_id, created=created)


class SqliteIngest(IngestStore):
    async def open(self) -> None:
        """Nothing to open: the engine's connections serve the fast path too."""

    async def close(self) -> None:
        """Nothing to close."""

    # --- the general path's operations, on its session ------------------------------------

    def claim(self, session: Session, mark: replays.Mark | None) -> None:
        _claim(session.connection(), mark)

    def lock_alert(self, session: Session, integration: str, fingerprint: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE already serialises every writer."""

    def repeat(self, session: Session, integration: str, alert: Alert, now: datetime
               ) -> list[tuple[int, int | None]]:
        return _repeat(session.connection(), integration, alert, now)

    def open_or_join(self, session: Session, opening: Opening) -> Opened:
        session.flush()  # the session's pending rows first, in the order they were made
        return _open(session.connection(), opening, deliver=False)

    # --- the fast path, in a worker thread ------------------------------------------------

    async def accept(self, config: ConfigSet, integration: Integration, alerts: list[Alert],
                     now: datetime, services: ServiceDirectory,
                     mark: replays.Mark | None = None) -> Result:
        return await run_in_threadpool(self.accept_sync, config, integration, alerts, now,
                                       services, mark)

    def accept_sync(self, config: ConfigSet, integration: Integration, alerts: list[Alert],
                    now: datetime, services: ServiceDirectory,
                    mark: replays.Mark | None = None) -> Result:
        if single_plain_trigger(alerts):
            stored = self.store(config, integration, alerts[0], now, services, mark)
            if stored is not None:
                return stored
        return self.general(config, integration, alerts, now, services, mark)

    def store(self, config: ConfigSet, integration: Integration, alert: Alert, now: datetime,
              services: ServiceDirectory, mark: replays.Mark | None = None) -> Result | None:
        """A repeat, else a new alert routed to one paging service; None: the general path.
        `mark`: a signed delivery's, claimed first (`replays.Replayed` if taken)."""
        name = integration.name
        routed = route(config, name, alert.labels, now, alert.dedup_key)
        single = len(routed.destinations) == 1 and routed.destinations[0].pages
        result = Result()
        try:
            with write_connection(self.engine) as conn:
                _claim(conn, mark)
                repeated = _repeat(conn, name, alert, now)
                if repeated:
                    result._add(DEDUPLICATED, [row[0] for row in repeated],
                                [row[1] for row in repeated if row[1] is not None])
                    return result
                opened = self._open_single(conn, config, integration, alert, now, services,
                                           routed.destinations[0]) if single else None
                if opened is None:
                    if mark is not None:
                        raise _Fallback
                    return None
                result._add(NEW, [opened.alert_id], [opened.incident_id])
                return result
        except _Fallback:
            return None

    @staticmethod
    def _open_single(conn: Connection, config: ConfigSet, integration: Integration,
                     alert: Alert, now: datetime, services: ServiceDirectory,
                     destination: Destination) -> Opened | None:
        assert destination.service is not None  # it pages: not dropped
        known = conn.execute(_KNOWN, {"integration": integration.name,
                                      "fp": alert_fingerprint(alert.dedup_key)}).scalars().all()
        if any(last > alert.occurred_at for last in known):
            return None  # an older event: the general path records it as stale
        paging = opening(config, integration, alert, now, destination,
                         services.id_of(conn, config, destination.service))
        if paging is None:
            return None
        return _open(conn, paging, deliver=True)
