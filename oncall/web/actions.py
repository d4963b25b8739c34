"""The web app's changes, each one write transaction through the service layer.

State event handlers call these with the signed-in person; permission checks happen in the
services (`Actor.require_responder`), so a hidden button is never the only guard. After each
commit the worker is woken, as for a change from any other face: an acknowledgement stops
the pages now, a resolve sends its updates now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.orm import Session

from oncall.db.engine import write_session
from oncall.incidents import runbooks, service
from oncall.incidents.actors import Actor
from oncall.statuspages import access as status_access
from oncall.statuspages import notices
from oncall.web import context

T = TypeVar("T")


def committed(change: Callable[[Session], T]) -> T:
    """Run `change` in one write transaction, then wake the worker (what it queued goes now)."""
    with write_session(context.engine()) as session:
        result = change(session)
    context.wake()
    return result


def _policy_steps(session: Session, incident_id: int) -> int:
    incident = service.get(session, incident_id)
    policy = (
        context.config(session).policies.get(incident.escalation_policy_name)
        if incident.escalation_policy_name
        else None
    )
    return len(policy.steps) if policy is not None else 1


def acknowledge(actor: Actor, incident_id: int) -> bool:
    return committed(
        lambda s: service.acknowledge(s, incident_id, actor, context.now()).changed
    )


def resolve(actor: Actor, incident_id: int, note: str = "") -> bool:
    return committed(
        lambda s: service.resolve(s, incident_id, actor, context.now(), note.strip() or None)
        .changed
    )


def escalate(actor: Actor, incident_id: int) -> bool:
    return committed(lambda s: service.escalate_now(s, incident_id, actor, context.now()).changed)


def reassign(actor: Actor, incident_id: int, email: str) -> bool:
    def change(session: Session) -> bool:
        steps = _policy_steps(session, incident_id)
        return service.reassign(
            session, incident_id, actor, email, context.now(), policy_steps=steps
        ).changed

    return committed(change)


def change_priority(actor: Actor, incident_id: int, priority: str) -> bool:
    return committed(
        lambda s: service.change_priority(s, incident_id, actor, priority, context.now()).changed
    )


def add_note(actor: Actor, incident_id: int, text: str) -> None:
    committed(lambda s: service.add_note(s, incident_id, actor, text, context.now()))


def run_runbook(actor: Actor, incident_id: int, name: str, typed_in: dict[str, str]
                ) -> runbooks.Requested:
    """Queue a runbook run with what was typed into its form; `runbooks.Rejected` names
    each bad parameter."""
    return committed(lambda s: runbooks.run_typed(
        s, context.config(s), incident_id, actor, name, typed_in, context.now()))


# --- status pages ------------------------------------------------------------------------------


def _public_url() -> str:
    return context.current().settings.providers.public_url


def _page_writer(session: Session, actor: Actor, page: str) -> None:
    config = context.config(session)
    status_access.require_writer(actor, notices.page_of(config, page), config)


def post_notice(actor: Actor, page: str, title: str, body: str, status: str,
                components: list[str]) -> int:
    def change(session: Session) -> int:
        _page_writer(session, actor, page)
        return notices.post_notice(session, context.config(session), actor.name, context.now(),
                                   page, title, body, status, components,
                                   public_url=_public_url())
    return committed(change)


def update_notice(actor: Actor, page: str, notice_id: int, status: str, body: str) -> bool:
    def change(session: Session) -> bool:
        _page_writer(session, actor, page)
        if notices.get_notice(session, notice_id).page != page:
            raise LookupError(f"notice {notice_id} is not on status page {page!r}")
        notices.update_notice(session, context.config(session), actor.name, context.now(),
                              notice_id, status, body, public_url=_public_url())
        return True
    return committed(change)


def set_component_status(actor: Actor, page: str, component: str, status: str,
                         hours: float | None) -> bool:
    def change(session: Session) -> bool:
        _page_writer(session, actor, page)
        now = context.now()
        until = None if hours is None else now + timedelta(hours=hours)
        notices.set_manual(session, context.config(session), actor.name, now, page, component,
                           status, until)
        return True
    return committed(change)


def clear_component_status(actor: Actor, page: str, component: str) -> bool:
    def change(session: Session) -> bool:
        _page_writer(session, actor, page)
        notices.clear_manual(session, context.config(session), actor.name, context.now(), page,
                             component)
        return True
    return committed(change)
