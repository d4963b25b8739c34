"""The incident state machine: every action from every status, without a database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from oncall.core.incident import (
    ASSIGNEE_CYCLE,
    PRIORITIES,
    START_STEP,
    Acknowledge,
    Action,
    ChangePriority,
    Escalate,
    Event,
    Incident,
    Reassign,
    Resolve,
    Status,
    Timer,
    decide,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TRIGGERED = Incident(Status.TRIGGERED, generation=2, cycle=0, step=1, priority="P3", version=7)
ACKED = replace(TRIGGERED, status=Status.ACKNOWLEDGED)
RESOLVED = replace(TRIGGERED, status=Status.RESOLVED)


@pytest.mark.parametrize(
    ("incident", "action", "status", "event", "stops", "hastens"),
    [
        (TRIGGERED, Acknowledge(), Status.ACKNOWLEDGED, Event.ACKNOWLEDGED, True, False),
        (ACKED, Acknowledge(), None, None, False, False),
        (RESOLVED, Acknowledge(), None, None, False, False),
        (TRIGGERED, Resolve(), Status.RESOLVED, Event.RESOLVED, True, False),
        (ACKED, Resolve(), Status.RESOLVED, Event.RESOLVED, True, False),
        (RESOLVED, Resolve(), None, None, False, False),
        (TRIGGERED, Escalate(), Status.TRIGGERED, Event.ESCALATE_REQUESTED, False, True),
        (ACKED, Escalate(), None, None, False, False),
        (RESOLVED, Escalate(), None, None, False, False),
        (TRIGGERED, ChangePriority("P1"), Status.TRIGGERED, Event.PRIORITY, False, False),
        (ACKED, ChangePriority("P3"), None, None, False, False),
        (RESOLVED, ChangePriority("P5"), Status.RESOLVED, Event.PRIORITY, False, False),
    ],
)
def test_transitions(
    incident: Incident,
    action: Action,
    status: Status | None,
    event: Event | None,
    stops: bool,
    hastens: bool,
) -> None:
    t = decide(incident, action, NOW)
    assert t.refused is None
    assert t.event is event
    assert (t.stop_escalation, t.hasten, t.timer) == (stops, hastens, None)
    if status is None:
        assert not t.changed and t.after == incident
    else:
        assert t.changed
        assert t.after.status is status
        assert t.after.version == incident.version + 1
        assert t.after.generation == incident.generation


@pytest.mark.parametrize("incident", [TRIGGERED, ACKED])
def test_reassign_starts_a_new_generation_at_the_assignee(incident: Incident) -> None:
    t = decide(incident, Reassign(assignee=42, policy_steps=3), NOW)
    assert t.event is Event.REASSIGNED and t.stop_escalation
    assert t.after == replace(
        incident,
        status=Status.TRIGGERED,
        assignee=42,
        generation=incident.generation + 1,
        cycle=ASSIGNEE_CYCLE,
        step=START_STEP,
        version=incident.version + 1,
    )
    assert t.timer == Timer(ASSIGNEE_CYCLE, 2, NOW)


def test_reassign_with_an_empty_policy_pages_at_step_zero() -> None:
    t = decide(TRIGGERED, Reassign(assignee=42, policy_steps=0), NOW)
    assert t.timer == Timer(ASSIGNEE_CYCLE, 0, NOW)


@pytest.mark.parametrize(
    ("incident", "action", "reason"),
    [
        (RESOLVED, Reassign(assignee=42, policy_steps=3), "resolved"),
        (TRIGGERED, ChangePriority("P9"), "unknown priority 'P9'"),
    ],
)
def test_refusals_change_nothing(incident: Incident, action: Action, reason: str) -> None:
    t = decide(incident, action, NOW)
    assert t.refused is not None and reason in t.refused
    assert not t.changed and t.after == incident


def test_one_vocabulary() -> None:
    assert [str(s) for s in Status] == ["triggered", "acknowledged", "resolved"]
    assert PRIORITIES == ("P1", "P2", "P3", "P4", "P5")
