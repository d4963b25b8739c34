"""Planning workflows from the inbox: the sweeper's step between timers and dispatch.

Each sweep takes a batch of `workflow_inbox` rows (audit events a workflow may fire on, written
by a trigger in the event's own transaction), plans every event with the pure planner
(`oncall.core.workflows.plan`), queues the runs through the outbox and deletes the rows, all in
one transaction: a worker killed anywhere before the commit leaves the batch for the next
sweep and queued nothing; after it, the runs exist and the rows are gone. Exactly once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, bindparam, insert, select

from oncall.config.configset import ConfigSet
from oncall.core.workflows import PlannedRun, WorkflowEventView, plan, workflow_event
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow
from oncall.incidents import events
from oncall.incidents.queries import workflow_incidents
from oncall.store import stores_for
from oncall.store.outbox import queue_runs
from oncall.store.workflow_inbox import InboxEvent

log = logging.getLogger("oncall.worker")

BATCH = 100
STARTED = "workflow.started"

_E = cast(Table, AuditEventRow.__table__)

_RUNS = (
    select(_E.c.incident_id, _E.c.data)
    .where(_E.c.type == STARTED, _E.c.incident_id.in_(bindparam("ids", expanding=True)))
)


def plan_workflows(engine: Engine, config: ConfigSet, now: datetime,
                   limit: int = BATCH) -> list[int]:
    """Plan and queue the workflows of up to `limit` inbox events; the ids of the outbox rows
    due now (each run's first step), for the caller to send at once. With no Workflow applied
    the rows are only deleted."""
    inbox = stores_for(engine).inbox
    if not inbox.any():
        return []
    with write_session(engine) as session:
        conn = session.connection()
        claimed = inbox.claim(conn, limit)
        due = _queue(conn, claimed, config, now) if claimed and config.workflows else []
        inbox.delete(conn, [e.event_id for e in claimed])
        return due


def runs_so_far(conn: Connection, ids: Sequence[int]) -> dict[int, Counter[str]]:
    """How many runs each workflow has had for each incident (its `workflow.started`
    events), for the planner's loop guard."""
    counts: dict[int, Counter[str]] = {i: Counter() for i in ids}
    for incident_id, data in conn.execute(_RUNS, {"ids": list(ids)}):
        name = (data or {}).get("workflow")
        if name:
            counts.setdefault(incident_id, Counter())[str(name)] += 1
    return counts


def _queue(conn: Connection, claimed: list[InboxEvent], config: ConfigSet,
           now: datetime) -> list[int]:
    ids = sorted({e.incident_id for e in claimed})
    stores_for(conn.engine).inbox.hold(conn, ids)  # the loop guard counts exactly
    incidents = workflow_incidents(conn, ids)
    counts = runs_so_far(conn, ids)
    queued: list[tuple[PlannedRun, int]] = []
    failures: list[dict[str, Any]] = []
    for event in claimed:
        incident = incidents.get(event.incident_id)
        kind = workflow_event(event.type, event.data)
        if incident is None or kind is None:
            continue
        view = WorkflowEventView(type=kind, id=event.event_id, actor=event.actor,
                                 data=event.data)
        try:
            runs = plan(view, incident, config, now, runs_so_far=counts[event.incident_id])
        except Exception as exc:  # one bad event must not block the inbox
            log.exception("planning workflows for event %s failed", event.event_id)
            failures.append(events.row_values(
                at=now, actor="system:workflows", type="workflow.plan_failed",
                incident_id=event.incident_id,
                data={"event_id": event.event_id, "event": kind,
                      "error": f"{exc.__class__.__name__}: {exc}"[:500]}))
            continue
        for run in runs:
            queued.append((run, event.incident_id))
            counts[event.incident_id][run.workflow] += 1
    if failures:
        conn.execute(insert(_E), failures)
    return queue_runs(conn, queued, now) if queued else []
