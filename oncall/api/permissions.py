"""Which permission rule guards each person-facing REST route, and what each rule means for
every kind of person.

This table documents; it enforces nothing. The rules themselves live once each, where every
face (web app, REST API, Slack, SMS, voice, email links) goes through them:

- `oncall.incidents.access`: `may_act`, `may_declare`, `may_run_runbooks`;
- `oncall.schedules_service.may_override` (with the member check of the same module);
- `oncall.contacts.access` (a person's own contact methods and notification rules);
- `oncall.postmortems.access`: `may_read`, `may_edit`;
- the audit log's platform-admin check in `oncall.api.directory`.

Every `Access.API_KEY` route of `oncall.api.access.API` has a row in `RULES`, and
tests/api/test_permission_matrix.py calls each route as every `Persona` and checks the answer
against `MATRIX`, so a route added without a row, or a rule that drifts, fails there.
docs/security.md ("Who may do what") is this table in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from oncall.api.access import Key


class Rule(StrEnum):
    """What a route requires of the API key's person, beyond a valid key."""

    READ = "read"
    """Nothing more: every person with a key, observers included. Lists of postmortems and
    action items leave out what the person may not read (POSTMORTEM_READ)."""
    SELF = "self"
    """The key's own person's data (`/users/me/…`): everyone, and only their own."""
    ACT_ON_INCIDENT = "act-on-incident"
    """`may_act`: platform admins, responders and admins of the team owning the incident's
    service, and people the incident paged (unless observers). Acknowledge, resolve, note,
    reassign, priority, escalate, incident roles."""
    DECLARE = "declare"
    """`may_declare`: platform admins, responders and admins of the team owning the service."""
    RUN_RUNBOOK = "run-runbook"
    """`may_run_runbooks`: platform admins, responders and admins of the owning team; being
    paged is not enough."""
    MANAGE_OVERRIDES = "manage-overrides"
    """`may_override`: platform admins and the schedule's team admins on anyone's shifts; the
    team's responders on their own shifts only (a window they hold, an override they are in
    or made)."""
    POSTMORTEM_OPEN = "postmortem-open"
    """`may_edit` of the team of every incident to review: platform admins, responders and
    admins of those teams."""
    POSTMORTEM_READ = "postmortem-read"
    """`may_read`: a draft (or one in review) to members of the teams whose incidents it
    reviews, observers included, and platform admins; anyone else gets 404, as if it did not
    exist. A published postmortem: everyone."""
    POSTMORTEM_EDIT = "postmortem-edit"
    """`may_edit` of a postmortem one may read: platform admins, responders and admins of its
    teams (observers 403); someone who may not read it gets 404."""
    STATUS_PAGE_WRITE = "status-page-write"
    """`statuspages.access.may_write`: platform admins, responders and admins of a team owning
    a service on the page (the web app's notices and component states; no API route yet)."""
    PLATFORM_ADMIN = "platform-admin"
    """Platform admins (`Organization.admins`) only: the audit log holds every team's changes."""
    EDIT_CONFIG = "edit-config"
    """`oncall.web.editor.access.may_edit_config`: platform admins and admins of the team(s)
    the config document belongs to may open a pull request from the web app's editors (no API
    route); anyone signed in may view the editors and copy their YAML."""


class Persona(StrEnum):
    """The kinds of person each rule is stated (and tested) for, relative to the team that owns
    the incident, service, schedule or postmortem."""

    PLATFORM_ADMIN = "platform admin"
    """Named in `Organization.admins` (and an admin of some other team)."""
    TEAM_ADMIN = "admin of the owning team"
    RESPONDER = "responder of the owning team"
    OBSERVER = "observer of the owning team"
    OTHER_TEAM = "responder of another team"
    """Not paged for the incident."""
    PAGED = "responder of another team, paged"
    """The incident paged them (a page was queued for them)."""


class Outcome(StrEnum):
    ALLOWED = "allowed"
    """2xx."""
    FORBIDDEN = "403"
    HIDDEN = "404"
    """Refused as if the thing did not exist (a draft postmortem one may not read)."""


_OK, _NO, _HIDDEN = Outcome.ALLOWED, Outcome.FORBIDDEN, Outcome.HIDDEN
P = Persona


def _row(platform_admin: Outcome, team_admin: Outcome, responder: Outcome, observer: Outcome,
         other_team: Outcome, paged: Outcome) -> dict[Persona, Outcome]:
    return {P.PLATFORM_ADMIN: platform_admin, P.TEAM_ADMIN: team_admin, P.RESPONDER: responder,
            P.OBSERVER: observer, P.OTHER_TEAM: other_team, P.PAGED: paged}


MATRIX: Mapping[Rule, Mapping[Persona, Outcome]] = {
    Rule.READ: _row(_OK, _OK, _OK, _OK, _OK, _OK),
    Rule.SELF: _row(_OK, _OK, _OK, _OK, _OK, _OK),
    Rule.ACT_ON_INCIDENT: _row(_OK, _OK, _OK, _NO, _NO, _OK),
    Rule.DECLARE: _row(_OK, _OK, _OK, _NO, _NO, _NO),
    Rule.RUN_RUNBOOK: _row(_OK, _OK, _OK, _NO, _NO, _NO),
    # The responder's row is for another person's shift; on their own shift they are allowed.
    Rule.MANAGE_OVERRIDES: _row(_OK, _OK, _NO, _NO, _NO, _NO),
    Rule.POSTMORTEM_OPEN: _row(_OK, _OK, _OK, _NO, _NO, _NO),
    # Postmortem rows are for a draft; a published postmortem is read by everyone.
    Rule.POSTMORTEM_READ: _row(_OK, _OK, _OK, _OK, _HIDDEN, _HIDDEN),
    Rule.POSTMORTEM_EDIT: _row(_OK, _OK, _OK, _NO, _HIDDEN, _HIDDEN),
    Rule.PLATFORM_ADMIN: _row(_OK, _NO, _NO, _NO, _NO, _NO),
    # Only the web app writes status pages so far (oncall/web/permissions.py).
    Rule.STATUS_PAGE_WRITE: _row(_OK, _OK, _OK, _NO, _NO, _NO),
    # Only the web app's config editors open pull requests (oncall/web/permissions.py).
    Rule.EDIT_CONFIG: _row(_OK, _OK, _NO, _NO, _NO, _NO),
}
"""Rule × persona: what the route answers."""

_INCIDENT = "/api/v1/incidents/{incident_id:int}"
_POSTMORTEM = "/api/v1/postmortems/{postmortem_id:int}"
_ITEM = "/api/v1/action-items/{item_id:int}"
_OVERRIDES = "/api/v1/schedules/{name}/overrides"
R = Rule

RULES: Mapping[Key, Rule] = {
    ("GET", "/api/v1/incidents"): R.READ,
    ("GET", _INCIDENT): R.READ,
    ("POST", "/api/v1/incidents"): R.DECLARE,
    ("POST", f"{_INCIDENT}/acknowledge"): R.ACT_ON_INCIDENT,
    ("POST", f"{_INCIDENT}/resolve"): R.ACT_ON_INCIDENT,
    ("POST", f"{_INCIDENT}/notes"): R.ACT_ON_INCIDENT,
    ("POST", f"{_INCIDENT}/reassign"): R.ACT_ON_INCIDENT,
    ("POST", f"{_INCIDENT}/priority"): R.ACT_ON_INCIDENT,
    ("POST", f"{_INCIDENT}/escalate"): R.ACT_ON_INCIDENT,
    ("PUT", f"{_INCIDENT}/roles/{{name}}"): R.ACT_ON_INCIDENT,
    ("DELETE", f"{_INCIDENT}/roles/{{name}}"): R.ACT_ON_INCIDENT,
    ("POST", f"{_INCIDENT}/runbooks/{{name}}"): R.RUN_RUNBOOK,
    ("GET", "/api/v1/reports/{name}"): R.READ,
    ("GET", "/api/v1/postmortems"): R.READ,
    ("POST", "/api/v1/postmortems"): R.POSTMORTEM_OPEN,
    ("GET", _POSTMORTEM): R.POSTMORTEM_READ,
    ("GET", f"{_POSTMORTEM}/export.md"): R.POSTMORTEM_READ,
    ("PATCH", _POSTMORTEM): R.POSTMORTEM_EDIT,
    ("POST", f"{_POSTMORTEM}/incidents"): R.POSTMORTEM_EDIT,
    ("DELETE", f"{_POSTMORTEM}/incidents/{{incident_id:int}}"): R.POSTMORTEM_EDIT,
    ("PUT", f"{_POSTMORTEM}/timeline/{{entry_key}}"): R.POSTMORTEM_EDIT,
    ("POST", f"{_POSTMORTEM}/action-items"): R.POSTMORTEM_EDIT,
    ("GET", "/api/v1/action-items"): R.READ,
    ("PATCH", _ITEM): R.POSTMORTEM_EDIT,
    ("DELETE", _ITEM): R.POSTMORTEM_EDIT,
    ("GET", "/api/v1/oncall"): R.READ,
    ("GET", "/api/v1/schedules"): R.READ,
    ("GET", "/api/v1/schedules/{name}/shifts"): R.READ,
    ("GET", _OVERRIDES): R.READ,
    ("GET", f"{_OVERRIDES}/{{identifier}}"): R.READ,
    ("POST", _OVERRIDES): R.MANAGE_OVERRIDES,
    ("DELETE", f"{_OVERRIDES}/{{identifier}}"): R.MANAGE_OVERRIDES,
    ("GET", "/api/v1/services"): R.READ,
    ("GET", "/api/v1/services/{name}"): R.READ,
    ("GET", "/api/v1/users"): R.READ,
    ("GET", "/api/v1/audit"): R.PLATFORM_ADMIN,
    ("GET", "/api/v1/users/me/notification-rules"): R.SELF,
    ("PUT", "/api/v1/users/me/notification-rules"): R.SELF,
    ("POST", "/api/v1/users/me/test-page"): R.SELF,
    ("GET", "/api/v1/delivery-health"): R.READ,
}
"""Every `Access.API_KEY` route of `oncall.api.access.API`: the rule that guards it."""
