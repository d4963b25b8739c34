"""Escalation timers: schedule, find due, claim, hasten, cancel.

One definition serves both databases: every statement is plain Core, built once here. Each
method runs on the caller's connection or session, inside the caller's transaction. Ingest's
open-or-join statement writes an incident's first timer itself; every other write to
`escalation_timers` goes through `Timers`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection, Engine, Row, Table, bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from oncall.db.aio import Compiled
from oncall.db.models import EscalationTimerRow

if TYPE_CHECKING:
    import psycopg

_T = cast(Table, EscalationTimerRow.__table__)

PENDING, DONE, CANCELLED = "pending", "done", "cancelled"

_SCHEDULE = insert(_T).returning(_T.c.id)
_SCHEDULE_MANY = insert(_T).returning(_T.c.id, sort_by_parameter_order=True)

_DUE = (
    select(_T.c.id)
    .where(_T.c.status == PENDING, _T.c.due_at <= bindparam("now"))
    .order_by(_T.c.due_at)
    .limit(bindparam("limit"))
)

# Claimed and marked done at once, a batch at a time: the transaction either finishes the steps
# or rolls them back. The oldest due timers no other worker holds (`ids`: only these).
_CLAIMED = (_T.c.id, _T.c.incident_id, _T.c.generation, _T.c.cycle, _T.c.step, _T.c.due_at)
_OLDEST_DUE = (
    select(_T.c.id)
    .where(_T.c.status == PENDING, _T.c.due_at <= bindparam("now"))
    .order_by(_T.c.due_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM_VALUES = {"claimed_by": bindparam("worker"), "claimed_at": bindparam("now"),
                 "attempts": _T.c.attempts + 1, "status": DONE, "done_at": bindparam("now")}
_CLAIM_DUE = (
    update(_T).where(_T.c.id.in_(_OLDEST_DUE.scalar_subquery()))
    .values(_CLAIM_VALUES).returning(*_CLAIMED)
)
_CLAIM_IDS = (
    update(_T)
    .where(_T.c.id.in_(
        select(_T.c.id)
        .where(_T.c.id.in_(bindparam("ids", expanding=True)), _T.c.status == PENDING,
               _T.c.due_at <= bindparam("now"))
        .with_for_update(skip_locked=True).scalar_subquery()))
    .values(_CLAIM_VALUES).returning(*_CLAIMED)
)

_CANCEL = update(_T).where(_T.c.id.in_(bindparam("tids", expanding=True))).values(
    status=CANCELLED)

_CANCEL_PENDING = (
    update(_T)
    .where(_T.c.incident_id == bindparam("iid"), _T.c.status == PENDING)
    .values(status=CANCELLED, done_at=bindparam("now"))
)
_CANCEL_PENDING_AIO = Compiled(_CANCEL_PENDING)

# The earliest pending timer of the incident's current escalation, made due now.
_HASTEN = (
    update(_T)
    .where(
        _T.c.id
        == select(_T.c.id)
        .where(_T.c.incident_id == bindparam("iid"), _T.c.generation == bindparam("gen"),
               _T.c.status == PENDING)
        .order_by(_T.c.cycle, _T.c.step)
        .limit(1)
        .with_for_update()
        .scalar_subquery()
    )
    .values(due_at=case((_T.c.due_at > bindparam("now", type_=_T.c.due_at.type),
                         bindparam("now", type_=_T.c.due_at.type)), else_=_T.c.due_at))
    .returning(_T.c.cycle, _T.c.step)
)

Bind = Connection | Session
_Row = Row[*tuple[Any, ...]]


class Timers:
    """The one writer of `escalation_timers` outside open-or-join."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def schedule(self, bind: Bind, *, incident_id: int, generation: int, cycle: int,
                 step: int, due_at: datetime, now: datetime) -> int:
        """A pending timer for step (`cycle`, `step`) of escalation `generation`; its id."""
        row = {"incident_id": incident_id, "generation": generation, "cycle": cycle,
               "step": step, "due_at": due_at, "status": PENDING, "created_at": now,
               "attempts": 0}
        return int(bind.execute(_SCHEDULE, row).scalar_one())

    def due_ids(self, bind: Bind, now: datetime, limit: int = 100) -> list[int]:
        """Pending timers whose time has come, oldest first."""
        return list(bind.execute(_DUE, {"now": now, "limit": limit}).scalars())

    def claim(self, bind: Bind, timer_id: int, now: datetime, worker: str) -> _Row | None:
        """The due timer, marked done by `worker`; None if it ran, is not due or is locked.

        Returns (id, incident_id, generation, cycle, step, due_at)."""
        found = self.claim_due(bind, now, worker, 1, ids=[timer_id])
        return found[0] if found else None

    def claim_due(self, bind: Bind, now: datetime, worker: str, limit: int,
                  ids: list[int] | None = None) -> list[_Row]:
        """Up to `limit` due timers (or those of `ids` that are due), oldest first, marked
        done by `worker` in one statement; timers another worker holds are skipped, so workers
        claiming at once get disjoint batches. Rows are (id, incident_id, generation, cycle,
        step, due_at)."""
        if ids is not None:
            if not ids:
                return []
            rows = bind.execute(_CLAIM_IDS, {"ids": ids, "now": now, "worker": worker})
        else:
            rows = bind.execute(_CLAIM_DUE, {"now": now, "worker": worker, "limit": limit})
        return sorted(rows, key=lambda row: (row.due_at, row.id))

    def schedule_many(self, bind: Bind, timers: list[dict[str, Any]], now: datetime
                      ) -> list[int]:
        """`schedule` for many timers (each a dict of its keyword arguments but `now`) in one
        statement; their ids in order."""
        if not timers:
            return []
        rows = [{**timer, "status": PENDING, "created_at": now, "attempts": 0}
                for timer in timers]
        return list(bind.execute(_SCHEDULE_MANY, rows).scalars())

    def cancel(self, bind: Bind, timer_id: int) -> None:
        """A claimed timer that turned out stale."""
        self.cancel_many(bind, [timer_id])

    def cancel_many(self, bind: Bind, timer_ids: list[int]) -> None:
        """Claimed timers that turned out stale."""
        bind.execute(_CANCEL, {"tids": timer_ids})

    def cancel_pending(self, bind: Bind, incident_id: int, now: datetime) -> None:
        """Stop an incident's escalation: its pending timers will not run."""
        bind.execute(_CANCEL_PENDING, {"iid": incident_id, "now": now})

    async def cancel_pending_async(self, conn: psycopg.AsyncConnection, incident_id: int,
                                   now: datetime) -> None:
        """`cancel_pending` on the ingest endpoint's asyncio connection (PostgreSQL)."""
        await _CANCEL_PENDING_AIO.execute(conn, {"iid": incident_id, "now": now})

    def hasten(self, bind: Bind, incident_id: int, generation: int,
               now: datetime) -> tuple[int, int] | None:
        """Make the next pending step of escalation `generation` due now: its (cycle, step),
        or None when nothing is pending."""
        row = bind.execute(_HASTEN, {"iid": incident_id, "gen": generation,
                                     "now": now}).first()
        return None if row is None else (row.cycle, row.step)
