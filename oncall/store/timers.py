"""Escalation timers: schedule, find due, claim, hasten, cancel.

One definition serves both databases: every statement is plain Core, built once here. Each
method runs on the caller's connection or session, inside the caller's transaction. Ingest's
open-or-join statement writes an incident's first timer itself; every other write to
`escalation_timers` goes through `Timers`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Row, Table, bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from oncall.db.models import EscalationTimerRow

_T = cast(Table, EscalationTimerRow.__table__)

PENDING, DONE, CANCELLED = "pending", "done", "cancelled"

_SCHEDULE = insert(_T).returning(_T.c.id)

_DUE = (
    select(_T.c.id)
    .where(_T.c.status == PENDING, _T.c.due_at <= bindparam("now"))
    .order_by(_T.c.due_at)
    .limit(bindparam("limit"))
)

# Claimed and marked done at once: the transaction either finishes the step or rolls it back.
_CLAIM = (
    update(_T)
    .where(
        _T.c.id
        == select(_T.c.id)
        .where(_T.c.id == bindparam("tid"), _T.c.status == PENDING,
               _T.c.due_at <= bindparam("now"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    .values(claimed_by=bindparam("worker"), claimed_at=bindparam("now"),
            attempts=_T.c.attempts + 1, status=DONE, done_at=bindparam("now"))
    .returning(_T.c.incident_id, _T.c.generation, _T.c.cycle, _T.c.step, _T.c.due_at)
)

_CANCEL = update(_T).where(_T.c.id == bindparam("tid")).values(status=CANCELLED)

_CANCEL_PENDING = (
    update(_T)
    .where(_T.c.incident_id == bindparam("iid"), _T.c.status == PENDING)
    .values(status=CANCELLED, done_at=bindparam("now"))
)

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

        Returns (incident_id, generation, cycle, step, due_at)."""
        return bind.execute(_CLAIM, {"tid": timer_id, "now": now, "worker": worker}).first()

    def cancel(self, bind: Bind, timer_id: int) -> None:
        """A claimed timer that turned out stale."""
        bind.execute(_CANCEL, {"tid": timer_id})

    def cancel_pending(self, bind: Bind, incident_id: int, now: datetime) -> None:
        """Stop an incident's escalation: its pending timers will not run."""
        bind.execute(_CANCEL_PENDING, {"iid": incident_id, "now": now})

    def hasten(self, bind: Bind, incident_id: int, generation: int,
               now: datetime) -> tuple[int, int] | None:
        """Make the next pending step of escalation `generation` due now: its (cycle, step),
        or None when nothing is pending."""
        row = bind.execute(_HASTEN, {"iid": incident_id, "gen": generation,
                                     "now": now}).first()
        return None if row is None else (row.cycle, row.step)
