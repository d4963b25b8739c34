from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from reconcile_support import BASE, POLICY, SERVICE, TEAM, commit_all, git, write_repo
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from oncall.cli.main import main
from oncall.config.configset import ConfigSet
from oncall.config.loader import load
from oncall.db.models import (
    AuditEventRow,
    ConfigObjectRow,
    ContactMethodRow,
    IncidentRow,
    NotificationRuleRow,
    ReconcileRunRow,
    ServiceRow,
    TeamMembershipRow,
    UserRow,
)
from oncall.reconcile.apply import ApplyRefused, Origin, apply_config, git_revision, plan_config

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ORIGIN = Origin("test", "/repo", "abc123", NOW)


def config(root: Path, files: dict[str, str | None] | None = None) -> ConfigSet:
    write_repo(root, {**BASE, **(files or {})})
    result = load(root)
    assert not result.errors, result.errors
    return result.config


def service(engine: Engine, name: str = "checkout-api") -> ServiceRow:
    with Session(engine) as session:
        return session.scalars(select(ServiceRow).where(ServiceRow.name == name)).one()


def open_incident(engine: Engine, service_name: str = "checkout-api") -> int:
    with Session(engine) as session, session.begin():
        svc = session.scalars(select(ServiceRow).where(ServiceRow.name == service_name)).one()
        incident = IncidentRow(
            title="Checkout 5xx",
            status="triggered",
            service_id=svc.id,
            group_key="g",
            labels={},
            escalation_policy_name="payments",
            triggered_at=NOW,
            updated_at=NOW,
        )
        session.add(incident)
        session.flush()
        return incident.id


def test_apply_then_plan_is_empty(migrated_engine: Engine, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    result = apply_config(migrated_engine, cfg, ORIGIN)
    assert result.plan.count("create") == 7 and result.run_id is not None
    assert not plan_config(migrated_engine, cfg).has_changes
    again = apply_config(migrated_engine, cfg, ORIGIN)
    assert again.run_id is None and not again.plan.has_changes
    with Session(migrated_engine) as session:
        row = session.scalars(
            select(ConfigObjectRow).where(ConfigObjectRow.kind == "Service")
        ).one()
        assert (row.source_path, row.source_line, row.revision) == (
            "rules/services.yaml",
            1,
            "abc123",
        )
        events = session.scalars(select(AuditEventRow).order_by(AuditEventRow.id)).all()
        assert len(events) == 7
        assert {e.type for e in events} == {"config.created"}
        assert all(e.actor == "test" and e.data and e.data["revision"] == "abc123" for e in events)
        run = session.scalars(select(ReconcileRunRow)).one()
        assert (run.result, run.created, run.revision) == ("applied", 7, "abc123")


def test_update_records_before_and_after(migrated_engine: Engine, tmp_path: Path) -> None:
    apply_config(migrated_engine, config(tmp_path), ORIGIN)
    changed = config(tmp_path, {"rules/policy.yaml": POLICY.replace("5m", "15m")})
    result = apply_config(migrated_engine, changed, ORIGIN)
    assert [(c.action, c.kind) for c in result.plan.changes] == [("update", "EscalationPolicy")]
    with Session(migrated_engine) as session:
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.type == "config.updated")
        ).one()
    assert event.before["steps"][0]["timeout"] == "5m"
    assert event.after["steps"][0]["timeout"] == "15m"
    assert event.data is not None and event.data["fields"] == ["steps[0].timeout"]


def test_routing_key_never_changes(migrated_engine: Engine, tmp_path: Path) -> None:
    apply_config(migrated_engine, config(tmp_path), ORIGIN)
    key = service(migrated_engine).routing_key
    apply_config(
        migrated_engine,
        config(tmp_path, {"rules/services.yaml": SERVICE + "urgency: low\n"}),
        ORIGIN,
    )
    assert service(migrated_engine).routing_key == key
    assert service(migrated_engine).urgency == "low"
    apply_config(
        migrated_engine,
        config(tmp_path, {"rules/services.yaml": None, "rules/integrations.yaml": None}),
        ORIGIN,
    )
    assert service(migrated_engine).retired_at is not None
    apply_config(migrated_engine, config(tmp_path), ORIGIN)
    restored = service(migrated_engine)
    assert restored.routing_key == key and restored.retired_at is None


def test_deleting_what_an_open_incident_uses_is_refused(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    apply_config(migrated_engine, config(tmp_path), ORIGIN)
    incident_id = open_incident(migrated_engine)
    smaller = config(tmp_path, {"rules/services.yaml": None, "rules/integrations.yaml": None})
    with pytest.raises(ApplyRefused) as info:
        apply_config(migrated_engine, smaller, ORIGIN)
    assert (
        f"refusing to delete Service checkout-api: 1 open incident reference it (#{incident_id})"
        in str(info.value)
    )
    assert "--force" in str(info.value)
    assert service(migrated_engine).retired_at is None
    assert plan_config(migrated_engine, smaller).count("delete") == 2
    apply_config(migrated_engine, smaller, ORIGIN, force=True)
    with Session(migrated_engine) as session:
        incident = session.get_one(IncidentRow, incident_id)
        assert incident.status == "triggered"
        assert session.get_one(ServiceRow, incident.service_id).retired_at is not None


def test_users_follow_teams_and_keep_their_contact_methods(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    apply_config(migrated_engine, config(tmp_path), ORIGIN)
    with Session(migrated_engine) as session, session.begin():
        bob = session.scalars(select(UserRow).where(UserRow.email == "bob@example.com")).one()
        method = ContactMethodRow(
            user_id=bob.id, type="sms", address="+15551234567", verified_at=NOW, created_at=NOW
        )
        session.add(method)
        session.flush()
        session.add(
            NotificationRuleRow(
                user_id=bob.id, contact_method_id=method.id, urgency="high", created_at=NOW
            )
        )
    without_bob = TEAM.replace("  - {email: bob@example.com}\n", "")
    schedule = BASE["schedules/payments.yaml"].replace(", bob@example.com", "")
    apply_config(
        migrated_engine,
        config(tmp_path, {"rules/team.yaml": without_bob, "schedules/payments.yaml": schedule}),
        ORIGIN,
    )
    with Session(migrated_engine) as session:
        bob = session.scalars(select(UserRow).where(UserRow.email == "bob@example.com")).one()
        assert not bob.in_config
        assert (
            session.scalar(
                select(func.count())
                .select_from(TeamMembershipRow)
                .where(TeamMembershipRow.user_id == bob.id)
            )
            == 0
        )
    apply_config(migrated_engine, config(tmp_path), ORIGIN)
    with Session(migrated_engine) as session:
        users = {u.email: u for u in session.scalars(select(UserRow))}
        assert users["alice@example.com"].name == "Alice Liddell"
        assert users["bob@example.com"].in_config
        roles = {
            (m.user.email, m.team_name, m.role) for m in session.scalars(select(TeamMembershipRow))
        }
        assert roles == {
            ("alice@example.com", "payments", "admin"),
            ("bob@example.com", "payments", "responder"),
        }
        assert session.scalar(select(func.count()).select_from(ContactMethodRow)) == 1
        assert session.scalar(select(func.count()).select_from(NotificationRuleRow)) == 1


def test_drift_is_planned_and_reverted(migrated_engine: Engine, tmp_path: Path) -> None:
    cfg = config(tmp_path)
    apply_config(migrated_engine, cfg, ORIGIN)
    incident_id = open_incident(migrated_engine)
    with migrated_engine.begin() as conn:  # a script edits state behind the reconciler's back
        conn.execute(update(ServiceRow).values(urgency="low", team_name="other"))
        conn.execute(
            update(ConfigObjectRow)
            .where(ConfigObjectRow.kind == "EscalationPolicy")
            .values(spec={"repeat": 3, "steps": []})
        )
        conn.execute(text("DELETE FROM team_memberships WHERE role = 'admin'"))
    plan = plan_config(migrated_engine, cfg)
    drifted = {(c.kind, c.name): c for c in plan.changes}
    assert set(drifted) == {
        ("EscalationPolicy", "payments"),
        ("Service", "checkout-api"),
        ("User", "alice@example.com"),
    }
    assert drifted[("Service", "checkout-api")].drift
    assert {f.path for f in drifted[("Service", "checkout-api")].fields} == {"team", "urgency"}
    apply_config(migrated_engine, cfg, ORIGIN)
    assert not plan_config(migrated_engine, cfg).has_changes
    assert service(migrated_engine).team_name == "payments"
    with Session(migrated_engine) as session:
        assert session.get_one(IncidentRow, incident_id).status == "triggered"


def test_git_revision_is_recorded(migrated_engine: Engine, tmp_path: Path) -> None:
    write_repo(tmp_path, BASE)
    assert git_revision(tmp_path) is None
    git(tmp_path, "init", "--quiet")
    head = commit_all(tmp_path, "config")
    assert git_revision(tmp_path) == head
    (tmp_path / "rules" / "extra.yaml").write_text("kind: Team\n", encoding="utf-8")
    assert git_revision(tmp_path) == f"{head}+dirty"


def test_cli_exit_codes(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = write_repo(tmp_path / "repo", BASE)
    db = ["--database-url", database_url]
    assert main(["plan", str(repo), *db]) == 1
    assert "database is not migrated: run `oncall db upgrade`" in capsys.readouterr().err
    assert main(["db", "upgrade", *db]) == 0
    assert main(["plan", str(repo), *db]) == 2
    assert main(["apply", str(repo), "--actor", "alice", *db]) == 0
    assert main(["plan", str(repo), *db]) == 0
    capsys.readouterr()
    write_repo(repo, {"rules/policy.yaml": POLICY.replace("5m", "nonsense")})
    assert main(["plan", str(repo), *db]) == 1
    assert main(["apply", str(repo), *db]) == 1
    err = capsys.readouterr().err
    assert "rules/policy.yaml:5:" in err and "nothing was changed" in err
    write_repo(repo, BASE)
    assert main(["plan", str(repo), "--format", "json", *db]) == 0
