"""Audit events read as sentences: one row per event type people see on a timeline."""

from __future__ import annotations

from typing import Any

import pytest

from oncall.core.timeline import sentence

PEOPLE = {5: "dana@example.com"}
USER = "user:priya@example.com"


@pytest.mark.parametrize(("type", "actor", "data", "before", "after", "text"), [
    ("incident.triggered", "integration:prom", {"title": "Disk full"}, None, None,
     "Incident opened: Disk full"),
    ("incident.alert", "integration:prom", {"summary": "Disk 95%"}, None, None,
     "Alert joined: Disk 95%"),
    ("incident.acknowledged", USER, None, None, None, "Acknowledged by priya@example.com"),
    ("incident.declared", USER,
     {"service": "checkout-api", "title": "Card payments failing", "priority": "P1"}, None, None,
     "Declared by priya@example.com on checkout-api: Card payments failing (P1)"),
    ("incident.role_assigned", USER, {"role": "commander", "user": "priya@example.com"}, None,
     None, "priya@example.com took commander"),
    ("incident.role_assigned", USER, {"role": "scribe", "user": "dana@example.com"}, None, None,
     "priya@example.com assigned scribe to dana@example.com"),
    ("incident.role_cleared", USER, {"role": "scribe", "previous": "dana@example.com"}, None,
     None, "priya@example.com cleared scribe (was dana@example.com)"),
    ("incident.resolved", USER, {"note": "freed space"}, None, None,
     "Resolved by priya@example.com: freed space"),
    ("incident.escalated", "system:oncall", {"step": 1}, None, None, "Escalated to step 2"),
    ("incident.reassigned", USER, None, None, {"assignee": "bo@example.com"},
     "Reassigned to bo@example.com by priya@example.com"),
    ("incident.note", USER, {"text": "looking"}, None, None, "Note by priya@example.com: looking"),
    ("incident.priority_changed", USER, None, {"priority": "P3"}, {"priority": "P1"},
     "Priority changed from P3 to P1 by priya@example.com"),
    ("notification.sent", "system:dispatcher",
     {"kind": "page", "channel": "sms", "provider": "twilio", "user_id": 5}, None, None,
     "Paged dana@example.com by SMS (twilio)"),
    ("notification.delivered", "provider:twilio", {"channel": "voice", "user_id": 5}, None, None,
     "Delivered to dana@example.com by phone"),
    ("notification.failed", "system:dispatcher",
     {"channel": "email", "provider": "smtp", "user_id": 9, "error": "550"}, None, None,
     "Could not reach someone by email (smtp): 550"),
    ("runbook.requested", USER, {"runbook": "restart"}, None, None,
     "Runbook restart run by priya@example.com"),
    ("workflow.step_failed", "system:workflows", {"workflow": "p1", "step": 2}, None, None,
     "Workflow p1 step 2: step failed"),
    ("something.new", USER, None, None, None, "something.new by priya@example.com"),
])
def test_each_event_reads_as_a_sentence(type: str, actor: str, data: dict[str, Any] | None,
                                        before: Any, after: Any, text: str) -> None:
    assert sentence(type, actor, data, before, after, PEOPLE) == text


NAMES = {"priya@example.com": "Priya Raman", "bo@example.com": "Bo Lind"}


@pytest.mark.parametrize(("type", "data", "after", "text"), [
    ("incident.acknowledged", {"via": "slack"}, None, "Acknowledged by Priya Raman from Slack"),
    ("incident.acknowledged", {"via": "web"}, None, "Acknowledged by Priya Raman"),
    ("incident.resolved", {"via": "api", "note": "done"}, None,
     "Resolved by Priya Raman through the API: done"),
    ("incident.reassigned", None, {"assignee": "bo@example.com"},
     "Reassigned to Bo Lind by Priya Raman"),
    ("incident.role_assigned", {"role": "scribe", "user": "bo@example.com"}, None,
     "Priya Raman assigned scribe to Bo Lind"),
    ("notification.unreachable", {"user": "bo@example.com"}, None,
     "Bo Lind has no way to be reached"),
    ("notification.attempt_failed", {"channel": "sms", "user_id": 5, "error": "503"}, None,
     "Failed to reach dana@example.com by SMS: 503"),
    ("notification.retry", {"channel": "voice", "user_id": 5, "provider": "twilio"}, None,
     "Will try dana@example.com by phone again (twilio)"),
])
def test_names_and_where_a_person_acted_from(type: str, data: dict[str, Any] | None,
                                             after: Any, text: str) -> None:
    assert sentence(type, USER, data, None, after, PEOPLE, NAMES) == text
