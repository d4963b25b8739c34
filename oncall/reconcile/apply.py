"""Applying a plan: one transaction, one reconciler at a time, every change in the audit log.

The plan is recomputed inside the transaction, after the lock is taken, so what is applied is
what the database held at that moment; a second apply that waited for the lock finds nothing left
to do. Only reconciler-owned rows are written: incidents, contact methods, notification rules,
overrides made in the app and the rest of the operational data are never touched.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.workflows import listened_audit_types
from oncall.db.engine import exclusive_connection
from oncall.db.models import (
    AlertRow,
    ApiKeyRow,
    AuditEventRow,
    ConfigObjectRow,
    IncidentRow,
    ReconcileRunRow,
    SecretTokenRow,
    ServiceRow,
    SessionRow,
    TeamMembershipRow,
    UserRow,
    WorkflowEventTypeRow,
)
from oncall.reconcile.plan import USER, Change, Key, ObjectState, Plan, desired_state, make_plan
from oncall.reconcile.plan import spec_hash as hash_spec
from oncall.reconcile.state import read_current, service_columns

ADVISORY_LOCK_KEY = 0x6F6E_6361_6C6C  # "oncall": one reconciler per database
ACCESS_REVOKED = "user.access_revoked"
"""Audit event of a person who left the config: their sessions, API keys and tokens revoked."""
OPEN = IncidentRow.status != "resolved"


class ApplyRefused(Exception):
    """The plan would delete objects that open incidents still reference."""


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    run_id: int | None
    """The reconcile run recorded; None when there was nothing to apply."""


@dataclass(frozen=True)
class Origin:
    """Who applies what, from where, when: recorded on every row and audit event."""

    actor: str
    source: str
    revision: str | None
    now: datetime
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def locked_session(engine: Engine) -> Iterator[Session]:
    """A session in a transaction that holds the reconciler lock; commits on success."""
    with exclusive_connection(engine, ADVISORY_LOCK_KEY) as conn:
        session = Session(bind=conn, autoflush=False)
        try:
            yield session
            session.flush()
        finally:
            session.close()


def plan_config(engine: Engine, config: ConfigSet) -> Plan:
    with Session(engine) as session:
        return make_plan(desired_state(config), read_current(session))


def apply_config(
    engine: Engine, config: ConfigSet, origin: Origin, *, force: bool = False
) -> ApplyResult:
    desired = desired_state(config)
    with locked_session(engine) as session:
        plan = make_plan(desired, read_current(session))
        if not force:
            problems = blocked_deletes(session, plan)
            if problems:
                raise ApplyRefused(
                    "\n".join(problems) + "\nresolve those incidents first, or apply with --force"
                )
        for state in plan.relocated:
            _relocate(session, state)
        _listen(session, listened_audit_types(config))
        if not plan.has_changes:
            return ApplyResult(plan, None)
        for change in plan.changes:
            _apply_change(session, change, desired.get(change.key), origin)
        run = ReconcileRunRow(
            started_at=origin.now,
            finished_at=origin.now,
            source=origin.source,
            revision=origin.revision,
            actor=origin.actor,
            result="applied",
            created=plan.count("create"),
            updated=plan.count("update"),
            deleted=plan.count("delete"),
            errors=[],
        )
        session.add(run)
        session.flush()
        return ApplyResult(plan, run.id)


def _listen(session: Session, types: set[str]) -> None:
    """Let into the workflow inbox exactly the events the applied Workflows listen to."""
    current = set(session.scalars(select(WorkflowEventTypeRow.type)))
    if current - types:
        session.execute(delete(WorkflowEventTypeRow).where(
            WorkflowEventTypeRow.type.in_(current - types)))
    session.add_all(WorkflowEventTypeRow(type=t) for t in sorted(types - current))


def record_failure(engine: Engine, origin: Origin, result: str, errors: list[str]) -> int:
    """A run that changed nothing (invalid config, refused, failed), for the app to show."""
    with Session(engine) as session, session.begin():
        run = ReconcileRunRow(
            started_at=origin.now,
            finished_at=origin.now,
            source=origin.source,
            revision=origin.revision,
            actor=origin.actor,
            result=result,
            errors=errors,
        )
        session.add(run)
        session.add(
            AuditEventRow(
                at=origin.now,
                actor=origin.actor,
                type=f"reconcile.{result}",
                subject_kind="ReconcileRun",
                subject_name=origin.revision,
                data={"source": origin.source, "errors": errors[:50], **origin.extra},
            )
        )
        session.flush()
        return run.id


def blocked_deletes(session: Session, plan: Plan) -> list[str]:
    """Deletions that would orphan an open incident, one readable line each."""
    names: dict[str, list[str]] = {}
    for c in plan.changes:
        if c.action == "delete":
            names.setdefault(c.kind, []).append(c.name)
    queries = {
        "Service": select(ServiceRow.name, IncidentRow.id)
        .join(IncidentRow, IncidentRow.service_id == ServiceRow.id)
        .where(OPEN, ServiceRow.name.in_(names.get("Service", []))),
        "EscalationPolicy": select(IncidentRow.escalation_policy_name, IncidentRow.id).where(
            OPEN, IncidentRow.escalation_policy_name.in_(names.get("EscalationPolicy", []))
        ),
        "Integration": select(AlertRow.integration_name, IncidentRow.id)
        .join(IncidentRow, AlertRow.incident_id == IncidentRow.id)
        .where(OPEN, AlertRow.integration_name.in_(names.get("Integration", []))),
    }
    problems: list[str] = []
    for kind, query in queries.items():
        if not names.get(kind):
            continue
        found: dict[str, set[int]] = {}
        for name, incident_id in session.execute(query):
            found.setdefault(str(name), set()).add(incident_id)
        for name, ids in sorted(found.items()):
            listed = ", ".join(f"#{i}" for i in sorted(ids)[:10])
            more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
            problems.append(
                f"refusing to delete {kind} {name}: {len(ids)} open incident"
                f"{'s' if len(ids) != 1 else ''} reference it ({listed}{more})"
            )
    return problems


def _relocate(session: Session, state: ObjectState) -> None:
    row = _config_row(session, state.key)
    if row is not None and state.source_path is not None:
        row.source_path = state.source_path
        row.source_line = state.source_line or 0


def _config_row(session: Session, key: Key) -> ConfigObjectRow | None:
    return session.scalar(
        select(ConfigObjectRow).where(
            ConfigObjectRow.kind == key[0], ConfigObjectRow.name == key[1]
        )
    )


def _apply_change(
    session: Session, change: Change, want: ObjectState | None, origin: Origin
) -> None:
    if change.kind == USER:
        _apply_user(session, change, origin)
    else:
        _apply_object(session, change, want, origin)
    session.add(
        AuditEventRow(
            at=origin.now,
            actor=origin.actor,
            type=f"config.{change.action}d",
            subject_kind=change.kind,
            subject_name=change.name,
            before=change.before,
            after=change.after,
            data={
                "revision": origin.revision,
                "source": origin.source,
                "fields": [f.path for f in change.fields],
                "drift": change.drift,
                **origin.extra,
            },
        )
    )


def _apply_object(
    session: Session, change: Change, want: ObjectState | None, origin: Origin
) -> None:
    if change.action == "delete":
        session.execute(
            delete(ConfigObjectRow).where(
                ConfigObjectRow.kind == change.kind, ConfigObjectRow.name == change.name
            )
        )
        if change.kind == "Service":
            service = session.scalar(select(ServiceRow).where(ServiceRow.name == change.name))
            if service is not None and service.retired_at is None:
                service.retired_at = origin.now
        return
    assert want is not None
    row = _config_row(session, change.key) if change.action == "update" else None
    if row is None:
        row = ConfigObjectRow(kind=change.kind, name=change.name, created_at=origin.now)
        session.add(row)
    row.spec = want.spec
    row.spec_hash = hash_spec(want.spec)
    row.source_path = want.source_path or ""
    row.source_line = want.source_line or 0
    row.revision = origin.revision
    row.applied_at = origin.now
    row.applied_by = origin.actor
    if change.kind == "Service":
        _ensure_service(session, change.name, want.spec, origin.now)


def _ensure_service(session: Session, name: str, spec: dict[str, Any], now: datetime) -> None:
    """Create or update the service row; its routing key is made once and never changed."""
    service = session.scalar(select(ServiceRow).where(ServiceRow.name == name))
    if service is None:
        service = ServiceRow(name=name, routing_key=secrets.token_hex(16), created_at=now)
        session.add(service)
    service.retired_at = None
    for column, value in service_columns(spec).items():
        setattr(service, column, value)


def _apply_user(session: Session, change: Change, origin: Origin) -> None:
    user = session.scalar(select(UserRow).where(UserRow.email == change.name))
    if change.action == "delete":
        if user is not None:
            user.in_config = False
            user.platform_admin = False
            user.updated_at = origin.now
            session.execute(delete(TeamMembershipRow).where(TeamMembershipRow.user_id == user.id))
            _revoke_access(session, user, origin)
        return
    spec = change.after or {}
    if user is None:
        user = UserRow(email=change.name, created_at=origin.now)
        session.add(user)
    user.in_config = True
    user.platform_admin = bool(spec.get("platform_admin", False))
    user.updated_at = origin.now
    if "name" in spec:
        user.name = spec["name"]
    session.flush()
    roles: dict[str, str] = spec.get("roles", {})
    existing = {
        m.team_name: m
        for m in session.scalars(
            select(TeamMembershipRow).where(TeamMembershipRow.user_id == user.id)
        )
    }
    for team, membership in existing.items():
        if team not in roles:
            session.delete(membership)
        elif membership.role != roles[team]:
            membership.role = roles[team]
    for team, role in roles.items():
        if team not in existing:
            session.add(TeamMembershipRow(team_name=team, user_id=user.id, role=role))


def _revoke_access(session: Session, user: UserRow, origin: Origin) -> None:
    """Someone who left the config keeps nothing that signs in or reads as them: their sessions,
    API keys and secret tokens (iCal feeds, acknowledge links, …) are revoked, in the audit log.
    The checks at use (`in_config`) refuse them anyway; this makes it visible and permanent."""
    now = origin.now
    sessions = session.execute(
        update(SessionRow)
        .where(SessionRow.user_id == user.id, SessionRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    keys = session.execute(
        update(ApiKeyRow)
        .where(ApiKeyRow.created_by_id == user.id, ApiKeyRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    tokens = session.execute(
        update(SecretTokenRow)
        .where(SecretTokenRow.user_id == user.id, SecretTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    counts = {
        "sessions": int(sessions.rowcount),  # type: ignore[attr-defined]
        "api_keys": int(keys.rowcount),  # type: ignore[attr-defined]
        "secret_tokens": int(tokens.rowcount),  # type: ignore[attr-defined]
    }
    session.add(
        AuditEventRow(
            at=now,
            actor=origin.actor,
            type=ACCESS_REVOKED,
            subject_kind="user",
            subject_name=user.email,
            data={
                "revoked": counts,
                "reason": "no longer listed by any Team in the applied config",
                "revision": origin.revision,
                "source": origin.source,
                **origin.extra,
            },
        )
    )


def git_revision(directory: str | Path) -> str | None:
    """HEAD of the git work tree holding `directory` (`+dirty` when it has local changes)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(directory), *args],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    if git("rev-parse", "--is-inside-work-tree") != "true":
        return None
    head = git("rev-parse", "HEAD")
    if head is None:
        return None
    status = git("status", "--porcelain", "--untracked-files=normal", "--", ".")
    return f"{head}+dirty" if status else head
