"""An audit event as a sentence a person reads ("Paged Dana Kim by SMS (twilio)"), not a
record dump. Pure: the caller passes the names of the people the event refers to, by user id
and, for actors and emails in the event, by email (without them, emails are shown)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHANNELS = {"sms": "SMS", "voice": "phone", "email": "email", "slack": "Slack",
            "push": "push", "teams": "Teams", "webhook": "webhook"}
VIA = {"slack": "from Slack", "sms": "by SMS reply", "voice": "on a phone call",
       "email": "from the email", "api": "through the API",
       "push": "from a push notification", "teams": "from Teams"}
"""Where a person acted from (`data.via`, set from the actor), as the end of a sentence; the
web app, where most actions happen, goes without saying."""


def _person(data: Mapping[str, Any], people: Mapping[int, str],
            names: Mapping[str, str] | None = None) -> str:
    user = data.get("user_id")
    if isinstance(user, int) and user in people:
        return people[user]
    return _named(str(data.get("user") or data.get("email") or "someone"), names)


def _named(email: str, names: Mapping[str, str] | None) -> str:
    """A person's display name when known, else what identifies them."""
    return (names or {}).get(email) or email


def _field(value: Any, name: str) -> Any:
    """`value[name]` of a before/after snapshot, or the value itself when it is plain."""
    return value.get(name) if isinstance(value, Mapping) else value


def _who(actor: str, names: Mapping[str, str] | None = None) -> str:
    """`user:dana@example.com` → `dana@example.com` (or her name); the system and integrations
    by name."""
    kind, _, name = actor.partition(":")
    if kind == "system" or actor == "system":
        return "oncall"
    return _named(name, names) if kind == "user" else name or actor


def _via(data: Mapping[str, Any]) -> str:
    place = VIA.get(str(data.get("via") or ""))
    return f" {place}" if place else ""


def sentence(type: str, actor: str, data: Mapping[str, Any] | None, before: Any, after: Any,
             people: Mapping[int, str], names: Mapping[str, str] | None = None) -> str:
    """One line for one event; unknown types still read, as their type and actor. `names`
    maps emails to display names."""
    d = data or {}
    who = _who(actor, names)
    via = _via(d)
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
            return (f"Declared by {who}{via} on {d.get('service', '?')}: {d.get('title', '')} "
                    f"({d.get('priority') or 'no priority'})")
        case "incident.role_assigned":
            role, user = str(d.get("role", "?")), _named(str(d.get("user") or "?"), names)
            return f"{who} took {role}" if user == who else f"{who} assigned {role} to {user}"
        case "incident.role_cleared":
            previous = f" (was {_named(d['previous'], names)})" if d.get("previous") else ""
            return f"{who} cleared {d.get('role', '?')}{previous}"
        case "incident.acknowledged":
            return f"Acknowledged by {who}{via}"
        case "incident.resolved":
            note = f": {d['note']}" if d.get("note") else ""
            return f"Resolved by {who}{via}{note}"
        case "incident.escalated":
            step = d.get("step")
            return f"Escalated to step {int(step) + 1}" if isinstance(step, int) else "Escalated"
        case "incident.escalate_requested":
            return f"Escalation requested by {who}{via}"
        case "escalation.step_skipped":
            return f"Escalation step skipped: {d.get('reason') or 'nobody to page'}"
        case "escalation.exhausted":
            return "Escalation policy exhausted: nobody acknowledged"
        case "incident.reassigned":
            assignee = _named(str(_field(after, "assignee") or "?"), names)
            return f"Reassigned to {assignee} by {who}{via}"
        case "incident.note" | "incident.note_added":
            return f"Note by {who}: {d.get('text') or ''}".rstrip(": ")
        case "incident.priority_changed":
            return (f"Priority changed from {_field(before, 'priority') or 'none'} to "
                    f"{_field(after, 'priority') or 'none'} by {who}{via}")
        case "notification.sent":
            kind = d.get("kind", "page")
            what = "Paged" if kind == "page" else f"Sent {kind} to"
            return f"{what} {_person(d, people, names)} by {channel or 'a channel'}{provider}"
        case "notification.delivered":
            return (f"Delivered to {_person(d, people, names)} by {channel or 'a channel'}"
                    f"{provider}")
        case "notification.failed" | "notification.attempt_failed":
            error = f": {d['error']}" if d.get("error") else ""
            what = "Could not reach" if type == "notification.failed" else "Failed to reach"
            return (f"{what} {_person(d, people, names)} by {channel or 'a channel'}"
                    f"{provider}{error}")
        case "notification.retry":
            return (f"Will try {_person(d, people, names)} by {channel or 'a channel'} again"
                    f"{provider}")
        case "notification.unreachable":
            return f"{_person(d, people, names)} has no way to be reached"
        case "runbook.requested":
            return f"Runbook {d.get('runbook', '?')} run by {who}{via}"
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
