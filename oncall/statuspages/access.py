"""Who may speak for a status page: post and update notices, set a component's status by hand.

A page speaks for the services on it, so the people who may act on those services' incidents
may write it: platform admins, and responders or admins of a team that owns one of its
services. Observers and people of other teams may read a private page but not write on it.
"""

from __future__ import annotations

from oncall.config.configset import ConfigSet
from oncall.config.models import StatusPage
from oncall.incidents.access import ACTING_ROLES
from oncall.incidents.actors import Actor, Forbidden


def owning_teams(page: StatusPage, config: ConfigSet) -> frozenset[str]:
    """The teams that own a service shown on `page`."""
    services = config.services
    return frozenset(services[s].team for c in page.components for s in c.services
                     if s in services)


def may_write(actor: Actor, page: StatusPage, config: ConfigSet) -> tuple[bool, str]:
    """Whether `actor` may write on `page`, and if not, why (in words fit for a reply)."""
    if actor.kind != "user" or actor.platform_admin:
        return True, ""
    teams = owning_teams(page, config)
    if any(actor.roles.get(team) in ACTING_ROLES for team in teams):
        return True, ""
    owners = ", ".join(sorted(teams)) or "no team"
    return False, (f"{actor.name} is not a responder of a team whose services are on status "
                   f"page {page.name!r} ({owners})")


def require_writer(actor: Actor, page: StatusPage, config: ConfigSet) -> None:
    """Raise `Forbidden` unless `actor` may write on `page`."""
    allowed, why = may_write(actor, page, config)
    if not allowed:
        raise Forbidden(why)
