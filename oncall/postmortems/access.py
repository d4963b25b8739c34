"""Who may read and edit a postmortem: the one rule for the web app, the REST API and Slack.

A postmortem belongs to the teams owning the services of its incidents. Their responders and
admins, and platform admins, edit it (and open one on their incidents). Everyone signed in
reads a published postmortem; a draft or one in review is read by members of those teams
(observers too) and platform admins. The system (a workflow) may open one.
"""

from __future__ import annotations

from collections.abc import Collection

from oncall.incidents.access import ACTING_ROLES
from oncall.incidents.actors import Actor, Forbidden

PUBLISHED = "published"


def may_edit(actor: Actor, teams: Collection[str]) -> bool:
    if actor.kind == "system" or actor.platform_admin:
        return True
    return actor.kind == "user" and any(actor.roles.get(t) in ACTING_ROLES for t in teams)


def may_read(actor: Actor, teams: Collection[str], status: str) -> bool:
    if actor.kind == "system" or actor.platform_admin:
        return True
    if actor.kind != "user":
        return False
    return status == PUBLISHED or any(t in actor.roles for t in teams)


def require_editor(actor: Actor, teams: Collection[str], what: str) -> None:
    """Raise `Forbidden` unless `actor` may edit a postmortem of `teams` (`what`: the action,
    for the message)."""
    if not may_edit(actor, teams):
        owners = ", ".join(sorted(teams)) or "no team"
        raise Forbidden(f"{actor.name} is not a responder or admin of a team whose incidents "
                        f"it reviews ({owners}), so cannot {what}")
