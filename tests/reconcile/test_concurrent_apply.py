"""Two `oncall apply` processes at once against PostgreSQL: the result equals one apply."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from reconcile_support import BASE, write_repo
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall.db.engine import make_engine
from oncall.db.migrate import upgrade_engine
from oncall.db.models import AuditEventRow, ConfigObjectRow, ReconcileRunRow, ServiceRow, UserRow
from oncall.reconcile.plan import spec_hash

ONCALL = Path(sys.executable).with_name("oncall")


def _many_services(n: int) -> str:
    return "".join(
        f"---\nkind: Service\nname: svc-{i:03d}\nteam: payments\nescalation_policy: payments\n"
        for i in range(n)
    )


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    upgrade_engine(engine)
    yield engine
    engine.dispose()


@pytest.mark.postgres
def test_two_applies_at_once(pg_engine: Engine, postgres_url: str, tmp_path: Path) -> None:
    migrated_engine, database_url = pg_engine, postgres_url
    repo = write_repo(tmp_path, {**BASE, "rules/many.yaml": _many_services(200)})
    env = {**os.environ, "ONCALL_DATABASE_URL": database_url}
    procs = [
        subprocess.Popen(
            [str(ONCALL), "apply", str(repo), "--actor", f"p{i}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sorted("No changes" in out for out, _ in outputs) == [False, True]
    with Session(migrated_engine) as session:
        runs = session.scalars(select(ReconcileRunRow)).all()
        assert [(r.result, r.created) for r in runs] == [("applied", 207)]
        assert session.scalar(select(func.count()).select_from(ConfigObjectRow)) == 205
        assert session.scalar(select(func.count()).select_from(ServiceRow)) == 201
        assert session.scalar(select(func.count()).select_from(UserRow)) == 2
        assert session.scalar(select(func.count()).select_from(AuditEventRow)) == 207
        rows = session.scalars(select(ConfigObjectRow)).all()
        assert all(spec_hash(r.spec) == r.spec_hash for r in rows)
    check = subprocess.run(
        [str(ONCALL), "plan", str(repo)], env=env, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
