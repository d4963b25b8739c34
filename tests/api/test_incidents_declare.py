"""Declare, escalate now and incident roles over the REST API (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

PROBLEM = "application/problem+json"
RESPONDER = "marcus.bell@northwind.example"
OBSERVER = "eve.larsen@northwind.example"
PLATFORM = "jordan.reyes@northwind.example"
BASE = "/api/v1/incidents"


def call(api: Any, key: str, method: str, path: str, body: Any = None) -> Any:
    return api.client.request(method, path, json=body,
                              headers={"Authorization": f"Bearer {key}"})


def declare(api: Any, key: str, **body: Any) -> Any:
    return call(api, key, "POST", BASE, {"service": "checkout-api", "title": "Checkout down",
                                         **body})


def test_declare_answers_201_with_the_incident_as_get_shows_it(api: Any) -> None:
    key = api.key(RESPONDER)
    response = declare(api, key, priority="P2", description="Payments *fail*")
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"{BASE}/{body['id']}"
    assert (body["status"], body["priority"], body["service"], body["title"]) == (
        "triggered", "P2", "checkout-api", "Checkout down")
    assert body["description"] == "Payments *fail*"
    assert body["roles"]["commander"]["user"] == RESPONDER
    assert body["roles"]["scribe"] is None and body["roles"]["communications"] is None
    assert "incident.declared" in [e["type"] for e in body["timeline"]]
    shown = call(api, key, "GET", response.headers["location"]).json()
    assert shown == body
    listed = call(api, key, "GET", BASE).json()["items"]
    assert [i["id"] for i in listed] == [body["id"]]


@pytest.mark.parametrize(("body", "field"), [
    ({"service": "nope"}, "service"),
    ({"title": "  "}, "title"),
    ({"priority": "P9"}, "priority"),
    ({"title": None}, "title"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_field_is_422_naming_it(api: Any, body: dict[str, Any], field: str) -> None:
    response = declare(api, api.key(RESPONDER), **body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [p["name"] for p in response.json()["invalid-params"]] == [field]
    assert call(api, api.key(RESPONDER), "GET", BASE).json()["items"] == []


def test_only_the_services_responders_declare(api: Any) -> None:
    for who in (OBSERVER, PLATFORM):
        response = declare(api, api.key(who))
        assert response.status_code == 403, response.text
        assert "cannot declare" in response.json()["detail"]
    assert declare(api, api.key(PLATFORM), service="kubernetes-prod").status_code == 201
    assert api.client.post(BASE, json={"service": "checkout-api", "title": "x"}
                           ).status_code == 401


def test_escalate_now(api: Any) -> None:
    key = api.key(RESPONDER)
    incident = declare(api, key).json()
    path = f"{BASE}/{incident['id']}/escalate"
    assert call(api, api.key(OBSERVER), "POST", path).status_code == 403
    response = call(api, key, "POST", path)
    assert response.status_code == 200, response.text
    assert response.json()["changed"] is True
    events = call(api, key, "GET", f"{BASE}/{incident['id']}").json()["timeline"]
    assert events[-1]["type"] == "incident.escalate_requested"
    assert call(api, key, "POST", f"{BASE}/{incident['id']}/resolve").status_code == 200
    refused = call(api, key, "POST", path)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == PROBLEM
    assert "resolved" in refused.json()["detail"]
    assert call(api, key, "POST", f"{BASE}/999999/escalate").status_code == 404


def test_roles_put_and_delete(api: Any) -> None:
    key = api.key(RESPONDER)
    incident_id = declare(api, key).json()["id"]
    roles = f"{BASE}/{incident_id}/roles"
    response = call(api, key, "PUT", f"{roles}/scribe", {"user": PLATFORM})
    assert response.status_code == 200, response.text
    assert response.json()["changed"] is True
    assert response.json()["roles"]["scribe"]["user"] == PLATFORM
    again = call(api, key, "PUT", f"{roles}/scribe", {"user": PLATFORM})
    assert again.json()["changed"] is False
    took = call(api, api.key("sofia.alvarez@northwind.example"), "PUT",
                f"{roles}/communications")
    assert took.json()["roles"]["communications"]["user"] == "sofia.alvarez@northwind.example"
    assert call(api, key, "DELETE", f"{roles}/scribe").json()["changed"] is True
    shown = call(api, key, "GET", f"{BASE}/{incident_id}").json()
    assert shown["roles"]["scribe"] is None
    types = [e["type"] for e in shown["timeline"]]
    assert types.count("incident.role_assigned") == 3 and types[-1] == "incident.role_cleared"
    assert call(api, key, "PUT", f"{roles}/boss").status_code == 404
    unknown = call(api, key, "PUT", f"{roles}/scribe", {"user": "nobody@example.com"})
    assert unknown.status_code == 422
    assert unknown.json()["invalid-params"][0]["name"] == "user"
    assert call(api, api.key(OBSERVER), "DELETE", f"{roles}/commander").status_code == 403
    assert call(api, key, "PUT", f"{BASE}/999999/roles/scribe").status_code == 404
