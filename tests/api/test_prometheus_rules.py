"""The Prometheus alert rules shipped in docs/operations.md load in Prometheus (`promtool
check rules`) and use only metrics that `/metrics` exposes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from oncall.api import metrics
from oncall.testing.debian import tool

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
INSTALL = Path(__file__).with_name("install_prometheus.sh")
BINARY = "promtool"
FOREIGN = {"up"}
"""Series the rules may use that Prometheus itself makes, not `/metrics`."""


def rules_block() -> str:
    """The fenced YAML block of docs/operations.md holding alert rule groups."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", DOC.read_text("utf-8"), re.M | re.S)
    found = [b for b in blocks if b.startswith("groups:")]
    assert len(found) == 1, "docs/operations.md should hold exactly one `groups:` YAML block"
    return found[0]


@pytest.fixture(scope="session")
def promtool() -> str:
    return tool(BINARY, INSTALL)


def test_the_documented_rules_pass_promtool(promtool: str, tmp_path: Path) -> None:
    path = tmp_path / "oncall-rules.yml"
    path.write_text(rules_block(), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_rules_use_only_exposed_metrics() -> None:
    source = Path(metrics.__file__).read_text("utf-8")
    exposed = set(re.findall(r'"(oncall_[a-z0-9_]+)"', source))
    rules = [r for g in yaml.safe_load(rules_block())["groups"] for r in g["rules"]]
    used = {name for r in rules for name in re.findall(r"\b([a-z_][a-z0-9_]*)\s*[{(>=<)]",
                                                        r["expr"])
            if name.startswith("oncall_") or name in FOREIGN}
    assert used - FOREIGN <= exposed, sorted(used - FOREIGN - exposed)
    assert {"oncall_escalation_timers_overdue", "oncall_oldest_due_page_seconds",
            "oncall_notifications", "oncall_provider_circuit_open",
            "oncall_heartbeat_up"} <= used
