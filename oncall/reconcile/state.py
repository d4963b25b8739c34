"""Reading the applied config back from the database as `ObjectState`s for the plan.

Rows the reconciler owns are compared with what it last wrote: a `config_objects` row whose spec
no longer hashes to `spec_hash`, or a `services` row that disagrees with its spec, is drift.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import ConfigObjectRow, ServiceRow, TeamMembershipRow, UserRow
from oncall.reconcile.plan import USER, Key, ObjectState, spec_hash

SERVICE_COLUMNS = {
    "team": "team_name",
    "escalation_policy": "escalation_policy_name",
    "urgency": "urgency",
}
"""Service spec fields mirrored into the relational `services` table."""


def service_columns(spec: dict[str, Any]) -> dict[str, Any]:
    return {column: spec.get(field) for field, column in SERVICE_COLUMNS.items()}


def read_current(session: Session) -> dict[Key, ObjectState]:
    current: dict[Key, ObjectState] = {}
    services = {
        row.name: row
        for row in session.scalars(select(ServiceRow).where(ServiceRow.retired_at.is_(None)))
    }
    rows = session.execute(
        select(
            ConfigObjectRow.kind,
            ConfigObjectRow.name,
            ConfigObjectRow.spec,
            ConfigObjectRow.spec_hash,
            ConfigObjectRow.source_path,
            ConfigObjectRow.source_line,
        )
    )
    for kind, name, spec, stored_hash, path, line in rows:
        spec = dict(spec)
        drift = spec_hash(spec) != stored_hash
        if kind == "Service":
            spec, projected_drift = _overlay_service(spec, services.get(name))
            drift = drift or projected_drift
        current[(kind, name)] = ObjectState(kind, name, spec, path, line, drift)
    for user_state in read_users(session):
        current[user_state.key] = user_state
    return current


def _overlay_service(spec: dict[str, Any], row: ServiceRow | None) -> tuple[dict[str, Any], bool]:
    """The service as the rest of the product sees it: the relational columns win."""
    if row is None:
        return {k: v for k, v in spec.items() if k not in SERVICE_COLUMNS}, True
    drift = False
    for field, column in SERVICE_COLUMNS.items():
        value = getattr(row, column)
        if spec.get(field) != value:
            drift = True
            spec[field] = value
    return spec, drift


def read_users(session: Session) -> list[ObjectState]:
    users = session.execute(
        select(UserRow.id, UserRow.email, UserRow.name, UserRow.platform_admin).where(
            UserRow.in_config.is_(True)
        )
    ).all()
    roles: dict[int, dict[str, str]] = {}
    for user_id, team, role in session.execute(
        select(TeamMembershipRow.user_id, TeamMembershipRow.team_name, TeamMembershipRow.role)
    ):
        roles.setdefault(user_id, {})[team] = role
    states = []
    for user_id, email, name, platform_admin in users:
        spec: dict[str, Any] = {"roles": dict(sorted(roles.get(user_id, {}).items()))}
        if name is not None:
            spec = {"name": name, **spec}
        if platform_admin:
            spec["platform_admin"] = True
        states.append(ObjectState(USER, email, spec))
    return states
