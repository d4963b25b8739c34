"""The outbox on PostgreSQL: the claim is one autocommitted `UPDATE … FROM (SELECT … FOR
UPDATE SKIP LOCKED) RETURNING` that locks, checks, claims (or cancels) and reads what the
notice needs, and the circuits of the providers in the same statement; a plain send is one statement
of data-modifying CTEs (one round trip instead of five with BEGIN and COMMIT), and so is a
workflow step's record unless it cancels the rest of its run."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import Table, bindparam, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert

from oncall.core.delivery import Breaker, Circuit
from oncall.db.aio import Compiled
from oncall.store.outbox import (
    ATTEMPTS,
    CANCEL_PAGES,
    CANDIDATE,
    CIRCUITS,
    EVENTS,
    MARK_SENT,
    MARK_SENT_AT,
    MARK_STEP,
    NOTIFICATIONS,
    PICK,
    PICK_DUE,
    POSTED,
    QUEUED_UPDATE,
    RELEASE_STEP,
    WORKFLOW,
    Call,
    Claim,
    Dispatched,
    Outbox,
    Picked,
    ProviderNames,
    StepRecord,
    claim_values,
    lease_params,
    sent_values,
    update_rows,
)


def _circuits(column: Any) -> Any:
    """One column of every stored circuit, as an array: the table holds a row per provider
    that ever failed, a handful, so the claim reads them all rather than a second time."""
    return select(func.array_agg(aggregate_order_by(column, CIRCUITS.c.provider))) \
        .scalar_subquery()


_CIRCUIT_COLUMNS = (CIRCUITS.c.provider, CIRCUITS.c.circuit, CIRCUITS.c.failures,
                    CIRCUITS.c.opened_at)


def _claim_statement(pick: Any) -> Any:
    picked = pick.with_for_update(of=CANDIDATE, skip_locked=True).subquery("picked")
    return (
        update(NOTIFICATIONS)
        .where(NOTIFICATIONS.c.id == picked.c.id)
        .values(claim_values(picked.c.cancel))
        .returning(*[NOTIFICATIONS.c.attempt_count if name == "attempt_count"
                     else picked.c[name] for name in Picked._fields],
                   *[_circuits(column) for column in _CIRCUIT_COLUMNS])
    )


_CLAIM = _claim_statement(PICK)
_CLAIM_DUE = _claim_statement(PICK_DUE)
_FIELDS = len(Picked._fields)


def _breakers(row: Any, names: list[str]) -> dict[str, Breaker]:
    """The circuits of `names` from the claim's arrays; a provider with no row is closed."""
    providers, circuits, failures, opened = row[_FIELDS:]
    found = {provider: Breaker(Circuit(circuit), count, at)
             for provider, circuit, count, at in zip(providers or (), circuits or (),
                                                      failures or (), opened or (),
                                                      strict=True)}
    return {name: found.get(name, Breaker()) for name in names}


def _bound(table: Table, prefix: str, names: list[str]) -> dict[str, Any]:
    return {name: bindparam(prefix + name, type_=table.c[name].type) for name in names}


def _columns(table: Table) -> list[str]:
    """Every column but the generated id: a value the caller leaves out is an error, not a
    NULL the general path would not have written."""
    return [c.name for c in table.columns if not c.primary_key]


def _one_statement(mark: Any) -> Any:
    return (
        insert(EVENTS).values(_bound(EVENTS, "e_", _columns(EVENTS)))
        .add_cte(mark.cte("marked"))
        .add_cte(insert(ATTEMPTS).values(_bound(ATTEMPTS, "a_", _columns(ATTEMPTS)))
                 .cte("attempted"))
    )


_SENT = _one_statement(MARK_SENT)
_SENT_AT = _one_statement(MARK_SENT_AT)


def _step_statement(outcome: str, attempted: bool, releases: bool) -> Any:
    """A step's record (`write_step` without a cancelled rest) as one statement: the row
    marked if this attempt still holds it, and only then its attempt, its event and the next
    step's release. Selects whether the row was held and the released step's id."""
    marked = MARK_STEP[outcome].cte("marked")

    def copied(table: Table, prefix: str) -> Any:
        names = _columns(table)
        values = select(*_bound(table, prefix, names).values()).select_from(marked)
        return insert(table).from_select(names, values)

    held = select(func.count()).select_from(marked).scalar_subquery().label("held")
    query = select(held)
    ctes = [copied(EVENTS, "e_").cte("evented")]
    if attempted:
        ctes.append(copied(ATTEMPTS, "a_").cte("attempted"))
    if releases:
        released = RELEASE_STEP.where(exists(select(marked.c.id))).cte("released")
        ctes.append(released)
        query = select(held, select(released.c.id).scalar_subquery().label("released"))
    for cte in ctes:
        query = query.add_cte(cte)
    return query


_STEP_STATEMENTS = {(outcome, attempted, releases): _step_statement(outcome, attempted, releases)
                    for outcome in ("sent", "retry", "failed")
                    for attempted in (False, True) for releases in (False, True)}


class PostgresOutbox(Outbox):
    def take(self, ids: list[int] | None, now: datetime, worker: str, lease: timedelta,
             providers: ProviderNames, limit: int) -> list[tuple[Picked, dict[str, Breaker]]]:
        params = {**lease_params(now, lease), "worker": worker}
        query, bound = ((_CLAIM, {"nids": ids}) if ids is not None
                        else (_CLAIM_DUE, {"limit": limit}))
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            rows = conn.execute(query, {**params, **bound}).all()
        taken = []
        for row in sorted(rows, key=lambda row: row.id):
            picked = Picked._make(row[:_FIELDS])
            names = [] if picked.cancel or picked.kind == WORKFLOW else providers(picked.channel)
            taken.append((picked, _breakers(row, names)))
        return taken

    def record_sent(self, sends: list[tuple[int, Call, Claim]], now: datetime) -> None:
        """Each send one statement (`_SENT`), the lot pipelined in one transaction."""
        by_statement: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
        for nid, call, claimed in sends:
            params, attempt_row, event_row = sent_values(nid, call, claimed, claimed.attempt,
                                                         now)
            params.update({f"a_{k}": v for k, v in attempt_row.items()})
            params.update({f"e_{k}": v for k, v in event_row.items()})
            by_statement["data" in params].append(params)
        with self.engine.begin() as conn:
            for with_data, batch in by_statement.items():
                if batch:
                    conn.execute(_SENT_AT if with_data else _SENT, batch)

    def write_step(self, record: StepRecord, now: datetime) -> Dispatched:
        """One autocommitted statement, unless the rest of the run is cancelled (its skipped
        events are read from the rows, so that takes the general path)."""
        if record.cancel:
            return super().write_step(record, now)
        params = dict(record.mark)
        if record.attempt_row is not None:
            params.update({f"a_{k}": v for k, v in record.attempt_row.items()})
        params.update({f"e_{k}": v for k, v in record.event_row.items()})
        if record.release is not None:
            params["key"] = record.release
        statement = _STEP_STATEMENTS[(record.outcome, record.attempt_row is not None,
                                      record.release is not None)]
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            row = conn.execute(statement, params).one()
        if not row.held:
            return Dispatched("skipped")
        released = (row.released,) if record.release is not None and row.released else ()
        return Dispatched(record.outcome, retry_at=record.retry_at, released=released)


# --- an incident settled on the ingest endpoint's asyncio connection ---------------------------

_CANCEL_PAGES_AIO = Compiled(CANCEL_PAGES)
_POSTED_AIO = Compiled(POSTED)
_QUEUE_UPDATE_AIO = Compiled(
    pg_insert(NOTIFICATIONS).values({name: bindparam(name) for name in QUEUED_UPDATE})
    .on_conflict_do_nothing(index_elements=["idempotency_key"]))


async def posted_async(conn: psycopg.AsyncConnection, incident_id: int) -> list[Any]:
    """`POSTED`: read before the incident changes, so the updates are queued with its change."""
    return await (await _POSTED_AIO.execute(conn, {"iid": incident_id})).fetchall()


async def settle_async(conn: psycopg.AsyncConnection, incident_id: int, now: datetime, *,
                       stop: bool, status: str | None, posted: list[Any]) -> None:
    """`cancel_pages` (`stop`) and `queue_updates` for `status`, in the caller's transaction
    on an asyncio connection: the statements of the session path, compiled once; an update
    queued before is skipped by its idempotency key."""
    if stop:
        await _CANCEL_PAGES_AIO.execute(conn, {"iid": incident_id, "now": now})
    if status is None:
        return
    rows = [{**row, "provider_data": None if row["provider_data"] is None
             else json.dumps(row["provider_data"])}
            for row in update_rows([_Posted(*r) for r in posted], incident_id, status, now)]
    if rows:
        await _QUEUE_UPDATE_AIO.execute_many(conn, rows)


class _Posted(NamedTuple):
    id: int
    channel: str
    kind: str
    user_id: int | None
    address: str
    provider_data: dict[str, Any] | None
