"""The hot paths' storage, in the shape of Huey's `BaseStorage`: one interface per concern,
one PostgreSQL and one SQLite implementation, chosen once per engine by `stores_for`.

- `ingest` (`oncall.store.ingest`): open-or-join, repeat, resolve, replay claims.
- `outbox` (`oncall.store.outbox`): the one owner of the notifications table: enqueue, claim
  due, record outcome. No other module writes a notification row.
- `timers` (`oncall.store.timers`): escalation timers: schedule, claim due, cancel.
- `inbox` (`oncall.store.workflow_inbox`): audit events waiting for the workflow planner:
  claim a batch, delete it (a trigger on `audit_events` fills it).

Where one SQLAlchemy Core statement serves both databases it is written once, in the shared
module; only what must differ lives in `*_postgres.py` / `*_sqlite.py`. Nothing outside this
package and `oncall.db` asks which database it runs on.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine

if TYPE_CHECKING:
    from oncall.store.ingest import IngestStore
    from oncall.store.outbox import Outbox
    from oncall.store.timers import Timers
    from oncall.store.workflow_inbox import WorkflowInbox


@dataclass(frozen=True)
class Stores:
    ingest: IngestStore
    outbox: Outbox
    timers: Timers
    inbox: WorkflowInbox


_chosen: weakref.WeakKeyDictionary[Engine, Stores] = weakref.WeakKeyDictionary()
_guard = threading.Lock()


def stores_for(engine: Engine) -> Stores:
    """The stores of `engine`'s database, built once per engine."""
    with _guard:
        found = _chosen.get(engine)
        if found is None:
            found = _chosen[engine] = _build(engine)
        return found


def _build(engine: Engine) -> Stores:
    from oncall.store.timers import Timers
    from oncall.store.workflow_inbox import WorkflowInbox

    if engine.dialect.name == "postgresql":
        from oncall.store.ingest_postgres import PostgresIngest
        from oncall.store.outbox_postgres import PostgresOutbox
        from oncall.store.workflow_inbox_postgres import PostgresInbox

        return Stores(PostgresIngest(engine), PostgresOutbox(engine), Timers(engine),
                      PostgresInbox(engine))
    from oncall.store.ingest_sqlite import SqliteIngest
    from oncall.store.outbox_sqlite import SqliteOutbox

    return Stores(SqliteIngest(engine), SqliteOutbox(engine), Timers(engine),
                  WorkflowInbox(engine))
