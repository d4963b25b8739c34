"""Ingest on PostgreSQL: each hot operation one statement, sent from the event loop.

Nearly every delivery is one trigger without a provider delivery id, and is either a repeat of
an alert already firing or the first event of a new alert. Through the ORM each cost a dozen
statements and most of ingest's CPU; here each is one statement (plus, for a new alert, the
advisory lock and the read `pipeline` takes too), on autocommit asyncio connections
(`oncall.db.aio`), with concurrent repeats sent together (`ingest_batch`). Anything else runs
`pipeline.ingest` in a thread, whose session executes the same statements through psycopg.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors
from psycopg.rows import namedtuple_row
from sqlalchemy import Engine, bindparam, update
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.core import incident as machine
from oncall.core.alerts import Alert
from oncall.core.incident import START_CYCLE, START_STEP, Status
from oncall.core.routing import route
from oncall.db.aio import AsyncPostgres, Compiled
from oncall.db.models import AlertDeliveryRow, AlertRow, fit, fit_optional
from oncall.incidents import events, service
from oncall.incidents.actors import Actor
from oncall.ingest import replays
from oncall.ingest.pipeline import (
    DEDUPLICATED,
    DELIVERY,
    DELIVERY_COLUMNS,
    FIRING,
    MAX_ROWS_PER_ALERT,
    NEW,
    RESOLVED_OUTCOME,
    Result,
    ServiceDirectory,
    alert_annotations,
    alert_fingerprint,
    delivery_values,
    single_plain_resolve,
    single_plain_trigger,
)
from oncall.store import timers
from oncall.store.ingest import (
    SOURCE_RESOLVED,
    IngestStore,
    Opened,
    Opening,
    opening,
    resolved_alerts,
)
from oncall.store.ingest_batch import RepeatBatcher
from oncall.store.outbox import INCIDENTS
from oncall.store.outbox_postgres import posted_async, settle_async

REPEAT_SQL = """
WITH bumped AS (
    UPDATE alerts SET last_event_at = GREATEST(last_event_at, %(at)s)
    WHERE integration_name = %(integration)s AND fingerprint = %(fp)s AND status = 'firing'
    RETURNING id, incident_id
), recorded AS (
    INSERT INTO alert_deliveries
        (integration_name, delivery_id, alert_id, event_action, outcome, payload, received_at)
    SELECT %(integration)s, %(delivery_id)s, min(id), 'trigger', 'deduplicated',
           %(payload)s::jsonb, %(now)s
    FROM bumped HAVING count(*) > 0
    RETURNING id
)
SELECT id, incident_id FROM bumped ORDER BY id
"""
"""A trigger for an alert already firing: bump its last event time, record the delivery. Row
locks on the firing rows make it safe beside the general path, which changes those rows only
while holding them too; with no firing rows it writes nothing."""

_LOCK_SQL = "SELECT pg_advisory_xact_lock(%(lock)s)"

_SERVICE_SQL = "SELECT id FROM services WHERE name = %(name)s AND retired_at IS NULL"

_KNOWN_SQL = f"""
SELECT id, status, last_event_at, incident_id FROM alerts
WHERE integration_name = %(integration)s AND fingerprint = %(fp)s
ORDER BY id DESC LIMIT {MAX_ROWS_PER_ALERT}
"""
"""The alert's rows as `pipeline` reads them (newest first), under its lock."""

_RESOLVE_ALERTS_SQL = """
UPDATE alerts SET status = 'resolved', resolved_at = %(at)s, last_event_at = %(at)s
WHERE id = ANY(%(ids)s)
"""

_SETTLING_SQL = """
SELECT i.id, i.status, i.escalation_generation, i.escalation_cycle, i.escalation_step,
       i.assignee_id, i.priority, i.version,
       (SELECT count(*) FROM alerts a WHERE a.incident_id = i.id AND a.status = 'firing') AS left
FROM incidents i WHERE i.id = ANY(%(ids)s)
"""
"""Each incident a resolve touched, as the state machine needs it, and its alerts still firing
(read after the resolve's own rows changed, in its transaction)."""

_DELIVERY_AIO = Compiled(DELIVERY.values({
    name: bindparam(name) for name in DELIVERY_COLUMNS}))

_CLAIM_SQL = (
    "INSERT INTO ingest_replays (integration, digest, expires_at)"
    " VALUES (%(integration)s, %(digest)s, %(expires_at)s)"
    " ON CONFLICT DO NOTHING RETURNING digest"
)

# Open the group's incident or join the open one (the partial unique index on open incidents
# arbitrates between concurrent openers), store the alert, start escalation for a new incident,
# write the audit events and, if `deliver`, the delivery. The events go in one INSERT ordered
# by `ord`, so "triggered" precedes "alert" on the timeline.
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
    SELECT id, 0, 0, 0, %(now)s, %(timer_pending)s, 0, %(now)s FROM incident
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
    FROM alert WHERE %(deliver)s
)
SELECT incident.id, alert.id, incident.created FROM incident, alert
"""

RETRIES = 3
"""Deadlocks and serialisation failures are retried, each in a new transaction."""
_RETRYABLE = (errors.DeadlockDetected, errors.SerializationFailure)


def alert_lock_key(integration: str, fingerprint: str) -> int:
    """The advisory lock that serialises the read-then-write of one alert's rows."""
    digest = hashlib.sha256(f"alert\0{integration}\0{fingerprint}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def repeat_params(integration: str, alert: Alert, now: datetime) -> dict[str, Any]:
    return {
        "at": alert.occurred_at,
        "integration": integration,
        "fp": alert_fingerprint(alert.dedup_key),
        "delivery_id": fit_optional(AlertDeliveryRow.delivery_id, alert.delivery_id),
        "payload": json.dumps(alert.to_json()),
        "now": now,
    }


def repeat_result(rows: Sequence[tuple[Any, ...]]) -> Result | None:
    """What `REPEAT_SQL` returned, as the delivery's Result; None: no firing alert to repeat."""
    if not rows:
        return None
    result = Result()
    result._add(DEDUPLICATED, [row[0] for row in rows],
                [row[1] for row in rows if row[1] is not None])
    return result


def open_params(opening: Opening, deliver: bool) -> dict[str, Any]:
    alert, destination, name = opening.alert, opening.destination, opening.integration.name
    annotations = alert_annotations(alert)
    return {
        "title": opening.title,
        "triggered": Status.TRIGGERED.value, "timer_pending": timers.PENDING,
        "priority": destination.priority,
        "urgency": opening.urgency,
        "service_id": opening.service_id,
        "group_key": opening.group_key,
        "labels": json.dumps(dict(alert.labels)),
        "policy": opening.escalation_policy,
        "start_cycle": START_CYCLE,
        "start_step": START_STEP,
        "now": opening.now,
        "integration": name,
        "fp": opening.fingerprint,
        "dedup_key": fit(AlertRow.dedup_key, alert.dedup_key),
        "severity": alert.severity,
        "summary": fit(AlertRow.summary, alert.summary),
        "source": fit_optional(AlertRow.source, alert.source or None),
        "annotations": json.dumps(annotations) if annotations is not None else None,
        "rule": destination.rule,
        "occurred_at": alert.occurred_at,
        "actor": Actor.integration(name).label,
        "triggered_type": events.TRIGGERED,
        "triggered_data": json.dumps(opening.triggered_data()),
        "alert_type": events.ALERT,
        "alert_data": json.dumps(opening.alert_data()),
        "outcome": NEW,
        "payload": json.dumps(alert.to_json()) if deliver else None,
        "deliver": deliver,
    }


class _Fallback(Exception):
    """Roll the signed fast path back, its replay claim included: the general path decides."""


class PostgresIngest(IngestStore):
    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.postgres = AsyncPostgres(engine.url)
        self.repeats = RepeatBatcher(self.postgres, REPEAT_SQL)
        self.timers = timers.Timers(engine)

    async def open(self) -> None:
        await self.postgres.open()

    async def close(self) -> None:
        await self.postgres.close()

    # --- the general path's operations, on its session ------------------------------------

    def claim(self, session: Session, mark: replays.Mark | None) -> None:
        if mark is None:
            return
        found = session.connection().exec_driver_sql(_CLAIM_SQL, mark.values()).first()
        if found is None:
            raise replays.Replayed(f"integration {mark.integration}: signature accepted before")

    def lock_alert(self, session: Session, integration: str, fingerprint: str) -> None:
        session.connection().exec_driver_sql(
            _LOCK_SQL, {"lock": alert_lock_key(integration, fingerprint)})

    def repeat(self, session: Session, integration: str, alert: Alert, now: datetime
               ) -> list[tuple[int, int | None]]:
        rows = session.connection().exec_driver_sql(
            REPEAT_SQL, repeat_params(integration, alert, now))
        return [(row[0], row[1]) for row in rows]

    def open_or_join(self, session: Session, opening: Opening) -> Opened:
        session.flush()  # the session's pending rows first, in the order they were made
        row = session.connection().exec_driver_sql(
            _OPEN_SQL, open_params(opening, deliver=False)).one()
        return Opened(incident_id=row[0], alert_id=row[1], created=row[2])

    # --- the fast path, on the event loop -------------------------------------------------

    async def accept(self, config: ConfigSet, integration: Integration, alerts: list[Alert],
                     now: datetime, services: ServiceDirectory,
                     mark: replays.Mark | None = None) -> Result:
        if single_plain_resolve(alerts) and mark is None:
            resolved = await self._resolve(integration, alerts[0], now)
            if resolved is not None:
                return resolved
        if not single_plain_trigger(alerts):
            return await self.general_in_thread(config, integration, alerts, now, services, mark)
        alert = alerts[0]
        if mark is not None:
            result = await self._signed(config, integration, alert, now, services, mark)
        else:
            result = await self._plain(config, integration, alert, now, services)
        if result is not None:
            return result
        return await self.general_in_thread(config, integration, alerts, now, services, mark,
                                            repeat_tried=mark is None)

    async def _plain(self, config: ConfigSet, integration: Integration, alert: Alert,
                     now: datetime, services: ServiceDirectory) -> Result | None:
        """A repeat through the batcher, else a new alert; None: the general path decides."""
        name = integration.name
        try:
            repeated = repeat_result(await self.repeats.submit(repeat_params(name, alert, now)))
            if repeated is None and await self.repeats.wait_for_opener(name, alert):
                repeated = repeat_result(
                    await self.repeats.submit(repeat_params(name, alert, now)))
        except _RETRYABLE:
            repeated = None  # `store` tries again, with its retries
        if repeated is not None:
            return repeated
        async with self.repeats.opening(name, alert), self.postgres.connection() as conn:
            return await self.store(conn, config, integration, alert, now, services,
                                    repeat_tried=True)

    async def _signed(self, config: ConfigSet, integration: Integration, alert: Alert,
                      now: datetime, services: ServiceDirectory, mark: replays.Mark
                      ) -> Result | None:
        """The replay claim, the repeat or the new alert in one transaction (not batched: the
        claim must commit or roll back with this delivery alone)."""
        async def claimed(conn: psycopg.AsyncConnection) -> Result:
            cursor = await conn.execute(_CLAIM_SQL, mark.values())
            if await cursor.fetchone() is None:
                raise replays.Replayed(
                    f"integration {mark.integration}: signature accepted before")
            result = (await self.repeat_async(conn, integration, alert, now)
                      or await self.open_async(conn, config, integration, alert, now, services))
            if result is None:
                raise _Fallback
            return result

        return await self._transaction(claimed)

    async def _transaction(self, work: Callable[[psycopg.AsyncConnection], Awaitable[Result]]
                           ) -> Result | None:
        """`work` in one transaction on a pooled connection, retried on deadlocks and
        serialisation failures; None if it raised `_Fallback` (rolled back)."""
        for attempt in range(RETRIES):
            try:
                async with self.postgres.connection() as conn, conn.transaction():
                    return await work(conn)
            except _Fallback:
                return None
            except _RETRYABLE:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def store(self, conn: psycopg.AsyncConnection, config: ConfigSet,
                    integration: Integration, alert: Alert, now: datetime,
                    services: ServiceDirectory, repeat_tried: bool = False) -> Result | None:
        """A repeat, else a new alert; None: the general path decides. `conn` autocommits.
        `repeat_tried`: the caller found no firing alert to repeat."""
        for attempt in range(RETRIES):
            try:
                repeated = None
                if attempt > 0 or not repeat_tried:
                    repeated = await self.repeat_async(conn, integration, alert, now)
                return repeated or await self.open_async(conn, config, integration, alert, now,
                                                         services)
            except _RETRYABLE:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    async def _resolve(self, integration: Integration, alert: Alert, now: datetime
                       ) -> Result | None:
        """A lone resolve of a firing alert on the event loop, as `IngestStore.resolve` and
        `incidents.service.resolve` would write it on the general path; None: the general
        path decides (nothing firing, an event older than what is known, a concurrent change
        of an incident)."""
        return await self._transaction(
            lambda conn: self.resolve_async(conn, integration, alert, now))

    async def resolve_async(self, conn: psycopg.AsyncConnection, integration: Integration,
                            alert: Alert, now: datetime) -> Result:
        """The resolve in the caller's transaction, in four round trips; `_Fallback` rolls it
        back for the general path."""
        name, at = integration.name, alert.occurred_at
        actor = Actor.integration(name)
        fp = alert_fingerprint(alert.dedup_key)
        async with conn.pipeline():
            await conn.execute(_LOCK_SQL, {"lock": alert_lock_key(name, fp)})
            known = await (await conn.execute(_KNOWN_SQL, {"integration": name, "fp": fp})
                           ).fetchall()
        firing = [(row[0], row[3]) for row in known if row[1] == FIRING]
        if not firing or any(row[2] > at for row in known):
            raise _Fallback  # resolved before, or stale: `pipeline` decides
        noted = resolved_alerts(firing, alert)
        async with conn.pipeline():
            await conn.execute(_RESOLVE_ALERTS_SQL, {"at": at, "ids": [a for a, _ in firing]})
            for incident_id, data in noted:
                await events.write_async(conn, at=now, actor=actor, type=events.ALERT,
                                         incident_id=incident_id, data=data)
            settling: psycopg.AsyncCursor[Any] = conn.cursor(row_factory=namedtuple_row)
            await settling.execute(_SETTLING_SQL, {"ids": [i for i, _ in noted]})
            read = {row.id: row for row in await settling.fetchall()}
            incidents: list[Any] = [read[i] for i, _ in noted if read[i].left == 0]
            posted = {row.id: await posted_async(conn, row.id) for row in incidents}
        async with conn.pipeline():
            for row in incidents:
                await self._settle(conn, row, posted[row.id], actor, now)
            await _DELIVERY_AIO.execute(conn, {**delivery_values(
                name, alert, RESOLVED_OUTCOME, [a for a, _ in firing], now),
                "payload": json.dumps(alert.to_json())})
        result = Result()
        result._add(RESOLVED_OUTCOME, [a for a, _ in firing], [i for i, _ in noted])
        return result

    async def _settle(self, conn: psycopg.AsyncConnection, row: Any, posted: list[Any],
                      actor: Actor, now: datetime) -> None:
        """`incidents.service.resolve` of an incident whose last firing alert resolved."""
        t = machine.decide(service.state_of(row), machine.Resolve(), now)
        if not t.changed:
            return
        if t.refused is not None or t.timer is not None or t.hasten or t.event is None:
            raise _Fallback
        columns = service.transition_columns(t, actor, now)
        updated = await _incident_update(tuple(columns)).execute(
            conn, {"iid": row.id, "expected": t.before.version,
                   **{f"v_{name}": value for name, value in columns.items()}})
        if await updated.fetchone() is None:
            raise _Fallback  # changed meanwhile: the general path reads it again
        if t.stop_escalation:
            await self.timers.cancel_pending_async(conn, row.id, now)
        status = t.after.status
        await settle_async(conn, row.id, now, stop=t.stop_escalation,
                           status=status.value if status is not t.before.status
                           and status is not Status.TRIGGERED else None, posted=posted)
        before, after = service.settled(t)
        await events.write_async(conn, at=now, actor=actor, type=t.event.value,
                                 incident_id=row.id, before=before, after=after,
                                 data={"note": SOURCE_RESOLVED})

    @staticmethod
    async def repeat_async(conn: psycopg.AsyncConnection, integration: Integration,
                           alert: Alert, now: datetime) -> Result | None:
        """`REPEAT_SQL` as one autocommitted statement: one round trip."""
        cursor = await conn.execute(REPEAT_SQL, repeat_params(integration.name, alert, now))
        return repeat_result(await cursor.fetchall())

    async def open_async(self, conn: psycopg.AsyncConnection, config: ConfigSet,
                         integration: Integration, alert: Alert, now: datetime,
                         services: ServiceDirectory) -> Result | None:
        """The first event of a new alert, routed to one service that pages.

        Under the alert's advisory lock, as in the general path. If the alert turns out to be
        firing already (a concurrent delivery won), it is recorded as a repeat; if this event
        is older than what is known, None is returned and the general path decides.
        """
        name = integration.name
        routed = route(config, name, alert.labels, now, alert.dedup_key)
        if len(routed.destinations) != 1 or not routed.destinations[0].pages:
            return None
        destination = routed.destinations[0]
        assert destination.service is not None  # pages: not dropped
        service_id = await _service_id(conn, services, config, destination.service)
        paging = opening(config, integration, alert, now, destination, service_id)
        if paging is None:
            return None
        fp = paging.fingerprint
        # Pipelined: BEGIN, the lock and the read go in one round trip, the write and COMMIT
        # in another, so the transaction (and the lock) is held for two round trips, not five.
        async with conn.pipeline(), conn.transaction():
            await conn.execute(_LOCK_SQL, {"lock": alert_lock_key(name, fp)})
            known = await (await conn.execute(_KNOWN_SQL, {"integration": name, "fp": fp})
                           ).fetchall()
            if any(row[1] == FIRING for row in known):
                # a concurrent delivery of the same alert opened it since the repeat looked
                # (an alert storm): now it is visible, so this is a repeat after all
                return await self.repeat_async(conn, integration, alert, now)
            if any(row[2] > alert.occurred_at for row in known):
                return None  # leaving the block commits a transaction that wrote nothing
            opened = await conn.execute(_OPEN_SQL, open_params(paging, deliver=True))
        row = await opened.fetchone()
        assert row is not None
        result = Result()
        result._add(NEW, [row[1]], [row[0]])
        return result


@functools.cache
def _incident_update(columns: tuple[str, ...]) -> Compiled:
    """The compare-and-set of a transition that changes `columns` (`transition_columns`),
    compiled once per set of columns."""
    return Compiled(
        update(INCIDENTS)
        .where(INCIDENTS.c.id == bindparam("iid"), INCIDENTS.c.version == bindparam("expected"))
        .values({name: bindparam(f"v_{name}") for name in columns})
        .returning(INCIDENTS.c.id))


async def _service_id(conn: psycopg.AsyncConnection, services: ServiceDirectory,
                      config: ConfigSet, name: str) -> int | None:
    found = services.cached_id(config, name)
    if found is None:
        row = await (await conn.execute(_SERVICE_SQL, {"name": name})).fetchone()
        if row is not None:
            found = int(row[0])
            services.remember_id(config, name, found)
    return found
