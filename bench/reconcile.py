"""Reconciler benchmark: 5,000 generated objects, first apply and no-op plan on PostgreSQL.

    .venv/bin/python bench/reconcile.py [--objects 5000] [--database-url URL]

Without --database-url a scratch database is created on 127.0.0.1:5432 and dropped afterwards.
Times include reading and validating the config directory, as `oncall plan`/`oncall apply` do.
Targets: first apply under 20 s, no-op plan under 3 s.
"""

from __future__ import annotations

import argparse
import getpass
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from cputime import cpu_reference

from oncall.config.loader import load
from oncall.db.engine import make_engine
from oncall.db.migrate import upgrade_engine
from oncall.reconcile.apply import Origin, apply_config, plan_config


def generate(root: Path, total: int) -> int:
    """Teams of 5 with a schedule, a policy, services, integrations and rules each."""
    teams = max(1, total // 50)
    per_team = total // teams - 3  # minus team, schedule, policy
    count = 0
    for t in range(teams):
        team = f"team-{t:03d}"
        emails = [f"u{t:03d}-{m}@example.com" for m in range(5)]
        docs = [
            f"kind: Team\nname: {team}\nmembers:\n"
            + "".join(f"  - {{email: {e}, role: responder}}\n" for e in emails),
            f"kind: EscalationPolicy\nname: {team}\nsteps:\n"
            f"  - {{targets: ['schedule:{team}'], timeout: 5m}}\n"
            f"  - {{targets: ['team:{team}'], timeout: 10m}}\n",
        ]
        services = per_team // 2
        for s in range(services):
            docs.append(
                f"kind: Service\nname: {team}-svc-{s:02d}\nteam: {team}\n"
                f"escalation_policy: {team}\nslack_channel: '#{team}'\n"
            )
        for i in range(per_team - services):
            docs.append(
                f"kind: RoutingRule\nname: {team}-rule-{i:02d}\norder: {i}\n"
                f"matchers: ['team=\"{team}\"', 'alertname=~\"A{i}.*\"']\n"
                f"service: {team}-svc-{i % services:02d}\npriority: P{1 + i % 5}\n"
                "group_by: [alertname]\n"
            )
        (root / "rules" / f"{team}.yaml").write_text("---\n".join(docs), encoding="utf-8")
        (root / "schedules" / f"{team}.yaml").write_text(
            f"kind: Schedule\nname: {team}\nteam: {team}\ntimezone: Europe/Paris\nlayers:\n"
            f"  - name: weekly\n    members: [{', '.join(emails)}]\n"
            "    rotation: {every: 1w, start: 2026-01-05T09:00}\n",
            encoding="utf-8",
        )
        count += len(docs) + 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=5000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    admin = None
    url = args.database_url
    if url is None:
        name = f"oncall_bench_{uuid.uuid4().hex[:8]}"
        admin = psycopg.connect(
            host="127.0.0.1", dbname="postgres", autocommit=True, user=getpass.getuser()
        )
        admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://{getpass.getuser()}@127.0.0.1:5432/{name}"
    engine = make_engine(url)
    try:
        upgrade_engine(engine)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "rules").mkdir()
            (root / "schedules").mkdir()
            n = generate(root, args.objects)

            t0 = time.perf_counter()
            result = load(root, now=datetime.now(UTC))
            assert not result.errors, result.errors[:5]
            t1 = time.perf_counter()
            applied = apply_config(
                engine, result.config, Origin("bench", str(root), None, datetime.now(UTC))
            )
            t2 = time.perf_counter()

            t3 = time.perf_counter()
            again = load(root, now=datetime.now(UTC))
            t4 = time.perf_counter()
            plan = plan_config(engine, again.config)
            t5 = time.perf_counter()
            assert not plan.has_changes
        print(
            f"objects: {n} config objects + {len(result.config.users)} users "
            f"({applied.plan.count('create')} creates)"
        )
        print(
            f"first apply: {t2 - t0:.2f} s (load+validate {t1 - t0:.2f} s, apply {t2 - t1:.2f} s)"
        )
        print(f"no-op plan:  {t5 - t3:.2f} s (load+validate {t4 - t3:.2f} s, plan {t5 - t4:.2f} s)")
    finally:
        engine.dispose()
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.close()


if __name__ == "__main__":
    with cpu_reference():
        main()
