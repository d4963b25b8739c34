"""The reconciler and access: `Organization.admins` become platform admins, and someone who
leaves the config loses every session, API key and secret token, in the audit log (issue 15
rows 4 and 5)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconcile_support import BASE, SCHEDULE, TEAM, write_repo
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.api.keys import actor_for_key, create_key
from oncall.config.configset import ConfigSet
from oncall.config.loader import load
from oncall.db.engine import write_session
from oncall.db.models import (
    ApiKeyRow,
    AuditEventRow,
    SecretTokenRow,
    SessionRow,
    UserRow,
)
from oncall.reconcile.apply import ACCESS_REVOKED, Origin, apply_config, plan_config
from oncall.web import auth

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ORIGIN = Origin("test", "/repo", "abc123", NOW)
ORG = """\
kind: Organization
name: example
admins: [alice@example.com]
"""


def config(root: Path, files: dict[str, str | None] | None = None) -> ConfigSet:
    write_repo(root, {**BASE, **(files or {})})
    result = load(root)
    assert not result.errors, [d.as_text() for d in result.errors]
    return result.config


def admins(engine: Engine) -> set[str]:
    with Session(engine) as session:
        return set(session.scalars(select(UserRow.email).where(UserRow.platform_admin)))


def test_organization_admins_become_platform_admins(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    cfg = config(tmp_path, {"rules/org.yaml": ORG})
    result = apply_config(migrated_engine, cfg, ORIGIN)
    assert admins(migrated_engine) == {"alice@example.com"}
    alice = next(c for c in result.plan.changes if c.name == "alice@example.com")
    assert alice.after is not None and alice.after["platform_admin"] is True
    assert not plan_config(migrated_engine, cfg).has_changes  # read back the same
    # dropping the document (or the name) takes the power away on the next apply
    result = apply_config(migrated_engine, config(tmp_path, {"rules/org.yaml": None}), ORIGIN)
    assert admins(migrated_engine) == set()
    change = next(c for c in result.plan.changes if c.name == "alice@example.com")
    assert [f.path for f in change.fields] == ["platform_admin"]


def test_someone_who_leaves_the_config_keeps_nothing(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    apply_config(migrated_engine, config(tmp_path), ORIGIN)
    with write_session(migrated_engine) as session:
        bob = session.scalar(select(UserRow).where(UserRow.email == "bob@example.com"))
        assert bob is not None
        key = create_key(session, "bob's script", bob.email, NOW).key
        session_token = auth.start_session(session, bob, "oidc", NOW, 12)
        for purpose in ("ical", "ack"):
            session.add(SecretTokenRow(token_hash=f"{purpose}-hash", purpose=purpose,
                                       user_id=bob.id, created_at=NOW))
    later = dataclasses.replace(ORIGIN, now=NOW + timedelta(minutes=5), revision="def456")
    without_bob = TEAM.replace("  - {email: bob@example.com}\n", "")
    only_alice = SCHEDULE.replace("[alice@example.com, bob@example.com]", "[alice@example.com]")
    apply_config(migrated_engine, config(tmp_path, {"rules/team.yaml": without_bob,
                                                    "schedules/payments.yaml": only_alice}), later)
    with write_session(migrated_engine) as session:
        assert actor_for_key(session, key, later.now) is None
        assert auth.signed_in(session, session_token, later.now) is None
        assert set(session.scalars(select(ApiKeyRow.revoked_at))) == {later.now}
        assert set(session.scalars(select(SessionRow.revoked_at))) == {later.now}
        assert set(session.scalars(select(SecretTokenRow.revoked_at))) == {later.now}
        event = session.scalar(select(AuditEventRow).where(AuditEventRow.type == ACCESS_REVOKED))
        assert event is not None
        assert (event.actor, event.subject_name) == ("test", "bob@example.com")
        assert event.data["revoked"] == {"sessions": 1, "api_keys": 1, "secret_tokens": 2}
        assert event.data["revision"] == "def456"
