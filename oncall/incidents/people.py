"""From a person's identity (email) to the Actor the service layer checks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import TeamMembershipRow, UserRow
from oncall.incidents.actors import Actor


def actor_for_email(session: Session, email: str, via: str) -> Actor | None:
    """The actor for an enabled user of the applied config with this email (any case), or None.

    A person removed from the config (`in_config` false) or disabled acts through no face."""
    user = session.scalar(select(UserRow).where(UserRow.email == email.strip().lower()))
    if user is None or not is_active(user):
        return None
    rows = session.execute(
        select(TeamMembershipRow.team_name, TeamMembershipRow.role).where(
            TeamMembershipRow.user_id == user.id
        )
    )
    roles = {team: role for team, role in rows}
    return Actor(
        "user", user.email, roles, user_id=user.id, via=via, platform_admin=user.platform_admin
    )


def is_active(user: UserRow) -> bool:
    """Listed by a Team in the applied config and not disabled: the only people who may use any
    session, API key, feed token or link."""
    return user.in_config and user.disabled_at is None
