"""Small self-contained config repos for reconciler tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

TEAM = """\
kind: Team
name: payments
members:
  - {email: alice@example.com, name: Alice Liddell, role: admin}
  - {email: bob@example.com}
"""

POLICY = """\
kind: EscalationPolicy
name: payments
steps:
  - targets: [schedule:payments-primary]
    timeout: 5m
"""

SERVICE = """\
kind: Service
name: checkout-api
team: payments
escalation_policy: payments
depends_on: []
"""

INTEGRATION = """\
kind: Integration
name: prometheus
type: alertmanager
service: checkout-api
secret: ${env:PROM_SECRET}
"""

SCHEDULE = """\
kind: Schedule
name: payments-primary
team: payments
timezone: Europe/London
layers:
  - name: weekly
    members: [alice@example.com, bob@example.com]
    rotation: {every: 1w, start: 2026-01-05T09:00}
"""

BASE = {
    "rules/team.yaml": TEAM,
    "rules/policy.yaml": POLICY,
    "rules/services.yaml": SERVICE,
    "rules/integrations.yaml": INTEGRATION,
    "schedules/payments.yaml": SCHEDULE,
}


def write_repo(root: Path, files: dict[str, str | None]) -> Path:
    """Write (or with None, remove) files below root."""
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        [
            "git",
            "-C",
            str(root),
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "-m", message)
    return git(root, "rev-parse", "HEAD")
