"""An audit event as a sentence a person reads ("Paged dana@example.com by SMS (twilio)"),
not a record dump. Pure: the caller passes the names of the people the event refers to."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHANNELS = {"sms": "SMS", "voice": "phone", "email": "email", "slack": "Slack",
            "push": "push", "teams": "Teams", "webhook": "webhook"}


def _person(data: Mapping[str, Any], people: Mapping[int, str]) -> str:
    user = data.get("user_id")
    if isinstance(user, int) and user in people:
        return people[user]
    return str(data.get("user") or data.get("email") or "someone")


def _field(value: Any, name: str) -> Any:
    """`value[name]` of a before/after snapshot, or the value itself when it is plain."""
    return value.get(name) if isinstance(value, Mapping) else value


def _who(actor: str) -> str:
    """`user:dana@example.com` → `dana@example.com`; the system and integrations by name."""
    kind, _, name = actor.partition(":")
    if kind == "system" or actor == "system":
        return "oncall"
    return name or actor


def sentence(type: str, actor: str, data: Mapping[str, Any] | None, before: Any, after: Any,
             people: Mapping[int, str]) -> str:
    """One line for one event; unknown types still read, as their type and actor."""
    d = data or {}
    who = _who(actor)
    channel = CHANNELS.get(str(d.get("channel", "")), str(d.get("channel", "")))
    provider = f" ({d['provider']})" if d.get("provider") else ""
    match type:
        case "incident.triggered":
            return f"Incident opened: {d.get('title') or 'triggered'}"
        case "incident.alert":
            return f"Alert joined: {d.get('summary') or d.get('title') or 'another alert'}"
        case "alert.suppressed":
            return f"Alert suppressed ({d.get('reason') or 'rule'})"
        case "incident.declared":
            return (f"Declared by {who} on {d.get('service', '?')}: {d.get('title', '')} "
                    f"({d.get('priority') or 'no priority'})")
        case "incident.role_assigned":
            role, user = str(d.get("role", "?")), str(d.get("user") or "?")
            return f"{who} took {role}" if user == who else f"{who} assigned {role} to {user}"
        case "incident.role_cleared":
            previous = f" (was {d['previous']})" if d.get("previous") else ""
            return f"{who} cleared {d.get('role', '?')}{previous}"
        case "incident.acknowledged":
            return f"Acknowledged by {who}"
        case "incident.resolved":
            note = f": {d['note']}" if d.get("note") else ""
            return f"Resolved by {who}{note}"
        case "incident.escalated":
            step = d.get("step")
            return f"Escalated to step {int(step) + 1}" if isinstance(step, int) else "Escalated"
        case "incident.escalate_requested":
            return f"Escalation requested by {who}"
        case "escalation.step_skipped":
            return f"Escalation step skipped: {d.get('reason') or 'nobody to page'}"
        case "escalation.exhausted":
            return "Escalation policy exhausted: nobody acknowledged"
        case "incident.reassigned":
            return f"Reassigned to {_field(after, 'assignee') or '?'} by {who}"
        case "incident.note" | "incident.note_added":
            return f"Note by {who}: {d.get('text') or ''}".rstrip(": ")
        case "incident.priority_changed":
            return (f"Priority changed from {_field(before, 'priority') or 'none'} to "
                    f"{_field(after, 'priority') or 'none'} by {who}")
        case "notification.sent":
            kind = d.get("kind", "page")
            what = "Paged" if kind == "page" else f"Sent {kind} to"
            return f"{what} {_person(d, people)} by {channel or 'a channel'}{provider}"
        case "notification.delivered":
            return f"Delivered to {_person(d, people)} by {channel or 'a channel'}{provider}"
        case "notification.failed":
            error = f": {d['error']}" if d.get("error") else ""
            return (f"Could not reach {_person(d, people)} by {channel or 'a channel'}"
                    f"{provider}{error}")
        case "notification.unreachable":
            return f"{_person(d, people)} has no way to be reached"
        case "runbook.requested":
            return f"Runbook {d.get('runbook', '?')} run by {who}"
        case "status_page.notice_posted":
            return f"Status page notice posted ({after or 'investigating'}) by {who}"
        case "status_page.notice_updated":
            return f"Status page notice updated ({after or '?'}) by {who}"
    if type.startswith("workflow."):
        step = d.get("step")
        name = d.get("workflow") or "workflow"
        outcome = type.removeprefix("workflow.").replace("_", " ")
        return f"Workflow {name}" + (f" step {step}" if step else "") + f": {outcome}"
    return f"{type} by {who}"
