"""`oncall import pagerduty`: PagerDuty's REST API (recorded responses, or a TLS peer speaking
it through PagerDuty's own client) → config files that validate strictly and put the same
people on call as PagerDuty's own final schedule.

The recorded account (tests/importers/fixtures/make_pagerduty.py) has weekly and daily layers, a
weekday-restricted layer, layers that start in the future and that ended, overrides, schedules
in New York and Berlin across their autumn DST changes, an escalation policy with loops, a
service with two Events API v2 keys, and things that cannot be mapped.
"""

from __future__ import annotations

import json
import shutil
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oncall.cli.main import main
from oncall.config.loader import load
from oncall.config.models import Team
from oncall.importers import VENDORS, pagerduty, parity, writer
from oncall.importers.base import DirectorySource, ImportFailed
from oncall.testing.peers.pagerduty_api import PagerDutyApiPeer, load_account, save_account
from oncall.testing.peers.tls import certificates

PAGERDUTY = Path(__file__).parent / "fixtures" / "pagerduty"
PAGERDUTY_SINCE = "2026-10-19T00:00:00Z"
"""The `since` the recorded schedule responses were asked with."""
EXPECTED = PAGERDUTY.parent / "pagerduty-expected"
KEYS = ("8f1c2b3a4d5e4f708192a3b4c5d6e7f8", "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
        "5e6f708192a34b5c6d7e8f90a1b2c3d4")


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_saved_responses_become_the_expected_files(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "import", "pagerduty", "--from", str(PAGERDUTY),
                         "--out", str(tmp_path), "--check-parity", "28")
    assert code == 0, out + err
    assert "parity: 3 schedules agree shift by shift from 2026-10-19T00:00Z to " \
           "2026-11-16T00:00Z" in out
    assert tree(tmp_path) == tree(EXPECTED)


def test_output_validates_strictly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "import", "pagerduty", "--from", str(PAGERDUTY),
               "--out", str(tmp_path))[0] == 0
    code, out, err = run(capsys, "validate", "--strict", str(tmp_path))
    assert code == 0, out + err
    assert "0 errors, 0 warnings" in err


def test_what_maps_to_what() -> None:
    imported = VENDORS["pagerduty"].read(DirectorySource(PAGERDUTY), since=None, days=None)
    objects = {(o.KIND, o.name): o for o in imported.objects}
    checkout = objects[("Schedule", "checkout-primary")].model_dump(by_alias=True, mode="json")
    # Layer priority from rendering_index: business hours (2) is drawn over weekly (1).
    assert [layer["name"] for layer in checkout["layers"]] == ["weekly", "business-hours"]
    assert checkout["layers"][1]["restrictions"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]
    assert checkout["layers"][0]["rotation"] == {"start": "2026-10-05T09:00", "every": "1w",
                                                 "rrule": None}
    platform = objects[("Schedule", "platform")].model_dump(by_alias=True, mode="json")
    # The ended layer keeps its end; the new one starts mid-turn: the rest of that turn is a
    # layer of its own, then the rotation from its next handoff with the member order kept.
    assert [(x["name"], x["members"], x["rotation"]["start"], x["until"])
            for x in platform["layers"][:3]] == [
        ("old-rotation", ["eli.berg@acme.example", "fay.schulz@acme.example"],
         "2026-09-07T10:00", "2026-10-28T10:00"),
        ("new-rotation-first-turn", ["fay.schulz@acme.example"], "2026-10-28T10:00",
         "2026-11-02T10:00"),
        ("new-rotation", ["gus.brandt@acme.example", "eli.berg@acme.example",
                          "fay.schulz@acme.example"], "2026-11-02T10:00", None)]
    sun = objects[("Schedule", "follow-the-sun")].model_dump(by_alias=True, mode="json")
    assert sun["layers"][0]["rotation"]["every"] == "12h"
    assert sun["layers"][2]["restrictions"] == [{"days": list(pagerduty.WEEKDAYS),
                                                 "from": "23:00", "to": "01:00"}]
    policy = objects[("EscalationPolicy", "checkout-escalation")]
    assert policy.repeat == 2
    assert [(str(s.timeout), [str(t) for t in s.targets]) for s in policy.steps] == [
        ("15m", ["schedule:checkout-primary"]), ("30m", ["user:ana.lima@acme.example"])]
    service = objects[("Service", "checkout-api")]
    assert (service.team, service.escalation_policy) == ("checkout", "checkout-escalation")
    keys = sorted(o.secret or "" for o in imported.objects if o.KIND == "Integration"
                  and getattr(o, "service", None) == "checkout-api")
    assert keys == ["${env:PAGERDUTY_KEY_CHECKOUT_API_DATADOG}",
                    "${env:PAGERDUTY_KEY_CHECKOUT_API_PROMETHEUS_ALERTMANAGER}"]
    assert imported.secret_values["PAGERDUTY_KEY_CHECKOUT_API_DATADOG"] == KEYS[0]
    reasons = {(u.kind, u.source_id): u.reason for u in imported.unmapped}
    assert "not imported" in reasons[("escalation_target", "PSGONE1")]
    assert "generic_email_inbound_integration" in reasons[("integration", "PICHK03")]
    assert "history only" in reasons[("layer", "PLPLT00")]
    assert "use_support_hours" in reasons[("urgency_rule", "PVPLT02")]
    assert "observer" in reasons[("team_membership", "PSSUN01")]
    assert ("escalation_rule", "PEPLT01") in reasons


def test_a_changed_restriction_fails_parity_at_the_instant(tmp_path: Path) -> None:
    imported = pagerduty.read(DirectorySource(PAGERDUTY), since=None, days=28)
    writer.write(imported, tmp_path)
    assert parity.check(imported, tmp_path) == []
    file = tmp_path / "schedules" / "checkout.yaml"
    file.write_text(file.read_text().replace('to: "17:00"', 'to: "16:00"'))
    found = parity.check(imported, tmp_path)
    first = found[0]
    # Monday 19 October 16:00 EDT: PagerDuty still has Dana (business hours), we have Chen.
    assert (first.schedule, first.at, first.expected, first.actual) == (
        "checkout-primary", datetime(2026, 10, 19, 20, 0, tzinfo=UTC),
        "dana.novak@acme.example", "chen.wei@acme.example")
    assert "at 2026-10-19T20:00Z" in str(first)
    # Every weekday 16:00-17:00 of the four weeks, except 3 and 9 November when the weekly
    # layer under it has the same person (Ben).
    assert len(found) == 18
    assert all(d.until is not None and d.until - d.at == timedelta(hours=1) for d in found)


def test_cli_prints_each_difference_and_exits_1(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "saved"
    shutil.copytree(PAGERDUTY, saved)
    file = saved / "schedules" / "PSSUN01.json"
    body = json.loads(file.read_text())
    entry = body["schedule"]["final_schedule"]["rendered_schedule_entries"][2]
    entry["user"]["id"] = "PU6FAY0"  # PagerDuty says Fay where the layers say Eli
    file.write_text(json.dumps(body))
    code, out, err = run(capsys, "import", "pagerduty", "--from", str(saved),
                         "--out", str(tmp_path / "out"), "--check-parity", "28")
    assert code == 1
    assert ("parity: follow-the-sun: at 2026-10-19T06:00Z until 2026-10-19T18:00Z "
            "fay.schulz@acme.example is on call in the source, eli.berg@acme.example here") in out
    assert "parity: 1 difference in 3 schedules" in err


def test_live_api_through_tls_gives_the_same_files(tmp_path: Path, pd_peer: PagerDutyApiPeer,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "pd-test-token")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates().ca_file))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    code, out, err = run(capsys, "import", "pagerduty", "--api-url", pd_peer.url,
                         "--out", str(tmp_path / "live"), "--since", PAGERDUTY_SINCE,
                         "--check-parity", "28")
    assert code == 0, out + err
    assert run(capsys, "import", "pagerduty", "--from", str(PAGERDUTY),
               "--out", str(tmp_path / "saved"), "--check-parity", "28")[0] == 0
    assert tree(tmp_path / "live") == tree(tmp_path / "saved")
    first = pd_peer.requests[0]
    assert first.header("Authorization") == "Token token=pd-test-token"
    assert first.path == "/users" and first.query["offset"] == ["0"]
    schedule = next(r for r in pd_peer.requests if r.path == "/schedules/PSCHK01")
    assert schedule.query["since"] == ["2026-10-19T00:00:00Z"]
    assert schedule.query["until"] == ["2026-11-16T00:00:00Z"]


def test_live_lists_are_read_page_by_page(pd_account: dict[str, Any]) -> None:
    many = dict(pd_account)
    users = [dict(u, id=f"PX{i:04d}", email=f"user{i}@acme.example")
             for i, u in enumerate(pd_account["users"]["users"] * 40)]
    many["users"] = {"users": pd_account["users"]["users"] + users, "more": False}
    with PagerDutyApiPeer(many, token="t") as peer:
        source = pagerduty.live_source(peer.url, "t", {"SSL_CERT_FILE":
                                                        str(certificates().ca_file)})
        imported = pagerduty.read(source, since=datetime(2026, 10, 19, tzinfo=UTC), days=None)
        pages = [r.query["offset"][0] for r in peer.requests if r.path == "/users"]
    assert pages == ["0", "100", "200", "300"]
    members = sum(len(o.members) for o in imported.objects if isinstance(o, Team))
    assert members >= 328


def test_requests_ca_bundle_is_honoured(pd_peer: PagerDutyApiPeer) -> None:
    source = pagerduty.live_source(pd_peer.url, "pd-test-token",
                                   {"REQUESTS_CA_BUNDLE": str(certificates().ca_file)})
    assert source.get("schedules/PSCHK01")["schedule"]["name"] == "Checkout Primary"


def test_plain_http_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "pd-test-token")
    code, _, err = run(capsys, "import", "pagerduty", "--api-url", "http://127.0.0.1:9",
                       "--out", str(tmp_path))
    assert code == 2
    assert "only spoken over https" in err


def test_an_untrusted_ca_is_refused_at_once(tmp_path: Path, pd_peer: PagerDutyApiPeer,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "pd-test-token")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    started = time.monotonic()
    code, _, err = run(capsys, "import", "pagerduty", "--api-url", pd_peer.url,
                       "--out", str(tmp_path))
    assert code == 2
    assert "TLS certificate is not trusted" in err and "SSL_CERT_FILE" in err
    assert time.monotonic() - started < 5  # no retries with growing waits
    assert not (tmp_path / "rules").exists()


def test_a_wrong_token_is_a_clear_error(tmp_path: Path, pd_peer: PagerDutyApiPeer,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PAGERDUTY_API_TOKEN", "wrong")
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates().ca_file))
    code, _, err = run(capsys, "import", "pagerduty", "--api-url", pd_peer.url,
                       "--out", str(tmp_path))
    assert code == 2
    assert "401 Unauthorized" in err


def test_a_missing_token_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("PAGERDUTY_API_TOKEN", raising=False)
    code, _, err = run(capsys, "import", "pagerduty", "--out", str(tmp_path))
    assert code == 2
    assert "set PAGERDUTY_API_TOKEN" in err


def test_integration_keys_only_in_secrets_env_when_asked(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    assert run(capsys, "import", "pagerduty", "--from", str(PAGERDUTY),
               "--out", str(tmp_path / "plain"))[0] == 0
    for text in tree(tmp_path / "plain").values():
        assert not any(key in text for key in KEYS)
    assert not (tmp_path / "plain" / "secrets.env").exists()
    assert run(capsys, "import", "pagerduty", "--from", str(PAGERDUTY),
               "--out", str(tmp_path / "keys"), "--write-secrets")[0] == 0
    secrets = tmp_path / "keys" / "secrets.env"
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert f"PAGERDUTY_KEY_CHECKOUT_API_DATADOG={KEYS[0]}\n" in secrets.read_text()
    assert not any(key in text for text in tree(tmp_path / "keys" / "rules").values()
                   for key in KEYS)


def test_saved_responses_must_cover_the_parity_window(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="cover 28 days"):
        pagerduty.read(DirectorySource(PAGERDUTY), since=None, days=30)
    partial = load_account(PAGERDUTY)
    partial["users"]["more"] = True
    save_account(partial, tmp_path)
    with pytest.raises(ImportFailed, match="one page of several"):
        pagerduty.read(DirectorySource(tmp_path), since=None, days=None)


def test_saved_responses_must_say_when_they_were_asked_for(tmp_path: Path) -> None:
    account = load_account(PAGERDUTY)
    for body in account.values():
        if isinstance(body, dict):
            body.pop("since", None)
            body.pop("until", None)
            if isinstance(body.get("schedule"), dict):
                body["schedule"].pop("since", None)
                body["schedule"].pop("until", None)
    save_account(account, tmp_path)
    with pytest.raises(ImportFailed, match="do not say when they were asked for"):
        pagerduty.read(DirectorySource(tmp_path), since=None, days=None)
    since = datetime(2026, 10, 19, tzinfo=UTC)
    assert pagerduty.read(DirectorySource(tmp_path), since=since, days=None).objects


def test_loads_as_a_config_repo(tmp_path: Path) -> None:
    writer.write(pagerduty.read(DirectorySource(PAGERDUTY), since=None, days=None), tmp_path)
    result = load(tmp_path, now=datetime(2026, 10, 19, tzinfo=UTC))
    assert result.ok and not result.warnings, [d.as_text() for d in result.diagnostics]


@pytest.mark.parametrize(("restrictions", "expected"), [
    ([], []),
    ([{"type": "daily_restriction", "start_time_of_day": "09:00:00",
       "duration_seconds": 8 * 3600}], [{"from": "09:00", "to": "17:00"}]),
    ([{"type": "daily_restriction", "start_time_of_day": "22:00:00",
       "duration_seconds": 8 * 3600}], [{"from": "22:00", "to": "06:00"}]),
    ([{"type": "weekly_restriction", "start_day_of_week": 5, "start_time_of_day": "18:00:00",
       "duration_seconds": 63 * 3600}],
     [{"days": ["mon"], "from": "00:00", "to": "09:00"},
      {"days": ["fri"], "from": "18:00", "to": "24:00"},
      {"days": ["sat", "sun"], "from": "00:00", "to": "24:00"}]),
    ([{"type": "weekly_restriction", "start_day_of_week": 7, "start_time_of_day": "20:00:00",
       "duration_seconds": 12 * 3600}], [{"days": ["sun"], "from": "20:00", "to": "08:00"}]),
    ([{"type": "weekly_restriction", "start_day_of_week": 1, "start_time_of_day": "00:00:00",
       "duration_seconds": 7 * 86400}], []),
])
def test_restrictions_become_week_windows(restrictions: list[dict[str, Any]],
                                          expected: list[dict[str, Any]]) -> None:
    mask, notes = pagerduty.week_mask(restrictions)
    assert pagerduty.restrictions_of(mask) == expected and notes == []
