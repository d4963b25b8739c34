"""The `--repo` reconciler against a real git repository."""

from __future__ import annotations

import threading
from pathlib import Path

from reconcile_support import BASE, POLICY, SERVICE, TEAM, commit_all, git, write_repo
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.cli.main import main
from oncall.db.models import ConfigObjectRow, ReconcileRunRow, ServiceRow
from oncall.reconcile.follow import Follower


def _spec(engine: Engine, kind: str, name: str) -> dict[str, object]:
    with Session(engine) as session:
        row = session.scalars(
            select(ConfigObjectRow).where(
                ConfigObjectRow.kind == kind, ConfigObjectRow.name == name
            )
        ).one()
        return row.spec


def test_follows_the_branch_and_keeps_the_last_good_config(
    migrated_engine: Engine, tmp_path: Path
) -> None:
    repo = write_repo(tmp_path / "origin", BASE)
    git(repo, "init", "--quiet", "--initial-branch=main")
    first = commit_all(repo, "initial config")
    follower = Follower(migrated_engine, str(repo), "main", tmp_path / "work")

    assert follower.poll().outcome == "applied"
    assert follower.poll().outcome == "unchanged"

    write_repo(
        repo,
        {
            "rules/team.yaml": TEAM.replace(
                "{email: bob@example.com}", "{email: bob@example.com, role: admin}"
            ),
            "rules/policy.yaml": POLICY.replace("5m", "7m"),
            "rules/services.yaml": SERVICE + "urgency: low\n",
        },
    )
    second = commit_all(repo, "three edits")
    result = follower.poll()
    assert (result.head, result.outcome) == (second, "applied")
    assert _spec(migrated_engine, "EscalationPolicy", "payments")["steps"] == [
        {"targets": ["schedule:payments-primary"], "timeout": "7m"}
    ]
    with Session(migrated_engine) as session:
        svc = session.scalars(select(ServiceRow)).one()
        assert svc.urgency == "low"
        row = session.scalars(
            select(ConfigObjectRow).where(ConfigObjectRow.kind == "Service")
        ).one()
        assert row.revision == second

    write_repo(
        repo, {"rules/policy.yaml": POLICY.replace("5m", "soon"), "rules/services.yaml": SERVICE}
    )
    broken = commit_all(repo, "broken")
    result = follower.poll()
    assert (result.head, result.outcome) == (broken, "invalid")
    assert "rules/policy.yaml" in result.message
    assert follower.poll().outcome == "invalid"  # reported once, not re-applied
    assert _spec(migrated_engine, "EscalationPolicy", "payments")["steps"][0]["timeout"] == "7m"
    with Session(migrated_engine) as session:
        runs = session.scalars(select(ReconcileRunRow).order_by(ReconcileRunRow.id)).all()
        assert [(r.revision, r.result) for r in runs] == [
            (first, "applied"),
            (second, "applied"),
            (broken, "invalid"),
        ]
        assert any("rules/policy.yaml" in e for e in runs[-1].errors)
        assert session.scalars(select(ServiceRow)).one().urgency == "low"

    write_repo(repo, {"rules/policy.yaml": POLICY})
    commit_all(repo, "fixed")
    assert follower.poll().outcome == "applied"
    assert _spec(migrated_engine, "EscalationPolicy", "payments")["steps"][0]["timeout"] == "5m"


def test_drift_is_reverted_on_the_next_poll(migrated_engine: Engine, tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "origin", BASE)
    git(repo, "init", "--quiet", "--initial-branch=main")
    commit_all(repo, "initial config")
    follower = Follower(migrated_engine, str(repo), "main", tmp_path / "work")
    follower.run(0.01, threading.Event(), once=True)
    with migrated_engine.begin() as conn:
        conn.execute(ServiceRow.__table__.update().values(urgency="low"))
    assert follower.poll().outcome == "applied"
    with Session(migrated_engine) as session:
        assert session.scalars(select(ServiceRow)).one().urgency == "high"


def test_unreachable_repository_fails_cleanly(database_url: str, tmp_path: Path) -> None:
    db = ["--database-url", database_url]
    assert main(["db", "upgrade", *db]) == 0
    args = [
        "reconcile",
        "--repo",
        str(tmp_path / "missing"),
        "--once",
        "--workdir",
        str(tmp_path / "work"),
        *db,
    ]
    assert main(args) == 1
