"""Claims a stopping worker hands back, so another worker takes them now, not after a lease.

A worker holds two kinds of claim. An escalation timer's claim is made and marked done inside
the transaction that runs the step: a worker that stops mid-step rolls back and the timer was
never taken, so there is nothing to hand back. An outbox row's claim (`sending`, `claimed_by`,
`claimed_at`) is committed before the provider call and lasts a lease of up to a minute: a
worker that stops with a call still in flight hands the row back with `release`, due now.

A row still held may have had its call made already (the call outlived the grace period, or
returned but was not recorded yet): the next worker sends it again, as it would after the
lease ran out. A page may come twice; it is never lost.
The handed-back attempt keeps its count, as an expired lease's does.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, func, select, update

from oncall.db.models import NotificationRow, UTCDateTime
from oncall.store.outbox_status import NotificationStatus

_N = cast(Table, NotificationRow.__table__)
_SENDING = NotificationStatus.SENDING.value
_HELD = (_N.c.status == _SENDING) & (_N.c.claimed_by == bindparam("worker"))

_RELEASE = (
    update(_N)
    .where(_HELD)
    .values(status=NotificationStatus.PENDING.value, claimed_by=None, claimed_at=None,
            next_attempt_at=bindparam("now", type_=UTCDateTime()))
    .returning(_N.c.id)
)

_COUNT_HELD = select(func.count()).select_from(_N).where(_HELD)


def held(conn: Connection, worker: str) -> int:
    """How many outbox rows `worker` holds claimed (calls it has in flight)."""
    return int(conn.scalar(_COUNT_HELD, {"worker": worker}) or 0)


def release(conn: Connection, worker: str, now: datetime) -> list[int]:
    """Hand back every outbox row `worker` still holds: pending and due at `now`, unclaimed.
    Returns their ids."""
    return sorted(conn.scalars(_RELEASE, {"worker": worker, "now": now}))
