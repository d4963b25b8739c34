"""`oncall import opsgenie`: recorded Opsgenie responses → config that validates strictly and
is on call exactly as Opsgenie's own timeline says.

The fixtures under `fixtures/opsgenie/` are written by hand from Opsgenie's REST API reference.
The rendered timelines in them come from Opsgenie's documented rules, worked out by hand:

- "Platform_Oncall" (Europe/Berlin; CEST until 2026-10-25 03:00, CET after) has two rotations
  that never overlap, so Opsgenie's cumulative rotations equal our layers:
  "Business hours", daily from Monday 2026-01-05 09:00, alice → bob → carol, limited to
  Mon-Fri 09:00-17:00: 2026-10-12 is day 280, 280 mod 3 = 1, so bob; the turn moves every
  day, weekends included. "Off hours", weekly from Monday 2026-01-05 17:00, dave / erin,
  limited to weeknights 17:00-09:00 and Friday 17:00 to Monday 09:00: week 40 starts
  2026-10-12 17:00 and is dave's (40 mod 2 = 0). Handoffs keep their wall-clock time, so in
  UTC they move an hour later after 10-25.
- "DB_Oncall" (UTC): "Legacy" weekly from 2026-06-01 12:00, bob / carol, ended 2026-10-19
  12:00 (week 19: carol); "New rota" weekly from 2026-10-19 12:00 (in the window's future),
  carol / dave; an override for erin 10-28 00:00 to 10-30 00:00, and one that ended in
  September (history: not imported).

The escalation pages the platform schedule, after 10 minutes alice and the DB schedule, after
30 the whole team (and "next on-call" of the DB schedule, which has no equivalent), and repeats
twice, 15 minutes apart. The team's service has two API integrations and an email one.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from oncall.cli.main import main
from oncall.config.loader import load
from oncall.importers import opsgenie, parity, writer
from oncall.importers.base import DirectorySource, Imported, ImportFailed
from oncall.testing.peers.opsgenie_api import OpsgenieApiPeer
from oncall.testing.peers.tls import certificates

FIXTURES = Path(__file__).parent / "fixtures" / "opsgenie"
WINDOW_START = datetime(2026, 10, 12, tzinfo=UTC)
KEY = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"


def _saved() -> Imported:
    return opsgenie.read(DirectorySource(FIXTURES), since=None, days=28)


def _docs(out: Path) -> dict[tuple[str, str], dict[str, Any]]:
    docs: dict[tuple[str, str], dict[str, Any]] = {}
    for file in sorted(out.rglob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text()):
            docs[(doc["kind"], doc["name"])] = doc
    return docs


def test_saved_responses_validate_strictly_and_agree_with_opsgenie_for_28_days(
        tmp_path: Path) -> None:
    imported = _saved()
    writer.write(imported, tmp_path)

    result = load(tmp_path, now=WINDOW_START)
    assert [d.as_text() for d in result.diagnostics] == []
    assert imported.window == (WINDOW_START, datetime(2026, 11, 9, tzinfo=UTC))
    assert parity.check(imported, tmp_path) == []


def test_what_maps_to_what(tmp_path: Path) -> None:
    imported = _saved()
    writer.write(imported, tmp_path)
    docs = _docs(tmp_path)

    assert docs[("Team", "platform-ops")]["members"][0] == {"email": "alice@example.com",
                                                             "role": "admin"}
    platform = docs[("Schedule", "platform-oncall")]
    assert platform["timezone"] == "Europe/Berlin"
    business, off = platform["layers"]
    assert business["rotation"] == {"start": "2026-01-05T09:00", "every": "1d"}
    assert business["restrictions"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]
    assert off["rotation"] == {"start": "2026-01-05T17:00", "every": "1w"}
    db = docs[("Schedule", "db-oncall")]
    assert [(layer["name"], layer.get("until")) for layer in db["layers"]] == [
        ("legacy", "2026-10-19T12:00"), ("new-rota", None)]
    assert db["overrides"] == [
        {"who": "erin@example.com", "from": "2026-10-28T00:00", "to": "2026-10-30T00:00"}]

    assert docs[("EscalationPolicy", "platform-escalation")]["steps"] == [
        {"targets": ["schedule:platform-oncall"], "timeout": "10m"},
        {"targets": ["user:alice@example.com", "schedule:db-oncall"], "timeout": "20m"},
        {"targets": ["team:platform-ops"], "timeout": "15m"}]
    assert docs[("EscalationPolicy", "platform-escalation")]["repeat"] == 2
    assert docs[("Service", "checkout-api")]["escalation_policy"] == "platform-escalation"
    integrations = {name: doc for (kind, name), doc in docs.items() if kind == "Integration"}
    assert {n: (d["type"], d["service"], d["secret"]) for n, d in integrations.items()} == {
        "checkout-datadog": ("opsgenie", "checkout-api", "${env:OPSGENIE_KEY_CHECKOUT_DATADOG}"),
        "checkout-prometheus": ("opsgenie", "checkout-api",
                                "${env:OPSGENIE_KEY_CHECKOUT_PROMETHEUS}"),
    }
    assert "6f2b9c8e" not in "".join(_tree(tmp_path).values())
    assert imported.secret_values["OPSGENIE_KEY_CHECKOUT_DATADOG"] == \
        "6f2b9c8e-1d3a-4e5f-9a7b-0c1d2e3f4a5b"

    reasons = {(u.kind, u.source_id): u.reason for u in imported.unmapped}
    assert set(reasons) == {("user", "u-frank"), ("escalation", "e-platform"),
                            ("integration", "i-email")}
    assert "'next'" in reasons[("escalation", "e-platform")]


def test_a_changed_restriction_fails_parity_at_the_instant(tmp_path: Path) -> None:
    imported = _saved()
    writer.write(imported, tmp_path)
    file = tmp_path / "schedules" / "platform-ops.yaml"
    docs = list(yaml.safe_load_all(file.read_text()))
    business = next(d for d in docs if d["name"] == "platform-oncall")["layers"][0]
    business["restrictions"][0]["to"] = "16:00"
    file.write_text(yaml.safe_dump_all(docs, sort_keys=False))

    found = parity.check(imported, tmp_path)
    first = found[0]
    assert (first.at, first.expected, first.actual) == (
        datetime(2026, 10, 12, 14, tzinfo=UTC), "bob@example.com", None)
    assert "2026-10-12T14:00Z" in str(first)
    assert len(found) == 20  # one hour of each business day


def test_cli_from_saved_responses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import", "opsgenie", "--from", str(FIXTURES), "--out", str(tmp_path),
                 "--check-parity", "28", "--write-secrets"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "parity: 2 schedules agree" in out
    assert "not mapped: integration 'Support Email'" in out
    secrets = (tmp_path / writer.SECRETS).read_text()
    assert "OPSGENIE_KEY_CHECKOUT_PROMETHEUS=a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d" in secrets


def test_live_api_over_tls_gives_the_same_files(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    writer.write(_saved(), saved)
    environ = {"SSL_CERT_FILE": str(certificates().ca_file)}
    with OpsgenieApiPeer(FIXTURES, KEY) as peer:
        source = opsgenie.live_source(peer.url, KEY, environ)
        imported = opsgenie.read(source, since=WINDOW_START, days=28)
        requests = peer.requests
    live = tmp_path / "live"
    writer.write(imported, live)

    assert _tree(live) == _tree(saved)
    assert parity.check(imported, live) == []
    assert {r.header("Authorization") for r in requests} == {f"GenieKey {KEY}"}
    offsets = [r.query["offset"] for r in requests if r.path == "/v2/users"]
    assert offsets == [["0"], ["2"], ["4"]]  # six users, two a page, by paging.next
    timeline = next(r for r in requests if r.path.endswith("/timeline"))
    assert timeline.query == {"interval": ["28"], "intervalUnit": ["days"],
                              "date": ["2026-10-12T00:00:00Z"]}


def test_live_api_refuses_plain_http_and_an_unknown_ca() -> None:
    with pytest.raises(ImportFailed, match="https"):
        opsgenie.live_source("http://127.0.0.1:9", KEY, {})
    with OpsgenieApiPeer(FIXTURES, KEY) as peer:
        source = opsgenie.live_source(peer.url, KEY, {})
        with pytest.raises(ImportFailed, match="CERTIFICATE_VERIFY_FAILED"):
            opsgenie.read(source, since=WINDOW_START, days=28)
        wrong = opsgenie.live_source(peer.url, "wrong",
                                     {"SSL_CERT_FILE": str(certificates().ca_file)})
        with pytest.raises(ImportFailed, match="HTTP 401"):
            opsgenie.read(wrong, since=None, days=None)


class _Memory:
    """A source answering from a dict of path -> response."""

    def __init__(self, responses: dict[str, Any]) -> None:
        self.responses = responses

    def get(self, path: str, params: Any = None) -> Any:
        return self.responses.get(path, {"data": []})


def test_rotations_on_call_at_the_same_time_become_schedules_an_escalation_pages_together(
        ) -> None:
    user = {"type": "user", "id": "u1", "username": "ann@example.com"}
    other = {"type": "user", "id": "u2", "username": "ben@example.com"}
    rotation = {"startDate": "2026-01-05T09:00:00Z", "type": "weekly", "length": 1}
    nights = {"type": "time-of-day",
              "restriction": {"startHour": 22, "startMin": 0, "endHour": 6, "endMin": 0}}
    source = _Memory({
        "v2/users": {"data": [{"id": "u1", "username": "ann@example.com"},
                              {"id": "u2", "username": "ben@example.com"}]},
        "v2/teams": {"data": [{"id": "t1", "name": "Web"}]},
        "v2/teams/t1": {"data": {"id": "t1", "name": "Web", "members": [
            {"user": user, "role": "admin"}, {"user": other, "role": "user"}]}},
        "v2/schedules": {"data": [{"id": "s1", "name": "Web", "timezone": "UTC",
                                   "ownerTeam": {"id": "t1"}, "rotations": [
            {**rotation, "id": "r1", "name": "Primary", "participants": [user]},
            {**rotation, "id": "r2", "name": "Shadow", "participants": [other],
             "endDate": "2029-12-31T00:00:00Z", "timeRestriction": nights},
            {**rotation, "id": "r3", "name": "Later", "participants": [other],
             "startDate": "2030-01-07T09:00:00Z", "timeRestriction": nights}]}]},
        "v2/escalations": {"data": [{"id": "e1", "name": "Web", "rules": [{
            "condition": "if-not-acked", "notifyType": "default",
            "delay": {"timeAmount": 0, "timeUnit": "minutes"},
            "recipient": {"type": "schedule", "id": "s1"}}]}]},
    })
    imported = opsgenie.read(source, since=None, days=None)
    schedules = {o.name: o for o in imported.objects if o.KIND == "Schedule"}
    assert {n: [layer.name for layer in s.layers]  # type: ignore[attr-defined]
            for n, s in schedules.items()} == {"web": ["primary"],
                                               "web-shadow": ["shadow", "later"]}
    shadow = schedules["web-shadow"].layers[0]  # type: ignore[attr-defined]
    assert [(r.from_, r.to) for r in shadow.restrictions] == [(22 * 60, 6 * 60)]
    policy = next(o for o in imported.objects if o.KIND == "EscalationPolicy")
    assert [str(t) for t in policy.steps[0].targets] == [  # type: ignore[attr-defined]
        "schedule:web", "schedule:web-shadow"]
    assert any("same time" in u.reason for u in imported.unmapped)


@pytest.mark.parametrize(("windows", "expected"), [
    ([(9 * 60, 17 * 60)], [{"days": ["mon"], "from": "09:00", "to": "17:00"}]),
    ([(17 * 60, 33 * 60)], [{"days": ["mon"], "from": "17:00", "to": "09:00"}]),
    ([(4 * 1440 + 17 * 60, 7 * 1440 + 9 * 60)], [  # Friday 17:00 to Monday 09:00
        {"days": ["mon"], "from": "00:00", "to": "09:00"},
        {"days": ["fri"], "from": "17:00", "to": "24:00"},
        {"days": ["sat", "sun"], "from": "00:00", "to": "24:00"}]),
    ([(0, 7 * 1440)], []),
])
def test_week_windows_as_restrictions(windows: list[tuple[int, int]],
                                      expected: list[dict[str, Any]]) -> None:
    mask = bytearray(opsgenie.WEEK_MINUTES)
    for start, end in windows:
        for minute in range(start, end):
            mask[minute % opsgenie.WEEK_MINUTES] = 1
    assert opsgenie.week_restrictions(mask) == expected


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_cli_live_reads_the_key_and_ca_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates().ca_file))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("OPSGENIE_API_KEY", KEY)
    with OpsgenieApiPeer(FIXTURES, KEY) as peer:
        code = main(["import", "opsgenie", "--api-url", peer.url, "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr()
    assert ("Schedule", "platform-oncall") in _docs(tmp_path)


def test_a_timeline_shorter_than_the_window_is_refused_at_once() -> None:
    with pytest.raises(ImportFailed, match=r"the timeline of schedule '.+' covers 28 days from "
                                           r"2026-10-12T00:00Z: ask for at most that many"):
        opsgenie.read(DirectorySource(FIXTURES), since=None, days=29)


def test_an_unknown_time_zone_is_reported_not_a_traceback(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    shutil.copytree(FIXTURES, saved)
    listing = saved / "v2" / "schedules.json"
    listing.write_text(listing.read_text("utf-8").replace('"Europe/Berlin"', '"Mars/Olympus"'))
    imported = opsgenie.read(DirectorySource(saved), since=None, days=None)
    [report] = [u for u in imported.unmapped if u.kind == "schedule"]
    assert "Mars/Olympus" in report.reason
