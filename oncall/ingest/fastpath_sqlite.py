"""The two common deliveries on SQLite (the embedded default) in SQLAlchemy Core, not the ORM.

SQLite has one writer at a time, shared by the API and the workers, so what a write costs is
how long it holds the database. Through the ORM a new alert held it for 3-5 ms (a dozen
statements, each flushed through the unit of work); here the same rows go in a few Core
statements built once, with the routing decided before the transaction begins: under 1 ms.
They write exactly the rows `pipeline.ingest` writes, which tests/ingest/test_fastpath.py
checks row by row on both backends, as `fastpath` does on PostgreSQL; anything else returns
None and the caller runs `pipeline.ingest`.

BEGIN IMMEDIATE serialises writers, so no advisory lock is needed: what the transaction reads,
no one changes before it commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, bindparam, insert, select
from sqlalchemy.dialects.sqlite import insert as upsert

from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.core.alerts import Alert
from oncall.core.routing import Destination, route
from oncall.db.engine import write_connection
from oncall.db.models import (
    AlertRow,
    AuditEventRow,
    EscalationTimerRow,
    IncidentRow,
)
from oncall.incidents import events
from oncall.incidents.actors import Actor
from oncall.incidents.service import RESOLVED, START_CYCLE, START_STEP, TRIGGERED
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
    repeat_trigger,
    single_plain_trigger,
)

_incidents = IncidentRow.__table__
# Built once: a statement made per call costs more to build and key than to run.
_KNOWN = (
    select(AlertRow.last_event_at)
    .where(AlertRow.integration_name == bindparam("integration"),
           AlertRow.fingerprint == bindparam("fp"))
    .order_by(AlertRow.id.desc()).limit(MAX_ROWS_PER_ALERT)
)
_upsert = upsert(IncidentRow)
_OPEN = _upsert.on_conflict_do_update(
    index_elements=[_incidents.c.service_id, _incidents.c.group_key],
    index_where=_incidents.c.status != RESOLVED,
    set_={"alert_count": _incidents.c.alert_count + 1,
          "last_alert_at": _upsert.excluded.last_alert_at,
          "updated_at": _upsert.excluded.updated_at},
).returning(IncidentRow.id, IncidentRow.alert_count, IncidentRow.status, IncidentRow.priority,
            IncidentRow.assignee_id)
_ALERT = insert(AlertRow).returning(AlertRow.id)
_TIMER = insert(EscalationTimerRow)
_EVENTS = insert(AuditEventRow)


def fast_path_applies(dialect: str, alerts: list[Alert]) -> bool:
    """One trigger without a delivery id, on SQLite."""
    return dialect == "sqlite" and single_plain_trigger(alerts)


class _Fallback(Exception):
    """Roll back (the replay claim included): `pipeline.ingest` decides in a new transaction."""


def store(engine: Engine, config: ConfigSet, integration: Integration, alert: Alert,
          now: datetime, services: ServiceDirectory, replay: replays.Mark | None = None
          ) -> Result | None:
    """A repeat, else a new alert routed to one paging service; None: `pipeline.ingest`.
    `replay`: a signed delivery's mark, claimed first (`replays.Replayed` if taken)."""
    routed = route(config, integration.name, alert.labels, now, alert.dedup_key)
    single = len(routed.destinations) == 1 and routed.destinations[0].pages
    try:
        with write_connection(engine) as conn:
            replays.claim(conn, replay)
            result = _repeat(conn, integration.name, alert, now)
            if result is None and single:
                result = _open(conn, config, integration, alert, now, services,
                               routed.destinations[0])
            if result is None and replay is not None:
                raise _Fallback
            return result
    except _Fallback:
        return None


def _repeat(conn: Connection, integration: str, alert: Alert, now: datetime) -> Result | None:
    rows = repeat_trigger(conn, integration, alert_fingerprint(alert.dedup_key),
                          alert.occurred_at)
    if not rows:
        return None
    alert_ids = [row[0] for row in rows]
    conn.execute(DELIVERY, delivery_values(integration, alert, DEDUPLICATED, alert_ids, now))
    result = Result()
    result._add(DEDUPLICATED, alert_ids, [row[1] for row in rows if row[1] is not None])
    return result


def _open(conn: Connection, config: ConfigSet, integration: Integration, alert: Alert,
          now: datetime, services: ServiceDirectory, destination: Destination) -> Result | None:
    assert destination.service is not None  # it pages: not dropped
    name, fp = integration.name, alert_fingerprint(alert.dedup_key)
    known = conn.execute(_KNOWN, {"integration": name, "fp": fp}).scalars().all()
    if any(last > alert.occurred_at for last in known):
        return None  # an older event: `pipeline.ingest` records it as stale
    svc_config = config.services.get(destination.service)
    service_id = services.id_of(conn, config, destination.service)
    if svc_config is None or service_id is None:
        return None
    title, group_key = alert.summary[:1024], destination.group_key[:512]
    incident = conn.execute(_OPEN, {
        "title": title, "status": TRIGGERED, "priority": destination.priority,
        "urgency": svc_config.urgency, "service_id": service_id, "group_key": group_key,
        "labels": dict(alert.labels), "escalation_policy_name": svc_config.escalation_policy,
        "escalation_generation": 0, "escalation_cycle": START_CYCLE,
        "escalation_step": START_STEP, "version": 0, "alert_count": 1, "triggered_at": now,
        "last_alert_at": now, "updated_at": now,
    }).one()
    incident_id, created = incident[0], incident[1] == 1  # a new one starts at 1
    alert_id = conn.execute(_ALERT, {
        "integration_name": name, "fingerprint": fp, "dedup_key": alert.dedup_key[:512],
        "status": FIRING, "severity": alert.severity, "summary": alert.summary[:1024],
        "source": alert.source[:1024] if alert.source else None, "labels": dict(alert.labels),
        "annotations": alert_annotations(alert), "service_id": service_id,
        "incident_id": incident_id, "routing_rule_name": destination.rule,
        "suppressed_reason": None, "occurred_at": alert.occurred_at, "received_at": now,
        "last_event_at": alert.occurred_at, "resolved_at": None,
    }).scalar_one()
    if created and svc_config.escalation_policy is not None:
        conn.execute(_TIMER, {
            "incident_id": incident_id, "generation": 0, "cycle": 0, "step": 0, "due_at": now,
            "status": "pending", "attempts": 0, "created_at": now,
        })
    actor = Actor.integration(name)
    recorded: list[dict[str, object]] = []
    if created:
        recorded.append(events.row_values(
            at=now, actor=actor, type=events.TRIGGERED, incident_id=incident_id,
            after={"status": incident[2], "priority": incident[3], "assignee_id": incident[4]},
            data={"service": destination.service, "group_key": group_key, "title": title},
        ))
    recorded.append(events.row_values(
        at=now, actor=actor, type=events.ALERT, incident_id=incident_id,
        data={"alert_id": alert_id, "summary": alert.summary[:1024],
              "severity": alert.severity, "dedup_key": alert.dedup_key,
              "rule": destination.rule, "joined": not created},
    ))
    conn.execute(_EVENTS, recorded)
    conn.execute(DELIVERY, delivery_values(name, alert, NEW, [alert_id], now))
    result = Result()
    result._add(NEW, [alert_id], [incident_id])
    return result
