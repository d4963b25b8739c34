"""Who may edit whose contact methods and notification rules, and the audit trail of edits.

Contact data is personal: a person edits their own; a platform admin (named in the applied
config's `Organization.admins`) may edit anyone's, to help someone who cannot reach the web app.
A team admin has no say over anyone else's phones: a phone they could add to a colleague would
page them instead. Checked here, so every face gets the same rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from oncall.db.models import UserRow
from oncall.incidents import events
from oncall.incidents.actors import Actor, Forbidden


class NotFound(LookupError):
    pass


class Invalid(ValueError):
    """The request is wrong; the message says how, in words fit for a form error."""


def is_admin(actor: Actor) -> bool:
    """May edit anyone's contact data: a platform admin (a team admin may not)."""
    return actor.kind == "user" and actor.platform_admin


def owner(
    session: Session, actor: Actor, user_id: int, action: str, *, editing: int | None = None
) -> UserRow:
    """The user whose data `actor` wants to change, if they may.

    `editing` is the user a form is editing: data of anyone else (a method id taken from another
    person's page, or forged) is refused even for someone who could edit both."""
    user = session.get(UserRow, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    if editing is not None and editing != user.id:
        raise NotFound(f"no such contact data of user {editing}")
    if actor.kind == "system":
        return user
    if actor.kind != "user" or (actor.user_id != user.id and not is_admin(actor)):
        raise Forbidden(f"{actor.name} may not {action} of {user.email}")
    return user


def audit(
    session: Session,
    *,
    actor: Actor,
    user: UserRow,
    type: str,
    now: datetime,
    before: Any = None,
    after: Any = None,
    data: dict[str, Any] | None = None,
) -> None:
    """An audit event whose subject is the person whose contact data changed."""
    row = events.record(
        session, at=now, actor=actor, type=type, before=before, after=after, data=data
    )
    row.subject_kind, row.subject_name = "user", user.email
