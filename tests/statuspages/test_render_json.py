"""Statuspage v2 documents: pinned by golden files, and shaped as Statuspage's clients read them.

Run with `UPDATE_GOLDEN=1` to rewrite the goldens after a deliberate change, then review the diff.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from oncall.statuspages import render_json
from oncall.testing import golden

from .pageviews import BASE_URL, sample_view

GOLDEN = Path(__file__).parent / "golden"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$")

COMPONENT_FIELDS = ["id", "name", "status", "created_at", "updated_at", "position",
                    "description", "showcase", "start_date", "group_id", "page_id", "group",
                    "only_show_if_degraded"]
INCIDENT_FIELDS = {"id", "name", "status", "created_at", "updated_at", "monitoring_at",
                   "resolved_at", "impact", "shortlink", "started_at", "page_id",
                   "incident_updates", "components"}
UPDATE_FIELDS = {"id", "status", "body", "incident_id", "created_at", "updated_at",
                 "display_at", "affected_components"}


def _file(path: str) -> str:
    return path.replace("/", "_") + ".json"


@pytest.mark.parametrize("path", sorted(render_json.DOCUMENTS))
def test_each_document_matches_its_golden(path: str) -> None:
    document = render_json.DOCUMENTS[path](sample_view(), BASE_URL)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    golden.check(GOLDEN / _file(path), text)


def _times(value: Any, key: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _times(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in _times(v, key)]
    if key.endswith("_at") or key in {"scheduled_for", "scheduled_until"}:
        return [(key, value)] if value is not None else []
    return []


def test_summary_has_statuspages_shape() -> None:
    summary = render_json.summary(sample_view(), BASE_URL)
    assert list(summary) == ["page", "components", "incidents", "scheduled_maintenances",
                             "status"]
    assert set(summary["page"]) == {"id", "name", "url", "time_zone", "updated_at"}
    assert summary["page"]["url"] == f"{BASE_URL}/status/northwind-status"
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    for component in summary["components"]:
        assert list(component) == COMPONENT_FIELDS
        assert isinstance(component["id"], str)
    assert [c["position"] for c in summary["components"]] == [1, 2, 3, 4]
    incident, = summary["incidents"]
    assert set(incident) == INCIDENT_FIELDS
    assert incident["id"] == "7" and incident["status"] == "identified"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    assert all(set(u) == UPDATE_FIELDS and u["incident_id"] == "7"
               for u in incident["incident_updates"])
    assert [c["name"] for c in incident["components"]] == ["Checkout & payments"]
    assert [m["status"] for m in summary["scheduled_maintenances"]] == ["in_progress",
                                                                        "scheduled"]
    for key, value in _times(summary):
        assert ISO.match(value), (key, value)


def test_ids_are_stable_strings_and_distinct() -> None:
    first = render_json.components(sample_view(), BASE_URL)["components"]
    again = render_json.components(sample_view(), BASE_URL)["components"]
    ids = [c["id"] for c in first]
    assert ids == [c["id"] for c in again]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(("path", "key", "expected"), [
    ("incidents", "incidents", ["7", "5"]),
    ("incidents/unresolved", "incidents", ["7"]),
    ("scheduled-maintenances", "scheduled_maintenances", ["search-reindex",
                                                          "payments-db-upgrade"]),
    ("scheduled-maintenances/upcoming", "scheduled_maintenances", ["payments-db-upgrade"]),
    ("scheduled-maintenances/active", "scheduled_maintenances", ["search-reindex"]),
])
def test_lists_hold_what_their_names_say(path: str, key: str, expected: list[str]) -> None:
    document = render_json.DOCUMENTS[path](sample_view(), BASE_URL)
    assert list(document) == ["page", key]
    field = "id" if key == "incidents" else "name"
    assert [item[field] for item in document[key]] == expected


def test_a_resolved_incident_reports_when_it_was_monitored_and_resolved() -> None:
    past = render_json.incidents(sample_view(), BASE_URL)["incidents"][1]
    assert past["monitoring_at"] == "2026-11-22T11:00:00.000+00:00"
    assert past["resolved_at"] == "2026-11-22T12:00:00.000+00:00"
