"""Who may propose a config change from the app, and the audit record of each proposal.

Anyone signed in may open an editor, see the review and copy the YAML: it is the same text they
could write by hand, and the config is readable by everyone anyway. Opening a pull request is
different: it is made with the installation's GitHub token, in the name of the app, so it is
kept to the people who own what it changes. Those are the platform admins, and the admins of
every team the document belongs to (before and after the edit: moving a schedule to another
team needs both teams' admin). Responders and observers copy the YAML and open the PR
themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from oncall.incidents import events
from oncall.incidents.actors import Actor, Forbidden

PR_OPENED = "config.pull_request_opened"


def may_edit_config(actor: Actor, teams: Iterable[str]) -> bool:
    """Platform admins; else an admin of each of `teams` (at least one must be named)."""
    if actor.kind != "user":
        return False
    if actor.platform_admin:
        return True
    named = {t for t in teams if t}
    return bool(named) and all(actor.roles.get(t) == "admin" for t in named)


def require_edit_config(actor: Actor, teams: Iterable[str], what: str) -> None:
    named = sorted({t for t in teams if t})
    if not may_edit_config(actor, named):
        owners = " and ".join(named) or "the owning team"
        raise Forbidden(
            f"{actor.name} may not open a pull request for {what}: only platform admins and "
            f"admins of {owners} may. Copy the YAML and propose it yourself."
        )


def audit_pull_request(session: Session, *, actor: Actor, kind: str, name: str, now: datetime,
                       data: dict[str, Any]) -> None:
    row = events.record(session, at=now, actor=actor, type=PR_OPENED, data=data)
    row.subject_kind, row.subject_name = kind.lower(), name
