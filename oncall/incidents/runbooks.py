"""Running a runbook by hand, for every face (web, REST API, Slack), and reading back its runs.

A request is checked in this order, each refusal its own exception so a face can answer it in
its own words: the incident exists (`service.NotFound`), the person may run runbooks on it
(`Forbidden`: platform admins and the owning team's responders and admins), the incident's
service offers the runbook in the applied config (`NotRunnable`: approved means merged), and
the parameters satisfy its schema (`Rejected`, by parameter). Only then is the run queued, in
the caller's transaction, as one durable `runbook` step (`oncall.store.outbox.queue_run`) with
a `runbook.requested` event naming who asked and the parameters; the worker calls the runbook,
retries it as configured and records the result on the incident's timeline.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.runbooks import NotRunnable, Rejected, plan_by_hand, typed
from oncall.db.models import AuditEventRow
from oncall.incidents import events, service
from oncall.incidents.access import require_runbook
from oncall.incidents.actors import Actor
from oncall.incidents.queries import workflow_incidents
from oncall.store.outbox import queue_run

__all__ = ["NotRunnable", "Rejected", "Requested", "RunView", "run_runbook", "run_typed",
           "runs_of"]


@dataclass(frozen=True)
class Requested:
    run: str
    """The run's key: its steps' events carry it."""
    runbook: str
    params: dict[str, Any]
    """As validated, the schema's defaults applied."""
    queued: bool
    """False: this request (its Idempotency-Key) was queued before; nothing new was."""


def run_runbook(session: Session, config: ConfigSet, incident_id: int, actor: Actor, name: str,
                params: Mapping[str, Any], now: datetime, request: str | None = None
                ) -> Requested:
    """Queue one run of runbook `name` on the incident, or raise why not (see the module)."""
    incident = service.get(session, incident_id)
    require_runbook(session, actor, incident, name)
    view = workflow_incidents(session.connection(), [incident.id])[incident.id]
    run = plan_by_hand(config, view, name, params, request or uuid.uuid4().hex, actor.label)
    validated = dict(run.steps[0].action["params"])
    queued = bool(queue_run(session, run, incident.id, now))
    if queued:
        events.record(session, at=now, actor=actor, type=events.RUNBOOK_REQUESTED,
                      incident_id=incident.id,
                      data={"runbook": name, "params": validated, "run": run.key})
    return Requested(run.key, name, validated, queued)


def run_typed(session: Session, config: ConfigSet, incident_id: int, actor: Actor, name: str,
              typed_in: Mapping[str, str], now: datetime) -> Requested:
    """`run_runbook` with parameters as a person typed them (a web form, Slack's
    `key=value`), converted by the runbook's schema first (`oncall.core.runbooks.typed`)."""
    found = config.runbooks.get(name)
    params = typed(found.parameters, typed_in) if found is not None else dict(typed_in)
    return run_runbook(session, config, incident_id, actor, name, params, now)


@dataclass(frozen=True)
class RunView:
    """One runbook run on an incident, by hand or by a workflow, as it stands now."""

    run: str
    runbook: str
    by: str
    """Who asked (`user:…`) or which workflow (`workflow:…`)."""
    at: datetime
    params: dict[str, Any]
    state: str
    """queued | retrying | succeeded | failed | skipped"""
    status_code: int | None = None
    attempt: int = 0
    duration_ms: int = 0
    detail: str = ""
    """A bounded excerpt of the response, or the error."""


_STATES = {"workflow.step_succeeded": "succeeded", "workflow.step_failed": "failed",
           "workflow.step_retry": "retrying", "workflow.step_skipped": "skipped"}


def runs_of(timeline: Sequence[AuditEventRow]) -> list[RunView]:
    """The runbook runs an incident's timeline (oldest first) tells of, newest first: each
    request by hand, and each workflow's runbook step, with its latest outcome."""
    runs: dict[tuple[str, int], RunView] = {}
    for event in timeline:
        data = event.data or {}
        if event.type == events.RUNBOOK_REQUESTED:
            key = (str(data.get("run")), 0)
            runs[key] = RunView(key[0], str(data.get("runbook", "?")), event.actor, event.at,
                                dict(data.get("params") or {}), "queued")
            continue
        state = _STATES.get(event.type)
        if state is None or data.get("kind") != "runbook":
            continue
        key = (str(data.get("run")), int(data.get("step") or 0))
        first = runs.get(key) or RunView(key[0], str(data.get("runbook") or "?"), event.actor,
                                         event.at, dict(data.get("params") or {}), state)
        runs[key] = replace(
            first, state=state, status_code=data.get("status_code"),
            attempt=int(data.get("attempt") or 0), duration_ms=int(data.get("duration_ms") or 0),
            detail=str(data.get("detail") or ""))
    return sorted(runs.values(), key=lambda r: r.at, reverse=True)
