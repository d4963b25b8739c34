"""From a person's identity (email) to the Actor the service layer checks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import TeamMembershipRow, UserRow
from oncall.incidents.actors import Actor


def actor_for_email(session: Session, email: str, via: str) -> Actor | None:
    """The actor for an enabled user with this email (any case), or None if there is none."""
    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None or user.disabled_at is not None:
        return None
    rows = session.execute(
        select(TeamMembershipRow.team_name, TeamMembershipRow.role).where(
            TeamMembershipRow.user_id == user.id
        )
    )
    roles = {team: role for team, role in rows}
    return Actor("user", user.email, roles, user_id=user.id, via=via)
