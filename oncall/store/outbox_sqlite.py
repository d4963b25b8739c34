"""The outbox on SQLite, whose RETURNING cannot name the other tables of an UPDATE: the claim
is `PICK` and an update of the rows read, in one write transaction (writers take turns, so
nothing else can claim a row in between)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Boolean, bindparam, update

from oncall.core.delivery import Breaker
from oncall.db.engine import write_session
from oncall.store.outbox import (
    NOTIFICATIONS,
    PICK,
    PICK_DUE,
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
    def take(self, ids: list[int] | None, now: datetime, worker: str, lease: timedelta,
             providers: ProviderNames, limit: int) -> list[tuple[Picked, dict[str, Breaker]]]:
        params = {**lease_params(now, lease), "worker": worker}
        query, bound = (PICK, {"nids": ids}) if ids is not None else (PICK_DUE, {"limit": limit})
        with write_session(self.engine) as session:
            conn = session.connection()
            read = [Picked._make(row) for row in conn.execute(query, {**params, **bound})]
            if not read:
                return []
            conn.execute(_CLAIM, [{**params, "nid": row.id, "cancel": bool(row.cancel)}
                                  for row in read])
            circuits = read_breakers(conn, sorted({name for row in read if not row.cancel
                                                   and row.kind != WORKFLOW
                                                   for name in providers(row.channel)}))
        taken = []
        for row in read:
            cancel = bool(row.cancel)
            picked = row._replace(cancel=cancel,
                                  attempt_count=row.attempt_count + (0 if cancel else 1))
            names = [] if cancel or picked.kind == WORKFLOW else providers(picked.channel)
            taken.append((picked, {name: circuits[name] for name in names}))
        return taken
