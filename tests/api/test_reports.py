"""GET /api/v1/reports/{table}: API key required, parameters checked, JSON and CSV."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from oncall.db.engine import write_session
from oncall.db.models import IncidentRow
from oncall.testing.incidents import open_incident

from .conftest import NOW, OBSERVER

BASE = "/api/v1/reports"


def seed(api: Any) -> None:
    """P1 on checkout-api two days ago, acknowledged after 3 minutes; P2 40 days ago; P3 on
    storefront-web yesterday."""
    with write_session(api.engine) as session:
        for service, title, priority, ago in (("checkout-api", "recent", "P1", 2),
                                              ("checkout-api", "old", "P2", 40),
                                              ("storefront-web", "shop", "P3", 1)):
            start = NOW - timedelta(days=ago)
            incident_id = open_incident(session, service=service, title=title, now=start,
                                        priority=priority, page=False)
            row = session.get(IncidentRow, incident_id)
            assert row is not None
            row.acknowledged_at, row.status = start + timedelta(minutes=3), "acknowledged"


def get(api: Any, path: str, key: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    response: httpx.Response = api.client.get(BASE + path, params=params, headers=headers)
    return response


@pytest.mark.parametrize("table", ["summary", "priorities", "people", "oncall"])
@pytest.mark.parametrize("key", [None, "oncall_nope"])
def test_every_table_needs_a_valid_key(api: Any, table: str, key: str | None) -> None:
    seed(api)
    response = get(api, f"/{table}", key, team="payments")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert "rows" not in response.json()


def test_an_anonymous_bad_date_is_still_401(api: Any) -> None:
    assert get(api, "/summary", None, since="never").status_code == 401


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"since": "last tuesday"}, "since"),
        ({"until": "2026-02-30"}, "until"),
        ({"since": "2026-11-20", "until": "2026-11-10"}, "until"),
        ({"format": "xml"}, "format"),
        ({"team": "nobody"}, "team"),
        ({"team": "storefront", "service": "checkout-api"}, "service"),
    ],
)
def test_a_bad_parameter_is_a_400_problem_naming_it(api: Any, params: dict[str, str],
                                                    name: str) -> None:
    response = get(api, "/summary", api.key(OBSERVER), **params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 400 and body["invalid-params"][0]["name"] == name


def test_an_unknown_table_is_404(api: Any) -> None:
    response = get(api, "/everything", api.key(OBSERVER))
    assert response.status_code == 404
    assert "priorities" in response.json()["detail"]


def test_priorities_as_json_for_a_team_over_the_last_30_days(api: Any) -> None:
    seed(api)
    response = get(api, "/priorities", api.key(OBSERVER), team="payments")
    assert response.status_code == 200
    body = response.json()
    assert (body["since"], body["until"]) == ((NOW - timedelta(days=30)).isoformat(),
                                              NOW.isoformat())
    assert body["columns"] == ["priority", "incidents"]
    assert {r["priority"]: r["incidents"] for r in body["rows"]} == {
        "P1": 1, "P2": 0, "P3": 0, "P4": 0, "P5": 0, "none": 0}


def test_summary_for_the_organisation_over_chosen_dates(api: Any) -> None:
    seed(api)
    response = get(api, "/summary", api.key(OBSERVER), since="2026-10-01", until="2026-11-30")
    row = response.json()["rows"][0]
    assert (row["incidents"], row["mtta_median_s"], row["mtta_over"]) == (3, 180.0, 3)
    assert row["since"] == "2026-10-01T00:00:00+00:00"
    assert row["until"] == "2026-12-01T00:00:00+00:00"  # the 30th is included


def test_csv(api: Any) -> None:
    seed(api)
    response = get(api, "/oncall", api.key(OBSERVER), team="payments", format="csv",
                   since="2026-11-02", until="2026-11-08")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="oncall-oncall-20261102-20261109.csv"')
    lines = response.text.splitlines()
    assert lines[0] == "person,hours,shifts,share_percent,schedules"
    hours = sum(float(line.split(",")[1]) for line in lines[1:])
    assert hours >= 7 * 24  # the primary is covered all week: someone holds it every hour

    prio = get(api, "/priorities", api.key(OBSERVER), format="csv")
    assert prio.text.startswith("priority,incidents\r\nP1,1\r\nP2,0\r\nP3,1\r\n")


def test_the_route_is_in_the_openapi_document(api: Any) -> None:
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    assert paths[BASE + "/{name}"]["get"]["operationId"] == "getReportTable"
