"""`oncall import grafana-oncall`: recorded Grafana OnCall responses → config that validates
strictly and is on call exactly as Grafana OnCall renders it.

The fixtures under `fixtures/grafana_oncall/api/v1/` are written by hand from Grafana OnCall's
public API reference. Schedule "SRE Primary" (America/New_York, a calendar schedule, so its
shifts' `start` is read in that zone) holds:

- "Weekly primary", level 0: rolling_users weekly from Monday 2026-06-01 09:00 EDT, 604800 s
  long, alice → bob → carol. 2026-11-09 is 23 weeks on: carol (23 mod 3 = 2) from 09:00 EST
  (14:00Z); the week before is bob's; then alice (11-16), bob (11-23), carol (11-30).
- "Business hours", level 1: daily with by_day MO-FR, 8 h from 09:00, dave / erin. The turn
  moves on each chosen weekday only: 115 weekdays lie between 06-01 and 11-09, so Monday
  11-09 is erin's (115 mod 2 = 1), Tuesday dave's, and so on.
- "Night shift", level 2: daily 20:00 for 12 h, bob alone, until 2026-11-12T00:00: the last
  event starts 11-11 20:00 and still runs to 11-12 08:00 EST (13:00Z).
- "Thanksgiving cover", level 2: a single event, alice, all of 2026-11-26 (05:00Z-05:00Z).
- An override: carol, 2026-11-18 12:00-14:00 EST.

The higher level wins where events overlap, overrides win over all; EST is UTC-5 all window
long, so the rotations that started in summer (EDT) exercise the zone's DST rules.
`final_shifts.json` lists the result from 2026-11-09T00:00Z for 28 days, as Grafana OnCall cuts
shifts at the requested start and end.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from oncall.cli.main import main
from oncall.config.loader import load
from oncall.importers import grafana_oncall, parity, writer
from oncall.importers.base import DirectorySource, Imported, ImportFailed
from oncall.testing.peers.grafana_oncall_api import GrafanaOncallApiPeer
from oncall.testing.peers.tls import certificates

FIXTURES = Path(__file__).parent / "fixtures" / "grafana_oncall"
WINDOW_START = datetime(2026, 11, 9, tzinfo=UTC)
TOKEN = "glsa_oncall_9f8e7d6c5b4a"


def _saved() -> Imported:
    return grafana_oncall.read(DirectorySource(FIXTURES), since=None, days=28)


def _docs(out: Path) -> dict[tuple[str, str], dict[str, object]]:
    docs: dict[tuple[str, str], dict[str, object]] = {}
    for file in sorted(out.rglob("*.yaml")):
        for doc in yaml.safe_load_all(file.read_text()):
            docs[(doc["kind"], doc["name"])] = doc
    return docs


def test_saved_responses_validate_strictly_and_agree_with_grafana_for_28_days(
        tmp_path: Path) -> None:
    imported = _saved()
    writer.write(imported, tmp_path)

    result = load(tmp_path, now=WINDOW_START)
    assert [d.as_text() for d in result.diagnostics] == []
    assert imported.window == (WINDOW_START, datetime(2026, 12, 7, tzinfo=UTC))
    assert parity.check(imported, tmp_path) == []


def test_what_maps_to_what(tmp_path: Path) -> None:
    imported = _saved()
    writer.write(imported, tmp_path)
    docs = _docs(tmp_path)

    schedule = docs[("Schedule", "sre-primary")]
    assert schedule["timezone"] == "America/New_York"
    layers = {layer["name"]: layer for layer in schedule["layers"]}  # type: ignore[attr-defined]
    assert list(layers) == ["weekly-primary", "business-hours", "thanksgiving-cover",
                            "night-shift"]  # by level: a later layer wins
    assert layers["weekly-primary"]["rotation"] == {"start": "2026-06-01T09:00", "every": "1w"}
    assert layers["business-hours"]["rotation"]["rrule"] == \
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=9;BYMINUTE=0"
    assert layers["business-hours"]["restrictions"] == [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]
    assert layers["night-shift"]["until"] == "2026-11-12T08:00"
    assert layers["thanksgiving-cover"]["until"] == "2026-11-27T00:00"
    assert schedule["overrides"] == [
        {"who": "carol@example.com", "from": "2026-11-18T12:00", "to": "2026-11-18T14:00"}]

    assert docs[("EscalationPolicy", "checkout")] == {
        "kind": "EscalationPolicy", "name": "checkout", "repeat": 5, "steps": [
            {"targets": ["schedule:sre-primary"], "timeout": "10m"},
            {"targets": ["user:alice@example.com", "user:bob@example.com"], "timeout": "15m"},
            {"targets": ["team:sre"], "timeout": "5m"}]}
    assert docs[("Service", "checkout")]["escalation_policy"] == "checkout"
    integrations = {name: doc for (kind, name), doc in docs.items() if kind == "Integration"}
    assert {n: (d["type"], d["service"], d["secret"]) for n, d in integrations.items()} == {
        "checkout-alertmanager": ("alertmanager", "checkout",
                                  "${env:GRAFANA_ONCALL_KEY_CHECKOUT_ALERTMANAGER}"),
        "checkout-grafana-alerts": ("grafana", "checkout",
                                    "${env:GRAFANA_ONCALL_KEY_CHECKOUT_GRAFANA_ALERTS}"),
    }
    assert set(imported.secrets) == {"GRAFANA_ONCALL_KEY_CHECKOUT_ALERTMANAGER",
                                     "GRAFANA_ONCALL_KEY_CHECKOUT_GRAFANA_ALERTS"}

    reasons = {(u.kind, u.source_id): u.reason for u in imported.unmapped}
    assert set(reasons) == {("shift", "OWEEKLY01A"), ("escalation_policy", "E5WEBHOOK0"),
                            ("route", "RAMGRCRIT1"), ("integration", "CZENDESK2M")}
    assert "DST" in reasons[("shift", "OWEEKLY01A")]
    assert "RoutingRule" in reasons[("route", "RAMGRCRIT1")]
    report = (tmp_path / writer.REPORT).read_text()
    assert "Zendesk" in report and "zendesk" in report


def test_a_changed_restriction_fails_parity_at_the_instant(tmp_path: Path) -> None:
    imported = _saved()
    writer.write(imported, tmp_path)
    file = tmp_path / "schedules" / "sre.yaml"
    docs = list(yaml.safe_load_all(file.read_text()))
    for layer in docs[0]["layers"]:
        if layer["name"] == "business-hours":
            layer["restrictions"][0]["to"] = "16:00"
    file.write_text(yaml.safe_dump_all(docs, sort_keys=False))

    found = parity.check(imported, tmp_path)
    first = found[0]
    assert (first.at, first.expected, first.actual) == (
        datetime(2026, 11, 9, 21, tzinfo=UTC), "erin@example.com", "carol@example.com")
    assert "2026-11-09T21:00Z" in str(first)
    assert len(found) == 19  # every business day but Thanksgiving, covered all day


def test_cli_from_saved_responses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["import", "grafana-oncall", "--from", str(FIXTURES), "--out",
                 str(tmp_path), "--check-parity", "28"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "parity: 1 schedule agrees" in out
    assert "not mapped: integration 'Zendesk'" in out


def test_live_api_over_tls_gives_the_same_files(tmp_path: Path) -> None:
    saved = tmp_path / "saved"
    writer.write(_saved(), saved)
    environ = {"SSL_CERT_FILE": str(certificates().ca_file),
               "GRAFANA_URL": "https://acme.grafana.net"}
    with GrafanaOncallApiPeer(FIXTURES, TOKEN) as peer:
        source = grafana_oncall.live_source(peer.api_url, TOKEN, environ)
        imported = grafana_oncall.read(source, since=WINDOW_START, days=28)
        requests = peer.requests
    live = tmp_path / "live"
    writer.write(imported, live)

    assert _tree(live) == _tree(saved)
    assert parity.check(imported, live) == []
    assert {r.header("Authorization") for r in requests} == {TOKEN}
    assert {r.header("X-Grafana-URL") for r in requests} == {"https://acme.grafana.net"}
    pages = [r.query.get("page") for r in requests if r.path == "/oncall/api/v1/users/"]
    assert pages == [None, ["2"], ["3"]]  # five users, two a page, by `next` links
    final = next(r for r in requests if r.path.endswith("/final_shifts"))
    assert final.query == {"start_date": ["2026-11-09T00:00"], "end_date": ["2026-12-07T00:00"]}


def test_live_api_refuses_plain_http_and_an_unknown_ca(tmp_path: Path) -> None:
    with pytest.raises(ImportFailed, match="https"):
        grafana_oncall.live_source("http://127.0.0.1:9", TOKEN, {})
    with GrafanaOncallApiPeer(FIXTURES, TOKEN) as peer:
        source = grafana_oncall.live_source(peer.api_url, TOKEN, {})
        with pytest.raises(ImportFailed, match="CERTIFICATE_VERIFY_FAILED"):
            grafana_oncall.read(source, since=WINDOW_START, days=28)
        wrong = grafana_oncall.live_source(
            peer.api_url, "wrong", {"SSL_CERT_FILE": str(certificates().ca_file)})
        with pytest.raises(ImportFailed, match="HTTP 401"):
            grafana_oncall.read(wrong, since=None, days=None)


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


class _Memory:
    """A source answering from a dict of path -> response."""

    def __init__(self, responses: dict[str, object]) -> None:
        self.responses = responses

    def get(self, path: str, params: object = None) -> object:
        return self.responses.get(path, {"results": [], "next": None})


def test_the_dst_hour_grafana_leaves_uncovered_is_reported_and_shows_in_parity(
        tmp_path: Path) -> None:
    """The weekly event from Monday 2026-10-26 09:00 EDT lasts 604800 s, so Grafana OnCall ends
    it at 08:00 EST on 11-02 and the next starts at 09:00 EST: 13:00Z-14:00Z has no one.
    Weeks since 2026-06-01: 21 (alice, 21 mod 3 = 0), then 22 (bob)."""
    shift = {"id": "OWEEKLY01A", "name": "Weekly", "type": "rolling_users",
             "schedule": "SNY", "level": 0, "start": "2026-06-01T09:00:00",
             "duration": 604800, "frequency": "weekly", "interval": 1, "week_start": "MO",
             "rolling_users": [["UA"], ["UB"], ["UC"]], "start_rotation_from_user_index": 0}
    final = [("2026-10-26T13:00:00Z", "2026-11-02T13:00:00Z", "alice@example.com"),
             ("2026-11-02T14:00:00Z", "2026-11-09T13:00:00Z", "bob@example.com")]
    source = _Memory({
        "api/v1/users/": {"results": [
            {"id": f"U{c}", "email": f"{n}@example.com", "role": "editor", "teams": []}
            for c, n in (("A", "alice"), ("B", "bob"), ("C", "carol"))]},
        "api/v1/schedules/": {"results": [{"id": "SNY", "name": "NY", "type": "calendar",
                                           "time_zone": "America/New_York", "team_id": None}]},
        "api/v1/on_call_shifts/": {"results": [shift]},
        "api/v1/schedules/SNY/final_shifts": {"results": [
            {"user_email": who, "shift_start": a, "shift_end": b} for a, b, who in final]},
    })
    imported = grafana_oncall.read(source, since=None, days=14)
    writer.write(imported, tmp_path)

    assert [u.source_id for u in imported.unmapped if "DST" in u.reason] == ["OWEEKLY01A"]
    assert [(d.at, d.until, d.expected, d.actual) for d in parity.check(imported, tmp_path)] \
        == [(datetime(2026, 11, 2, 13, tzinfo=UTC), datetime(2026, 11, 2, 14, tzinfo=UTC),
             None, "alice@example.com")]


def test_cli_live_reads_the_token_and_ca_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates().ca_file))
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.setenv("GRAFANA_ONCALL_API_TOKEN", TOKEN)
    assert main(["import", "grafana-oncall", "--out", str(tmp_path)]) == 2
    assert "--api-url" in capsys.readouterr().err
    with GrafanaOncallApiPeer(FIXTURES, TOKEN) as peer:
        code = main(["import", "grafana-oncall", "--api-url", peer.api_url, "--out",
                     str(tmp_path)])
    assert code == 0, capsys.readouterr()
    assert ("Schedule", "sre-primary") in _docs(tmp_path)


@pytest.mark.parametrize(("schedule_type", "start", "members"), [
    # Day d after 01-01 is turn d mod 3 (amy, bo, cyc). Events starting before rotation_start
    # (01-15 12:00) are skipped: the first kept one starts 01-16 09:00, day 15: amy's.
    ("calendar", "2026-01-16T09:00", ["amy@example.com", "bo@example.com", "cyc@example.com"]),
    # A web schedule's shift also keeps the event in progress then (01-15 09:00, day 14:
    # cyc's), and its times are UTC, as Grafana OnCall keeps them.
    ("web", "2026-01-15T09:00", ["cyc@example.com", "amy@example.com", "bo@example.com"]),
])
def test_a_rotation_start_after_start_keeps_everyone_s_turn(
        schedule_type: str, start: str, members: list[str]) -> None:
    shift = {"id": "O1", "name": "Daily", "type": "rolling_users", "schedule": "S1",
             "start": "2026-01-01T09:00:00", "rotation_start": "2026-01-15T12:00:00",
             "duration": 86400, "frequency": "daily", "interval": 1,
             "rolling_users": [["UA"], ["UB"], ["UC"]]}
    source = _Memory({
        "api/v1/users/": {"results": [
            {"id": f"U{c}", "email": f"{n}@example.com", "role": "editor", "teams": []}
            for c, n in (("A", "amy"), ("B", "bo"), ("C", "cyc"))]},
        "api/v1/schedules/": {"results": [{"id": "S1", "name": "S", "type": schedule_type,
                                           "time_zone": "Europe/Paris"}]},
        "api/v1/on_call_shifts/": {"results": [shift]},
    })
    schedule = next(o for o in grafana_oncall.read(source, since=None, days=None).objects
                    if o.KIND == "Schedule")
    layer = schedule.layers[0]  # type: ignore[attr-defined]
    assert (layer.rotation.start.isoformat(timespec="minutes"), layer.members) == (start, members)
    assert schedule.timezone.key == ("UTC" if schedule_type == "web"  # type: ignore[attr-defined]
                                     else "Europe/Paris")
