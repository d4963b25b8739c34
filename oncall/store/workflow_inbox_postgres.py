"""The workflow inbox on PostgreSQL: planners of one incident take turns on an advisory lock.

An advisory lock, not a lock on the incident's row: a row lock held while planning would make
ingest, escalations and every event insert (its foreign key takes a share lock on the row)
wait for the planner. The lock is transaction-scoped, taken in incident order; two planners
whose batches overlap wait for each other, and a deadlock PostgreSQL breaks rolls one batch
back into the inbox for the next sweep.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from oncall.store.workflow_inbox import WorkflowInbox

PLANNING_LOCK_CLASS = 0x0F10
"""The first key of the two-key advisory locks that serialise planning per incident (a key
space of its own, apart from the one-key locks of ingest)."""

_HOLD = text(
    "SELECT pg_advisory_xact_lock(:class, (i % 2147483647)::int) "
    "FROM (SELECT unnest(CAST(:ids AS bigint[])) AS i ORDER BY 1) AS ordered"
)


class PostgresInbox(WorkflowInbox):
    def hold(self, conn: Connection, incident_ids: Sequence[int]) -> None:
        if incident_ids:
            conn.execute(_HOLD, {"class": PLANNING_LOCK_CLASS,
                                 "ids": sorted(set(incident_ids))})
