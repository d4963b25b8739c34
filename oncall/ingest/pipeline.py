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
- Same-alert concurrency: the store's `lock_alert` serialises the read-then-write of the alert
  rows. Incidents are deduplicated by the partial unique index on open incidents (the store's
  `open_or_join`).

The hot operations (replay claim, repeat, open-or-join, resolve) are the store's
(`oncall.store.ingest.IngestStore`), one definition per database; this module only decides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.core.alerts import Alert
from oncall.core.routing import Destination, route
from oncall.db.models import AlertDeliveryRow, AlertRow, ServiceRow, fit, fit_optional
from oncall.incidents import events, service
from oncall.incidents.actors import Actor
from oncall.ingest import replays

if TYPE_CHECKING:
    from oncall.store.ingest import IngestStore

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
    store: IngestStore,
    services: ServiceDirectory | None = None,
    repeat_tried: bool = False,
    replay: replays.Mark | None = None,
) -> Result:
    """Record and act on the alerts of one delivery; the caller commits.

    `store`: the session's database's hot operations. `repeat_tried`: the store's repeat
    already found these alerts not firing, so it is not tried again here. `replay`: a signed
    delivery's mark, claimed first in this transaction (`replays.Replayed` if claimed before).
    """
    store.claim(session, replay)
    services = services or ServiceDirectory()
    result = Result()
    actor = Actor.integration(integration.name)
    for alert in alerts:
        _one(session, store, config, integration, alert, now, actor, services, result,
             not repeat_tried)
    return result


def _one(
    session: Session,
    store: IngestStore,
    config: ConfigSet,
    integration: Integration,
    alert: Alert,
    now: datetime,
    actor: Actor,
    services: ServiceDirectory,
    result: Result,
    try_repeat: bool,
) -> None:
    name = integration.name
    fp = alert_fingerprint(alert.dedup_key)
    if alert.delivery_id is not None:
        seen = session.execute(
            select(AlertDeliveryRow.id, AlertDeliveryRow.alert_id).where(
                AlertDeliveryRow.integration_name == name,
                AlertDeliveryRow.delivery_id == fit(AlertDeliveryRow.delivery_id,
                                                    alert.delivery_id),
            )
        ).first()
        if seen is not None:
            result.duplicate_deliveries += 1
            result._add("duplicate", [seen.alert_id] if seen.alert_id is not None else [], [])
            return

    if try_repeat and alert.action == "trigger":
        repeated = store.repeat(session, name, alert, now)
        if repeated:
            result._add(DEDUPLICATED, [row_id for row_id, _ in repeated],
                        [incident for _, incident in repeated if incident is not None])
            return
    store.lock_alert(session, name, fp)

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

    alert_ids: list[int]
    if alert.action == "trigger" and firing:
        _bump(session, firing, at)  # a repeat, whatever its time: see the module's rules
        outcome, alert_ids = DEDUPLICATED, [row.id for row in firing]
        incidents = [row.incident_id for row in firing if row.incident_id is not None]
    elif newest is not None and at < newest:
        outcome, alert_ids, incidents = STALE, [rows[0].id], []
    elif alert.action == "trigger":
        outcome, alert_ids, incidents = _open(
            session, store, config, integration, alert, fp, now, actor, services
        )
    elif alert.action == "resolve":
        if firing:
            outcome, alert_ids, incidents = store.resolve(session, firing, alert, now, actor)
        else:
            outcome, alert_ids, incidents = _resolved_before(session, rows, integration, alert,
                                                             fp, now)
    else:  # acknowledge
        if firing:
            outcome, alert_ids, incidents = _acknowledge(session, firing, alert, now, actor)
        else:
            outcome, alert_ids, incidents = UNKNOWN, [], []

    _record(session, name, alert, outcome, alert_ids, now)
    result._add(outcome, alert_ids, incidents)


DELIVERY = insert(cast(Table, AlertDeliveryRow.__table__))
"""Built once: a statement made per call costs more to build than to run. On the table, not
the mapped class, so a session runs it as a plain insert (the ORM's bulk insert would add a
RETURNING and build objects nobody reads)."""


def single_plain_trigger(alerts: Sequence[Alert]) -> bool:
    """One trigger without a delivery id: the delivery the fast paths take."""
    return len(alerts) == 1 and alerts[0].action == "trigger" and alerts[0].delivery_id is None


DELIVERY_COLUMNS = ("integration_name", "delivery_id", "alert_id", "event_action", "outcome",
                    "payload", "received_at")


def single_plain_resolve(alerts: Sequence[Alert]) -> bool:
    """One resolve without a delivery id: PostgreSQL's endpoint resolves it on its loop."""
    return len(alerts) == 1 and alerts[0].action == "resolve" and alerts[0].delivery_id is None


def delivery_values(integration: str, alert: Alert, outcome: str, alert_ids: Sequence[int],
                    now: datetime) -> dict[str, Any]:
    """The `alert_deliveries` row of one delivery (`DELIVERY_COLUMNS`), for `DELIVERY`."""
    return {
        "integration_name": integration,
        "delivery_id": fit_optional(AlertDeliveryRow.delivery_id, alert.delivery_id),
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
        dedup_key=fit(AlertRow.dedup_key, alert.dedup_key),
        status=status,
        severity=alert.severity,
        summary=fit(AlertRow.summary, alert.summary),
        source=fit(AlertRow.source, alert.source) if alert.source else None,
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
    store: IngestStore,
    config: ConfigSet,
    integration: Integration,
    alert: Alert,
    fp: str,
    now: datetime,
    actor: Actor,
    services: ServiceDirectory,
) -> tuple[str, list[int], list[int]]:
    """A new episode: one row per destination; incidents opened or joined where it pages."""
    from oncall.store.ingest import opening

    routed = route(config, integration.name, alert.labels, now, alert.dedup_key)
    alert_ids: list[int] = []
    incidents: list[int] = []
    for destination in routed.destinations:
        svc_row = (
            services.get(session, config, destination.service) if destination.service else None
        )
        reason = _suppression(destination)
        if reason is None:
            paging = opening(config, integration, alert, now, destination,
                             svc_row.id if svc_row is not None else None)
            if paging is not None:
                opened = store.open_or_join(session, paging)
                alert_ids.append(opened.alert_id)
                incidents.append(opened.incident_id)
                continue
        if destination.service is not None and (
                svc_row is None or config.services.get(destination.service) is None):
            reason = f"service {destination.service} is not applied"
        row = _new_row(integration, alert, fp, now, FIRING)
        row.routing_rule_name = destination.rule
        row.suppressed_reason = reason
        row.service_id = svc_row.id if svc_row is not None else None
        session.add(row)
        session.flush()
        alert_ids.append(row.id)
        events.record(
            session, at=now, actor=actor, type=events.SUPPRESSED,
            data={"alert_id": row.id, "reason": row.suppressed_reason,
                  "service": destination.service, "dedup_key": alert.dedup_key},
        )
    session.flush()
    return (NEW if incidents else SUPPRESSED), alert_ids, incidents


def _resolved_before(
    session: Session,
    rows: Sequence[AlertRow],
    integration: Integration,
    alert: Alert,
    fp: str,
    now: datetime,
) -> tuple[str, list[int], list[int]]:
    """A resolve with nothing firing: remember its time so a late trigger stays resolved."""
    if rows:
        latest = rows[0]
        if latest.last_event_at >= alert.occurred_at:
            return DEDUPLICATED, [latest.id], []
        latest.last_event_at = alert.occurred_at
        session.flush()
        return DEDUPLICATED, [latest.id], []
    row = _new_row(integration, alert, fp, now, RESOLVED)
    session.add(row)
    session.flush()
    return RESOLVED_OUTCOME, [row.id], []


def _acknowledge(
    session: Session, firing: Sequence[AlertRow], alert: Alert, now: datetime, actor: Actor
) -> tuple[str, list[int], list[int]]:
    _bump(session, firing, alert.occurred_at)
    incidents: list[int] = []
    changed = False
    for incident_id in dict.fromkeys(r.incident_id for r in firing if r.incident_id is not None):
        incidents.append(incident_id)
        changed |= service.acknowledge(session, incident_id, actor, now).changed
    outcome = ACKNOWLEDGED_OUTCOME if changed else DEDUPLICATED
    return outcome, [row.id for row in firing], incidents
