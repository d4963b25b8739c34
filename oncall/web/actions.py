"""The web app's changes, each one write transaction through the service layer.

State event handlers call these with the signed-in person; permission checks happen in the
services (`Actor.require_responder`), so a hidden button is never the only guard.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from oncall.db.engine import write_session
from oncall.incidents import service
from oncall.incidents.actors import Actor
from oncall.web import context


def _policy_steps(session: Session, incident_id: int) -> int:
    incident = service.get(session, incident_id)
    policy = (
        context.config(session).policies.get(incident.escalation_policy_name)
        if incident.escalation_policy_name
        else None
    )
    return len(policy.steps) if policy is not None else 1


def acknowledge(actor: Actor, incident_id: int) -> bool:
    with write_session(context.engine()) as session:
        return service.acknowledge(session, incident_id, actor, context.now()).changed


def resolve(actor: Actor, incident_id: int, note: str = "") -> bool:
    with write_session(context.engine()) as session:
        outcome = service.resolve(session, incident_id, actor, context.now(), note.strip() or None)
        return outcome.changed


def reassign(actor: Actor, incident_id: int, email: str) -> bool:
    with write_session(context.engine()) as session:
        steps = _policy_steps(session, incident_id)
        return service.reassign(
            session, incident_id, actor, email, context.now(), policy_steps=steps
        ).changed


def change_priority(actor: Actor, incident_id: int, priority: str) -> bool:
    with write_session(context.engine()) as session:
        return service.change_priority(session, incident_id, actor, priority, context.now()).changed


def add_note(actor: Actor, incident_id: int, text: str) -> None:
    with write_session(context.engine()) as session:
        service.add_note(session, incident_id, actor, text, context.now())
