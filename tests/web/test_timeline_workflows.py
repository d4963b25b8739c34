"""A workflow's run on the incident page's timeline, read as the page reads it: each step one line
folded under the run with its outcome, HTTP status, duration and attempt, and no separate
delivery entry for the step's outbox row."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.core.workflows import PlannedRun, PlannedStep
from oncall.db.engine import write_session
from oncall.incidents import events, queries
from oncall.store.outbox import queue_run
from oncall.web import cockpit_reads
from oncall.web import timeline as tl

NOW = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)


def test_a_workflow_step_is_one_line_of_the_story(web: Engine,
                                                  incident: Callable[..., int]) -> None:
    incident_id = incident("Checkout down")
    step = PlannedStep(index=0, path="steps[0]", kind="webhook",
                       action={"url": "${env:HOOKS_URL}/incidents", "method": "POST",
                               "headers": {}, "body": {"id": incident_id}},
                       continue_on_error=False, retries=0, timeout_seconds=5.0)
    run = PlannedRun(workflow="p1-broadcast", event="incident.triggered",
                     key=f"p1-broadcast:{incident_id}:1", steps=(step,))
    with write_session(web) as session:
        queue_run(session, run, incident_id, NOW)
        events.record(session, at=NOW, actor="workflow:p1-broadcast",
                      type="workflow.step_succeeded", incident_id=incident_id,
                      data={"workflow": "p1-broadcast", "step": 0, "path": "steps[0]",
                            "kind": "webhook", "outcome": "succeeded", "status_code": 201,
                            "duration_ms": 42, "attempt": 1, "detail": "{\"id\": 7}"})
    with Session(web) as session:
        detail = queries.incident_detail(session, incident_id)
        assert detail is not None
        entries = tl.build(*cockpit_reads.timeline_inputs(session, incident_id,
                                                          detail.timeline), [])
    runs = [e for e in entries if e.category == "automation"]
    assert [(e.text, [line.text for line in e.lines]) for e in runs] == [
        ("Workflow p1-broadcast ran on incident.triggered (1 step): 1 succeeded",
         ['Step 1 (webhook): succeeded, HTTP 201, 42 ms, attempt 1 — {"id": 7}'])]
    assert [e.kind for e in entries if e.kind.startswith("notification")] == []
