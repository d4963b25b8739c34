"""The writer: imported objects as files a person would have written, and nothing else."""

from __future__ import annotations

import stat
from pathlib import Path

import yaml

from oncall.config.loader import load
from oncall.config.models import Integration, Schedule, Service, Team
from oncall.importers import writer
from oncall.importers.base import Imported, Unmapped
from oncall.importers.names import env_name, slug, unique_env_name

TEAM = Team.model_validate({"kind": "Team", "name": "ops", "members": [
    {"email": "ana@acme.example", "name": "Ana", "role": "admin"}]})
SCHEDULE = Schedule.model_validate({
    "kind": "Schedule", "name": "ops-primary", "team": "ops", "timezone": "Europe/Berlin",
    "layers": [{"name": "weekly", "members": ["ana@acme.example"],
                "rotation": {"start": "2026-01-05T09:00", "every": "1w"},
                "restrictions": [{"days": ["mon"], "from": "09:00", "to": "17:00"}]}]})
SERVICE = Service.model_validate({"kind": "Service", "name": "api", "team": "ops"})
INTEGRATION = Integration.model_validate({
    "kind": "Integration", "name": "api-events", "type": "pagerduty", "service": "api",
    "secret": "${env:PAGERDUTY_KEY_API_EVENTS}"})


def imported() -> Imported:
    return Imported("pagerduty", objects=[TEAM, SCHEDULE, SERVICE, INTEGRATION],
                    unmapped=[Unmapped("integration", "PI1", "API / Email",
                                       "type 'email' has no equivalent")],
                    secrets={"PAGERDUTY_KEY_API_EVENTS": "the key monitors send"},
                    secret_values={"PAGERDUTY_KEY_API_EVENTS": "s3cr3t-key"})


def test_one_file_per_kind_schedules_by_team_and_a_report(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    mine = tmp_path / "rules" / "notes.txt"
    mine.write_text("# kept\n")
    written = writer.write(imported(), tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "import-report.md", "rules/integrations.yaml", "rules/services.yaml",
        "rules/teams.yaml", "schedules/ops.yaml"]
    assert mine.read_text() == "# kept\n"
    text = (tmp_path / "schedules" / "ops.yaml").read_text()
    assert text.startswith("# Imported from pagerduty by `oncall import pagerduty`.\nkind: "
                           "Schedule\nname: ops-primary\n")
    assert '{days: [mon], from: "09:00", to: "17:00"}' in text  # clock times quoted
    assert "apiVersion" not in text and "overrides" not in text  # defaults left out
    assert yaml.safe_load(text)["layers"][0]["rotation"] == {"start": "2026-01-05T09:00",
                                                             "every": "1w"}
    report = (tmp_path / "import-report.md").read_text()
    assert "- integration 'API / Email' (PI1): type 'email' has no equivalent" in report
    assert "`PAGERDUTY_KEY_API_EVENTS`: the key monitors send" in report
    assert "s3cr3t-key" not in report + "".join(p.read_text() for p in written)
    mine.unlink()
    result = load(tmp_path)
    assert result.ok, [d.as_text() for d in result.errors]
    assert len(result.config) == 4


def test_secrets_env_only_when_asked_and_owner_only(tmp_path: Path) -> None:
    writer.write(imported(), tmp_path)
    assert not (tmp_path / "secrets.env").exists()
    writer.write(imported(), tmp_path, secrets=True)
    file = tmp_path / "secrets.env"
    assert file.read_text() == "PAGERDUTY_KEY_API_EVENTS=s3cr3t-key\n"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_names() -> None:
    taken: set[str] = set()
    assert [slug(n, taken) for n in ("Checkout — Primary (EU)", "checkout primary eu",
                                     "Zürich Ops", "!!!", "")] == [
        "checkout-primary-eu", "checkout-primary-eu-2", "zurich-ops", "unnamed", "unnamed-2"]
    assert len(slug("x" * 200, set())) <= 63
    assert env_name("PAGERDUTY_KEY", "checkout-api", "Datadog (prod)") == \
        "PAGERDUTY_KEY_CHECKOUT_API_DATADOG_PROD"
    used: set[str] = set()
    assert [unique_env_name("K", used, "a"), unique_env_name("K", used, "A")] == ["K_A", "K_A_2"]
