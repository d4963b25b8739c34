"""The database step of ingest: deliveries, alert rows, incidents, all in the caller's transaction.

Decisions (routing, maintenance, priorities, group keys) come from the pure core; this module
only reads and writes rows. The caller opens one `write_session`, calls `ingest`, and answers 2xx
only after the commit, so an accepted alert is never lost.

Rules:
- Every normalised alert records one `alert_deliveries` row, except a repeated provider delivery
  id, which records nothing (the first one's alert is returned).
- An alert is identified by (integration, fingerprint of its dedup key). Its rows (one per routed
  destination) form an *episode* from trigger to resolve; a trigger while the episode is open
  is a duplicate and creates nothing new.
- Events carry their source time: one older than the newest applied for that alert changes
  nothing (a late trigger after its resolve stays resolved; a resolve arriving before its trigger
  leaves a resolved row that makes the late trigger stale).
- A trigger while the alert is firing is a repeat whatever its time: it confirms the state the
  alert is in, and the alert's last event time only moves forward. (Concurrent repeats stamped
  with their arrival time reach the database in any order; none of them is news.)
- Same-alert concurrency: on PostgreSQL a transaction-scoped advisory lock per alert serialises
  the read-then-write of the alert rows; SQLite's BEGIN IMMEDIATE serialises all writers anyway.
  Incidents are deduplicated by the partial unique index on open incidents (`open_or_join`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, insert, select, update
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.core.alerts import Alert
from oncall.core.routing import Destination, route
from oncall.db.models import AlertDeliveryRow, AlertRow, ServiceRow
from oncall.incidents import events, service
from oncall.incidents.actors import Actor
from oncall.ingest import replays

FIRING, RESOLVED = "firing", "resolved"

# Delivery outcomes, as recorded in alert_deliveries.outcome.
NEW = "new"  # a new alert episode (paged, suppressed or dropped)
DEDUPLICATED = "deduplicated"  # same alert, same state: nothing new
STALE = "stale"  # older than what is known about the alert: ignored
RESOLVED_OUTCOME = "resolved"
ACKNOWLEDGED_OUTCOME = "acknowledged"
UNKNOWN = "unknown-alert"  # acknowledge for an alert that is not firing
SUPPRESSED = "suppressed"  # new episode, in maintenance or dropped: nobody paged

MAX_ROWS_PER_ALERT = 16
"""Rows read per alert key: one per destination of its newest episodes is plenty."""


def alert_fingerprint(dedup_key: str) -> str:
    """The indexed identity of an alert within its integration (dedup keys may be long)."""
    return hashlib.sha256(dedup_key.encode("utf-8")).hexdigest()[:32]


def alert_lock_key(integration: str, fingerprint: str) -> int:
    """The PostgreSQL advisory lock that serialises the read-then-write of one alert's rows."""
    digest = hashlib.sha256(f"alert\0{integration}\0{fingerprint}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass
class Result:
    """What one delivery did: the alert ids and incident ids to answer with."""

    alert_ids: list[int] = field(default_factory=list)
    incident_ids: list[int] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    duplicate_deliveries: int = 0

    def _add(self, outcome: str, alert_ids: Sequence[int], incident_ids: Sequence[int]) -> None:
        self.outcomes.append(outcome)
        for alert_id in alert_ids:
            if alert_id not in self.alert_ids:
                self.alert_ids.append(alert_id)
        for incident_id in incident_ids:
            if incident_id not in self.incident_ids:
                self.incident_ids.append(incident_id)


class ServiceDirectory:
    """Service rows by name, cached per applied ConfigSet (their ids and names never change)."""

    def __init__(self) -> None:
        self._config: ConfigSet | None = None
        self._rows: dict[str, ServiceRow] = {}
        self._ids: dict[str, int] = {}

    def cached_id(self, config: ConfigSet, name: str) -> int | None:
        """The id of applied service `name` if known, for callers not holding a Session."""
        if self._config is not config:
            self._config, self._rows, self._ids = config, {}, {}
        return self._ids.get(name)

    def remember_id(self, config: ConfigSet, name: str, service_id: int) -> None:
        if self._config is config:
            self._ids[name] = service_id

    def id_of(self, conn: Connection, config: ConfigSet, name: str) -> int | None:
        """The id of applied service `name`, from the cache or one Core query."""
        found = self.cached_id(config, name)
        if found is None:
            found = conn.execute(
                select(ServiceRow.id).where(ServiceRow.name == name,
                                            ServiceRow.retired_at.is_(None))
            ).scalar()
            if found is not None:
                self.remember_id(config, name, found)
        return found

    def get(self, session: Session, config: ConfigSet, name: str) -> ServiceRow | None:
        """A detached row: only its id and name are read, and those never change."""
        if self._config is not config:
            self._config, self._rows, self._ids = config, {}, {}
        cached = self._rows.get(name)
        if cached is not None:
            return cached
        row = session.scalar(
            select(ServiceRow).where(ServiceRow.name == name, ServiceRow.retired_at.is_(None))
        )
        if row is not None:
            session.expunge(row)
            self._rows[name] = row
        return row


def ingest(
    session: Session,
    config: ConfigSet,
    integration: Integration,
    alerts: Sequence[Alert],
    *,
    now: datetime,
    services: ServiceDirectory | None = None,
    repeat_tried: bool = False,
    replay: replays.Mark | None = None,
) -> Result:
    """Record and act on the alerts of one delivery; the caller commits.

    `repeat_tried`: `repeat_trigger` already found these alerts not firing, so the one-statement
    shortcut for a repeated trigger is not tried again here. `replay`: a signed delivery's mark,
    claimed first in this transaction (`replays.Replayed` if it was claimed before).
    """
    replays.claim(session, replay)
    services = services or ServiceDirectory()
    result = Result()
    actor = Actor.integration(integration.name)
    postgres = session.get_bind().dialect.name == "postgresql"
    for alert in alerts:
        _one(session, config, integration, alert, now, actor, services, result, postgres,
             not repeat_tried)
    return result


def _one(
    session: Session,
    config: ConfigSet,
    integration: Integration,
    alert: Alert,
    now: datetime,
    actor: Actor,
    services: ServiceDirectory,
    result: Result,
    postgres: bool,
    try_repeat: bool,
) -> None:
    name = integration.name
    fp = alert_fingerprint(alert.dedup_key)
    if alert.delivery_id is not None:
        seen = session.execute(
            select(AlertDeliveryRow.id, AlertDeliveryRow.alert_id).where(
                AlertDeliveryRow.integration_name == name,
                AlertDeliveryRow.delivery_id == alert.delivery_id[:255],
            )
        ).first()
        if seen is not None:
            result.duplicate_deliveries += 1
            result._add("duplicate", [seen.alert_id] if seen.alert_id is not None else [], [])
            return

    if try_repeat and alert.action == "trigger":
        repeated = repeat_trigger(session, name, fp, alert.occurred_at)
        if repeated:
            _record(session, name, alert, DEDUPLICATED, [row_id for row_id, _ in repeated], now)
            result._add(DEDUPLICATED, [row_id for row_id, _ in repeated],
                        [incident for _, incident in repeated if incident is not None])
            return
    if postgres:
        session.execute(select(func.pg_advisory_xact_lock(alert_lock_key(name, fp))))

    rows = list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.integration_name == name, AlertRow.fingerprint == fp)
            .order_by(AlertRow.id.desc())
            .limit(MAX_ROWS_PER_ALERT)
        )
    )
    firing = [row for row in rows if row.status == FIRING]
    newest = max((row.last_event_at for row in rows), default=None)
    at = alert.occurred_at

    if alert.action == "trigger" and firing:
        _bump(session, firing, at)  # a repeat, whatever its time: see the module's rules
        outcome, touched = DEDUPLICATED, firing
        incidents = [row.incident_id for row in firing if row.incident_id is not None]
    elif newest is not None and at < newest:
        outcome, touched, incidents = STALE, rows[:1], []
    elif alert.action == "trigger":
        outcome, touched, incidents = _open(
            session, config, integration, alert, fp, now, actor, services
        )
    elif alert.action == "resolve":
        if firing:
            outcome, touched, incidents = _resolve(session, firing, alert, now, actor)
        else:
            outcome, touched, incidents = _resolved_before(session, rows, integration, alert, fp,
                                                          now)
    else:  # acknowledge
        if firing:
            outcome, touched, incidents = _acknowledge(session, firing, alert, now, actor)
        else:
            outcome, touched, incidents = UNKNOWN, [], []

    alert_ids = [row.id for row in touched]
    _record(session, name, alert, outcome, alert_ids, now)
    result._add(outcome, alert_ids, incidents)


_at = bindparam("at", type_=AlertRow.last_event_at.type)
REPEAT_TRIGGER = (
    update(AlertRow)
    .where(AlertRow.integration_name == bindparam("integration"),
           AlertRow.fingerprint == bindparam("fp"), AlertRow.status == FIRING)
    .values(last_event_at=case((AlertRow.last_event_at < _at, _at),
                               else_=AlertRow.last_event_at))
    .returning(AlertRow.id, AlertRow.incident_id)
    .execution_options(synchronize_session=False)
)
"""The common case in one statement: a trigger for an alert already firing. Row locks make it
safe without the advisory lock; with no firing rows it returns nothing and the full path
decides. Built once, as `DELIVERY`: a statement made per call costs more to build than to run."""
DELIVERY = insert(AlertDeliveryRow)


def single_plain_trigger(alerts: Sequence[Alert]) -> bool:
    """One trigger without a delivery id: the delivery the fast paths take."""
    return len(alerts) == 1 and alerts[0].action == "trigger" and alerts[0].delivery_id is None


def repeat_trigger(bind: Session | Connection, integration: str, fp: str, at: datetime
                   ) -> list[tuple[int, int | None]]:
    """`REPEAT_TRIGGER`: (alert id, incident id) of the firing rows it bumped, by id."""
    rows = bind.execute(REPEAT_TRIGGER, {"integration": integration, "fp": fp, "at": at})
    return sorted((row[0], row[1]) for row in rows)


def delivery_values(integration: str, alert: Alert, outcome: str, alert_ids: Sequence[int],
                    now: datetime) -> dict[str, Any]:
    """The `alert_deliveries` row of one delivery, for `DELIVERY`."""
    return {
        "integration_name": integration,
        "delivery_id": alert.delivery_id[:255] if alert.delivery_id else None,
        "alert_id": alert_ids[0] if alert_ids else None,
        "event_action": alert.action,
        "outcome": outcome,
        "payload": alert.to_json(),
        "received_at": now,
    }


def _record(session: Session, integration: str, alert: Alert, outcome: str,
            alert_ids: Sequence[int], now: datetime) -> None:
    session.execute(DELIVERY, delivery_values(integration, alert, outcome, alert_ids, now))


def _bump(session: Session, rows: Sequence[AlertRow], at: datetime) -> None:
    stale = [row.id for row in rows if row.last_event_at < at]
    if stale:
        session.execute(
            update(AlertRow)
            .where(AlertRow.id.in_(stale))
            .values(last_event_at=at)
            .execution_options(synchronize_session=False)
        )


def _new_row(integration: Integration, alert: Alert, fp: str, now: datetime,
             status: str) -> AlertRow:
    return AlertRow(
        integration_name=integration.name,
        fingerprint=fp,
        dedup_key=alert.dedup_key[:512],
        status=status,
        severity=alert.severity,
        summary=alert.summary[:1024],
        source=alert.source[:1024] if alert.source else None,
        labels=dict(alert.labels),
        annotations=alert_annotations(alert),
        occurred_at=alert.occurred_at,
        received_at=now,
        last_event_at=alert.occurred_at,
        resolved_at=alert.occurred_at if status == RESOLVED else None,
    )


def alert_annotations(alert: Alert) -> dict[str, Any] | None:
    out: dict[str, Any] = dict(alert.annotations)
    if alert.links:
        out["links"] = [link.to_json() for link in alert.links]
    if alert.details:
        out["details"] = dict(alert.details)
    return out or None


def _suppression(destination: Destination) -> str | None:
    if destination.dropped:
        return f"dropped by rule {destination.rule}"
    if destination.in_maintenance:
        return f"maintenance window {', '.join(destination.maintenance)}"
    return None


def _open(
    session: Session,
    config: ConfigSet,
    integration: Integration,
    alert: Alert,
    fp: str,
    now: datetime,
    actor: Actor,
    services: ServiceDirectory,
) -> tuple[str, list[AlertRow], list[int]]:
    """A new episode: one row per destination; incidents opened or joined where it pages."""
    routed = route(config, integration.name, alert.labels, now, alert.dedup_key)
    rows: list[AlertRow] = []
    incidents: list[int] = []
    paged = False
    for destination in routed.destinations:
        row = _new_row(integration, alert, fp, now, FIRING)
        row.routing_rule_name = destination.rule
        row.suppressed_reason = _suppression(destination)
        svc_config = config.services.get(destination.service) if destination.service else None
        svc_row = (
            services.get(session, config, destination.service) if destination.service else None
        )
        if destination.service is not None and (svc_config is None or svc_row is None):
            row.suppressed_reason = f"service {destination.service} is not applied"
        row.service_id = svc_row.id if svc_row is not None else None
        if row.suppressed_reason is not None or svc_row is None or svc_config is None:
            session.add(row)
            session.flush()
            rows.append(row)
            events.record(
                session, at=now, actor=actor, type=events.SUPPRESSED,
                data={"alert_id": row.id, "reason": row.suppressed_reason,
                      "service": destination.service, "dedup_key": alert.dedup_key},
            )
            continue
        incident, created = service.open_or_join(
            session,
            service=svc_row,
            group_key=destination.group_key[:512],
            title=alert.summary,
            priority=destination.priority,
            urgency=svc_config.urgency,
            labels=dict(alert.labels),
            escalation_policy=svc_config.escalation_policy,
            actor=actor,
            now=now,
        )
        row.incident_id = incident.id
        session.add(row)
        session.flush()
        rows.append(row)
        paged = True
        incidents.append(incident.id)
        events.record(
            session, at=now, actor=actor, type=events.ALERT, incident_id=incident.id,
            data={"alert_id": row.id, "summary": row.summary, "severity": alert.severity,
                  "dedup_key": alert.dedup_key, "rule": destination.rule,
                  "joined": not created},
        )
    session.flush()
    return (NEW if paged else SUPPRESSED), rows, incidents


def _firing_left(session: Session, incident_id: int) -> int:
    return session.scalar(
        select(func.count(AlertRow.id)).where(
            AlertRow.incident_id == incident_id, AlertRow.status == FIRING
        )
    ) or 0


def _resolve(
    session: Session, firing: Sequence[AlertRow], alert: Alert, now: datetime, actor: Actor
) -> tuple[str, list[AlertRow], list[int]]:
    """The source resolved the alert; an incident whose alerts are all resolved resolves."""
    at = alert.occurred_at
    for row in firing:
        row.status = RESOLVED
        row.resolved_at = at
        row.last_event_at = at
    session.flush()
    incidents: list[int] = []
    for incident_id in dict.fromkeys(r.incident_id for r in firing if r.incident_id is not None):
        incidents.append(incident_id)
        events.record(
            session, at=now, actor=actor, type=events.ALERT, incident_id=incident_id,
            data={"alert_ids": [r.id for r in firing if r.incident_id == incident_id],
                  "status": RESOLVED, "dedup_key": alert.dedup_key},
        )
        if _firing_left(session, incident_id) == 0:
            service.resolve(session, incident_id, actor, now, note="resolved by the source")
    return RESOLVED_OUTCOME, list(firing), incidents


def _resolved_before(
    session: Session,
    rows: Sequence[AlertRow],
    integration: Integration,
    alert: Alert,
    fp: str,
    now: datetime,
) -> tuple[str, list[AlertRow], list[int]]:
    """A resolve with nothing firing: remember its time so a late trigger stays resolved."""
    if rows:
        latest = rows[0]
        if latest.last_event_at >= alert.occurred_at:
            return DEDUPLICATED, [latest], []
        latest.last_event_at = alert.occurred_at
        session.flush()
        return DEDUPLICATED, [latest], []
    row = _new_row(integration, alert, fp, now, RESOLVED)
    session.add(row)
    session.flush()
    return RESOLVED_OUTCOME, [row], []


def _acknowledge(
    session: Session, firing: Sequence[AlertRow], alert: Alert, now: datetime, actor: Actor
) -> tuple[str, list[AlertRow], list[int]]:
    _bump(session, firing, alert.occurred_at)
    incidents: list[int] = []
    changed = False
    for incident_id in dict.fromkeys(r.incident_id for r in firing if r.incident_id is not None):
        incidents.append(incident_id)
        changed |= service.acknowledge(session, incident_id, actor, now).changed
    return (ACKNOWLEDGED_OUTCOME if changed else DEDUPLICATED), list(firing), incidents

