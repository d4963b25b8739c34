"""The outbox on SQLite, whose RETURNING cannot name the other tables of an UPDATE: the claim
is `PICK` and an update by id in one write transaction (writers take turns, so nothing else
can claim the row in between)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, bindparam, update

from oncall.core.delivery import Breaker
from oncall.db.engine import write_session
from oncall.store.outbox import (
    NOTIFICATIONS,
    PICK,
    WORKFLOW,
    Outbox,
    Picked,
    ProviderNames,
    claim_values,
    lease_params,
    read_breakers,
)

_CLAIM = (
    update(NOTIFICATIONS)
    .where(NOTIFICATIONS.c.id == bindparam("nid"))
    .values(claim_values(bindparam("cancel", type_=Boolean())))
)


class SqliteOutbox(Outbox):
    def take(self, notification_id: int, now: datetime, worker: str, lease: timedelta,
             providers: ProviderNames) -> tuple[Picked, dict[str, Breaker]] | None:
        params = {"nid": notification_id, **lease_params(now, lease), "worker": worker}
        with write_session(self.engine) as session:
            conn = session.connection()
            row = conn.execute(PICK, params).first()
            if row is None:
                return None
            read = Picked._make(row)
            cancel = bool(read.cancel)
            conn.execute(_CLAIM, {**params, "cancel": cancel})
            picked = read._replace(cancel=cancel,
                                   attempt_count=read.attempt_count + (0 if cancel else 1))
            names = [] if cancel or picked.kind == WORKFLOW else providers(picked.channel)
            return picked, read_breakers(conn, names)
