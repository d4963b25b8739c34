"""The two common deliveries in as few PostgreSQL round trips as possible.

Nearly every delivery is one trigger without a provider delivery id, and is either a repeat of
an alert already firing or the first event of a new alert. Through the ORM each costs a dozen
statements and most of ingest's CPU; here each is one statement (plus, for a new alert, the
advisory lock and the read that `pipeline._one` takes too). They write exactly the rows
`pipeline.ingest` writes, which tests/ingest/test_fastpath.py checks row by row, and they
return None for anything else, so the caller runs `pipeline.ingest` for the rest: other
actions, delivery ids, stale events, several destinations, suppression.

PostgreSQL only, on the event loop through `oncall.db.aio`; SQLite (the embedded default) has
its own in `fastpath_sqlite`. Concurrent repeats are sent together by `repeats`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors

from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.core.alerts import Alert
from oncall.core.routing import route
from oncall.incidents import events
from oncall.incidents.actors import Actor
from oncall.incidents.service import START_CYCLE, START_STEP, TRIGGERED
from oncall.ingest.pipeline import (
    DEDUPLICATED,
    FIRING,
    MAX_ROWS_PER_ALERT,
    NEW,
    Result,
    ServiceDirectory,
    alert_annotations,
    alert_fingerprint,
    alert_lock_key,
    single_plain_trigger,
)

REPEAT_SQL = """
WITH bumped AS (
    UPDATE alerts SET last_event_at = GREATEST(last_event_at, %(at)s)
    WHERE integration_name = %(integration)s AND fingerprint = %(fp)s AND status = 'firing'
    RETURNING id, incident_id
), recorded AS (
    INSERT INTO alert_deliveries
        (integration_name, delivery_id, alert_id, event_action, outcome, payload, received_at)
    SELECT %(integration)s, NULL, min(id), 'trigger', 'deduplicated', %(payload)s::jsonb,
           %(now)s
    FROM bumped HAVING count(*) > 0
    RETURNING id
)
SELECT id, incident_id FROM bumped ORDER BY id
"""

_LOCK_SQL = "SELECT pg_advisory_xact_lock(%(lock)s)"

_SERVICE_SQL = "SELECT id FROM services WHERE name = %(name)s AND retired_at IS NULL"

_KNOWN_SQL = f"""
SELECT status, last_event_at FROM alerts
WHERE integration_name = %(integration)s AND fingerprint = %(fp)s
ORDER BY id DESC LIMIT {MAX_ROWS_PER_ALERT}
"""

# One new alert routed to one paging service: open the group's incident or join the open one
# (the partial unique index on open incidents arbitrates between concurrent openers), store the
# alert, start escalation for a new incident, and write the audit events and the delivery.
# The events go in one INSERT ordered by `ord`, so "triggered" precedes "alert" on the timeline.
_OPEN_SQL = """
WITH incident AS (
    INSERT INTO incidents
        (title, status, priority, urgency, service_id, group_key, labels,
         escalation_policy_name, escalation_generation, escalation_cycle, escalation_step,
         version, alert_count, triggered_at, last_alert_at, updated_at)
    VALUES (%(title)s, %(triggered)s, %(priority)s, %(urgency)s, %(service_id)s, %(group_key)s,
            %(labels)s::jsonb, %(policy)s, 0, %(start_cycle)s, %(start_step)s, 0, 1, %(now)s,
            %(now)s, %(now)s)
    ON CONFLICT (service_id, group_key) WHERE status != 'resolved'
    DO UPDATE SET alert_count = incidents.alert_count + 1,
                  last_alert_at = EXCLUDED.last_alert_at, updated_at = EXCLUDED.updated_at
    RETURNING id, alert_count = 1 AS created, status, priority, assignee_id  -- new ones start at 1
), alert AS (
    INSERT INTO alerts
        (integration_name, fingerprint, dedup_key, status, severity, summary, source, labels,
         annotations, service_id, incident_id, routing_rule_name, suppressed_reason,
         occurred_at, received_at, last_event_at, resolved_at)
    SELECT %(integration)s, %(fp)s, %(dedup_key)s, 'firing', %(severity)s, %(summary)s,
           %(source)s, %(labels)s::jsonb, %(annotations)s::jsonb, %(service_id)s, incident.id,
           %(rule)s, NULL, %(occurred_at)s, %(now)s, %(occurred_at)s, NULL
    FROM incident
    RETURNING id
), timer AS (
    INSERT INTO escalation_timers
        (incident_id, generation, cycle, step, due_at, status, attempts, created_at)
    SELECT id, 0, 0, 0, %(now)s, 'pending', 0, %(now)s FROM incident
    WHERE created AND %(policy)s::text IS NOT NULL
), event AS (
    INSERT INTO audit_events
        (at, actor, type, incident_id, subject_kind, subject_name, before, after, data)
    SELECT %(now)s, %(actor)s, e.type, incident.id, 'incident', incident.id::text, NULL,
           e.after, e.data
    FROM incident, alert, LATERAL (VALUES
        (1, %(triggered_type)s,
         jsonb_build_object('status', incident.status, 'priority', incident.priority,
                            'assignee_id', incident.assignee_id),
         %(triggered_data)s::jsonb),
        (2, %(alert_type)s, NULL,
         %(alert_data)s::jsonb || jsonb_build_object('alert_id', alert.id,
                                                     'joined', NOT incident.created))
    ) AS e(ord, type, after, data)
    WHERE e.ord = 2 OR incident.created
    ORDER BY e.ord
), delivery AS (
    INSERT INTO alert_deliveries
        (integration_name, delivery_id, alert_id, event_action, outcome, payload, received_at)
    SELECT %(integration)s, NULL, alert.id, 'trigger', %(outcome)s, %(payload)s::jsonb, %(now)s
    FROM alert
)
SELECT incident.id, alert.id FROM incident, alert
"""


RETRIES = 3
"""Deadlocks and serialisation failures are retried, each in a new transaction."""


def fast_path_applies(dialect: str, alerts: Sequence[Alert]) -> bool:
    """One trigger without a delivery id, on PostgreSQL: the deliveries these paths take."""
    return dialect == "postgresql" and single_plain_trigger(alerts)


async def store(conn: psycopg.AsyncConnection, config: ConfigSet, integration: Integration,
                alert: Alert, now: datetime, services: ServiceDirectory,
                repeat_tried: bool = False) -> Result | None:
    """A repeat, else a new alert; None: `pipeline.ingest` must decide. `conn` autocommits.
    `repeat_tried`: the caller found no firing alert to repeat (`repeats.RepeatBatcher`)."""
    for attempt in range(RETRIES):
        try:
            repeated = None
            if attempt > 0 or not repeat_tried:
                repeated = await repeat_trigger(conn, integration, alert, now)
            return repeated or await open_trigger(conn, config, integration, alert, now,
                                                  services)
        except (errors.DeadlockDetected, errors.SerializationFailure):
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def repeat_trigger(conn: psycopg.AsyncConnection, integration: Integration, alert: Alert,
                         now: datetime) -> Result | None:
    """A trigger for an alert already firing: bump its last event time and record the delivery.

    One autocommitted statement, so one round trip. Row locks on the firing rows make it safe
    beside `pipeline.ingest`, which changes those rows only while holding them too.
    """
    rows = await (await conn.execute(REPEAT_SQL, repeat_params(integration.name, alert, now))
                  ).fetchall()
    return repeat_result(rows)


def repeat_params(integration: str, alert: Alert, now: datetime) -> dict[str, Any]:
    return {
        "at": alert.occurred_at,
        "integration": integration,
        "fp": alert_fingerprint(alert.dedup_key),
        "payload": json.dumps(alert.to_json()),
        "now": now,
    }


def repeat_result(rows: Sequence[tuple[int, int | None]]) -> Result | None:
    """What `REPEAT_SQL` returned, as the delivery's Result; None: no firing alert to repeat."""
    if not rows:
        return None
    result = Result()
    result._add(DEDUPLICATED, [row[0] for row in rows],
                [row[1] for row in rows if row[1] is not None])
    return result


async def _service_id(conn: psycopg.AsyncConnection, services: ServiceDirectory,
                      config: ConfigSet, name: str) -> int | None:
    found = services.cached_id(config, name)
    if found is None:
        row = await (await conn.execute(_SERVICE_SQL, {"name": name})).fetchone()
        if row is not None:
            found = int(row[0])
            services.remember_id(config, name, found)
    return found


async def open_trigger(conn: psycopg.AsyncConnection, config: ConfigSet,
                       integration: Integration, alert: Alert, now: datetime,
                       services: ServiceDirectory) -> Result | None:
    """The first event of a new alert, routed to one service that pages.

    Under the alert's advisory lock, as in `pipeline._one`. If the alert turns out to be firing
    already (a concurrent delivery won), it is recorded as a repeat; if this event is older
    than what is known, None is returned and `pipeline.ingest` decides.
    """
    name = integration.name
    fp = alert_fingerprint(alert.dedup_key)
    routed = route(config, name, alert.labels, now, alert.dedup_key)
    if len(routed.destinations) != 1 or not routed.destinations[0].pages:
        return None
    destination = routed.destinations[0]
    assert destination.service is not None  # pages: not dropped
    svc_config = config.services.get(destination.service)
    service_id = await _service_id(conn, services, config, destination.service)
    if svc_config is None or service_id is None:
        return None
    labels = json.dumps(dict(alert.labels))
    annotations = alert_annotations(alert)
    params: dict[str, Any] = {
        "title": alert.summary[:1024],
        "triggered": TRIGGERED,
        "priority": destination.priority,
        "urgency": svc_config.urgency,
        "service_id": service_id,
        "group_key": destination.group_key[:512],
        "labels": labels,
        "policy": svc_config.escalation_policy,
        "start_cycle": START_CYCLE,
        "start_step": START_STEP,
        "now": now,
        "integration": name,
        "fp": fp,
        "dedup_key": alert.dedup_key[:512],
        "severity": alert.severity,
        "summary": alert.summary[:1024],
        "source": alert.source[:1024] if alert.source else None,
        "annotations": json.dumps(annotations) if annotations is not None else None,
        "rule": destination.rule,
        "occurred_at": alert.occurred_at,
        "actor": Actor.integration(name).label,
        "triggered_type": events.TRIGGERED,
        "triggered_data": json.dumps({"service": destination.service,
                                      "group_key": destination.group_key[:512],
                                      "title": alert.summary[:1024]}),
        "alert_type": events.ALERT,
        "alert_data": json.dumps({"summary": alert.summary[:1024],
                                  "severity": alert.severity,
                                  "dedup_key": alert.dedup_key,
                                  "rule": destination.rule}),
        "outcome": NEW,
        "payload": json.dumps(alert.to_json()),
    }
    # Pipelined: BEGIN, the lock and the read go in one round trip, the write and COMMIT in
    # another, so the transaction (and the lock) is held for two round trips, not five.
    async with conn.pipeline(), conn.transaction():
        await conn.execute(_LOCK_SQL, {"lock": alert_lock_key(name, fp)})
        known = await (await conn.execute(_KNOWN_SQL, {"integration": name, "fp": fp})).fetchall()
        if any(status == FIRING for status, _ in known):
            # a concurrent delivery of the same alert opened it since `repeat_trigger` looked
            # (an alert storm): now it is visible, so this is a repeat after all
            return await repeat_trigger(conn, integration, alert, now)
        if any(last > alert.occurred_at for _, last in known):
            return None  # leaving the block commits a transaction that wrote nothing
        opened = await conn.execute(_OPEN_SQL, params)
    row = await opened.fetchone()
    assert row is not None
    result = Result()
    result._add(NEW, [row[1]], [row[0]])
    return result
