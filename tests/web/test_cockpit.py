"""The incident page's panels, shaped without a database (`oncall.web.cockpit`): an alert's
labels, links, images and details; the services affected; on-call and related rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from oncall.web import cockpit
from oncall.web.cockpit import Affected, OnCall, Related

DEPS = {"web": ["api", "auth"], "api": ["db", "auth"], "auth": ["db"], "db": [],
        "batch": ["db"], "cron": ["ghost"]}


@pytest.mark.parametrize(("service", "up", "down"), [
    ("web", [("api", 1), ("auth", 1), ("db", 2)], []),
    ("db", [], [("api", 1), ("auth", 1), ("batch", 1), ("web", 2)]),
    ("auth", [("db", 1)], [("api", 1), ("web", 1)]),
    ("cron", [("ghost", 1)], []),
])
def test_affected_services_are_transitive_each_once_nearest_first(
        service: str, up: list[tuple[str, int]], down: list[tuple[str, int]]) -> None:
    found_up, found_down = cockpit.affected(service, DEPS)
    assert [(a.name, a.depth) for a in found_up] == up
    assert [(a.name, a.depth) for a in found_down] == down


def test_a_cycle_ends() -> None:
    up, down = cockpit.affected("a", {"a": ["b"], "b": ["a"]})
    assert [a.name for a in up] == ["b"] and [a.name for a in down] == ["b"]


def test_affected_rows_say_how_far() -> None:
    rows = cockpit.affected_rows([Affected("api", 1, True), Affected("db", 2, True),
                                  Affected("k8s", 3, False)])
    assert [(r["name"], r["how"], r["known"]) for r in rows] == [
        ("api", "direct", "yes"), ("db", "via 1 other", "yes"), ("k8s", "via 2 others", "")]


def _alert(annotations: dict[str, Any] | None, labels: dict[str, Any] | None = None
           ) -> dict[str, Any]:
    return cockpit.alert_row(id=1, integration="grafana", status="firing", severity=None,
                             summary="p99", source="javascript:alert(1)", labels=labels,
                             annotations=annotations, received="Tue 10 Mar 12:00")


def test_an_alert_shows_safe_links_images_as_links_and_indented_details() -> None:
    row = _alert({
        "links": [{"href": "https://grafana.example/d/1", "text": "Dashboard"},
                  {"href": "javascript:alert(1)", "text": "Evil"},
                  {"href": "https://grafana.example/render/1.png", "text": "Image"},
                  {"href": "https://x.example"}],
        "details": {"b": 1, "a": {"c": [1]},
                    "images": [{"src": "https://grafana.example/render/1.png", "alt": "graph"},
                               {"src": "data:image/png;base64,AAAA"}]},
        "runbook_url": "https://wiki.example/r", "extra": {"k": "v"},
    }, {"team": "payments", "env": "prod"})
    assert row["labels"] == [{"name": "env", "value": "prod"},
                             {"name": "team", "value": "payments"}]
    assert row["links"] == [{"href": "https://grafana.example/d/1", "text": "Dashboard"},
                            {"href": "https://x.example", "text": "Link"}]
    assert row["images"] == [{"href": "https://grafana.example/render/1.png",
                              "text": "graph"}]
    assert row["annotations"] == [{"name": "extra", "value": '{"k": "v"}'},
                                  {"name": "runbook_url", "value": "https://wiki.example/r"}]
    assert row["details"].startswith('{\n  "a": {\n    "c": [\n      1\n')
    assert (row["source"], row["source_url"]) == ("javascript:alert(1)", "")


@pytest.mark.parametrize("annotations", [None, {}, {"links": "nonsense", "details": None}])
def test_an_alert_without_extras(annotations: dict[str, Any] | None) -> None:
    row = _alert(annotations)
    assert (row["links"], row["images"], row["details"], row["labels"]) == ([], [], "", [])


def test_long_details_are_cut_and_say_so() -> None:
    text = cockpit.details_json({"x": "y" * (cockpit.MAX_DETAILS_CHARS + 10)})
    assert len(text) < cockpit.MAX_DETAILS_CHARS + 100 and text.endswith("longer)")


def test_oncall_and_related_rows() -> None:
    at = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)
    rows = cockpit.oncall_rows([OnCall(1, "primary", "a@x", at, "b@x"),
                                OnCall(2, "secondary", None, None, None)],
                               {"a@x": "Ann"}, "Europe/Berlin")
    assert rows == [
        {"step": "1", "schedule": "primary", "now": "Ann", "until": "Tue 10 Mar 18:00",
         "next": "b@x"},
        {"step": "2", "schedule": "secondary", "now": "nobody (a gap in the schedule)",
         "until": "", "next": "nobody"}]
    [rel] = cockpit.related_rows([Related(7, "Slow", "resolved", None, at)], "UTC")
    assert (rel["href"], rel["priority"], rel["triggered"]) == ("/incidents/7", "",
                                                                "Tue 10 Mar 17:00")
