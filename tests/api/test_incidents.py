"""The incidents REST API: API keys, filters, pagination, transitions, problem answers."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import anyio
import pytest
from starlette.requests import Request

from oncall.api import incidents
from oncall.cli.main import main
from oncall.db.engine import write_session
from oncall.testing.incidents import open_incident

PROBLEM = "application/problem+json"
RESPONDER = "marcus.bell@northwind.example"
OBSERVER = "eve.larsen@northwind.example"


def open_incidents(api: Any, count: int, **labels: str) -> list[int]:
    ids = []
    for n in range(count):
        body = {"summary": f"Checkout journey {n} failing", "dedup_key": f"j{n}-{labels}",
                "labels": labels}
        response = api.post("synthetic-checks", body)
        assert response.status_code == 202, response.text
        ids.extend(response.json()["incidents"])
    return ids


@pytest.fixture
def key(api: Any) -> str:
    return str(api.key(RESPONDER))


def get(api: Any, key: str, path: str, **params: Any) -> Any:
    return api.client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})


def post(api: Any, key: str, path: str, body: Any = None) -> Any:
    return api.client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})


def test_requests_without_a_valid_key_are_401(api: Any, key: str) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"},
                    {"Authorization": f"Bearer {key[:-1]}x"}, {"Authorization": key}):
        response = api.client.get("/api/v1/incidents", headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM


def test_list_filters(api: Any, key: str) -> None:
    checkout = open_incidents(api, 3)  # synthetic-checks falls back to checkout-api
    staging = open_incidents(api, 1, env="staging")  # dropped: no incident
    assert staging == []
    body = get(api, key, "/api/v1/incidents").json()
    assert [i["id"] for i in body["items"]] == sorted(checkout, reverse=True)
    assert {i["service"] for i in body["items"]} == {"checkout-api"}

    post(api, key, f"/api/v1/incidents/{checkout[0]}/acknowledge")
    post(api, key, f"/api/v1/incidents/{checkout[1]}/priority", {"priority": "P4"})
    cases: list[tuple[dict[str, Any], list[int]]] = [
        ({"status": "acknowledged"}, [checkout[0]]),
        ({"status": "triggered,acknowledged"}, sorted(checkout, reverse=True)),
        ({"status": "resolved"}, []),
        ({"priority": "P4"}, [checkout[1]]),
        ({"service": "checkout-api"}, sorted(checkout, reverse=True)),
        ({"service": "payments-db"}, []),
        ({"team": "payments"}, sorted(checkout, reverse=True)),
        ({"team": "platform"}, []),
        ({"q": "journey 2"}, [checkout[2]]),
        ({"q": "JOURNEY"}, sorted(checkout, reverse=True)),
        ({"q": f"#{checkout[1]}"}, [checkout[1]]),
    ]
    for params, expected in cases:
        response = get(api, key, "/api/v1/incidents", **params)
        assert response.status_code == 200, (params, response.text)
        assert [i["id"] for i in response.json()["items"]] == expected, params


@pytest.mark.parametrize(
    ("params", "field"),
    [({"status": "open"}, "status"), ({"priority": "P9"}, "priority"), ({"limit": "0"}, "limit"),
     ({"limit": "x"}, "limit"), ({"cursor": "garbage!"}, "cursor"), ({"page": "0"}, "page")],
)
def test_invalid_filters_are_422_naming_the_parameter(api: Any, key: str,
                                                      params: dict[str, str], field: str) -> None:
    response = get(api, key, "/api/v1/incidents", **params)
    assert response.status_code == 422
    assert response.json()["invalid-params"][0]["name"] == field


def test_cursor_and_page_pagination(api: Any, key: str) -> None:
    ids = sorted(open_incidents(api, 5), reverse=True)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = get(api, key, "/api/v1/incidents", **params).json()
        seen.extend(i["id"] for i in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids

    page = get(api, key, "/api/v1/incidents", limit=2, page=3).json()
    assert [i["id"] for i in page["items"]] == ids[4:]
    assert page["total"] == 5 and page["page"] == 3


def test_get_one_with_alerts_and_timeline(api: Any, key: str) -> None:
    (incident_id,) = open_incidents(api, 1)
    post(api, key, f"/api/v1/incidents/{incident_id}/notes", {"text": "Looking at it"})
    body = get(api, key, f"/api/v1/incidents/{incident_id}").json()
    assert body["status"] == "triggered" and body["service"] == "checkout-api"
    assert [a["integration"] for a in body["alerts"]] == ["synthetic-checks"]
    assert [e["type"] for e in body["timeline"]] == [
        "incident.triggered", "incident.alert", "incident.note"]
    assert body["timeline"][-1]["actor"] == f"user:{RESPONDER}"
    assert body["timeline"][-1]["data"] == {"via": "api", "text": "Looking at it"}
    missing = get(api, key, "/api/v1/incidents/999999")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_transitions(api: Any, key: str) -> None:
    (incident_id,) = open_incidents(api, 1)
    base = f"/api/v1/incidents/{incident_id}"
    ack = post(api, key, base + "/acknowledge")
    assert ack.status_code == 200 and ack.json()["changed"] is True
    assert ack.json()["incident"]["status"] == "acknowledged"
    again = post(api, key, base + "/acknowledge")
    assert again.status_code == 200 and again.json()["changed"] is False

    reassigned = post(api, key, base + "/reassign",
                      {"assignee": "sofia.alvarez@northwind.example"})
    assert reassigned.status_code == 200, reassigned.text
    assert reassigned.json()["incident"]["assignee"] == "sofia.alvarez@northwind.example"
    assert reassigned.json()["incident"]["status"] == "triggered"

    resolved = post(api, key, base + "/resolve", {"note": "Rolled back"})
    assert resolved.json()["incident"]["status"] == "resolved"
    detail = get(api, key, base).json()
    assert detail["resolved_by"] == RESPONDER
    assert detail["timeline"][-1]["data"]["note"] == "Rolled back"

    late_ack = post(api, key, base + "/acknowledge")
    assert late_ack.status_code == 409 and late_ack.headers["content-type"] == PROBLEM
    assert post(api, key, base + "/reassign", {"assignee": RESPONDER}).status_code == 409


@pytest.mark.parametrize(
    ("action", "body", "status", "field"),
    [
        ("priority", {"priority": "P9"}, 422, "priority"),
        ("priority", {}, 422, "priority"),
        ("notes", {"text": ""}, 422, "text"),
        ("notes", {"text": "   "}, 422, "text"),
        ("notes", {"text": "a\x00b"}, 422, "text"),
        ("resolve", {"note": "x", "extra": 1}, 422, "extra"),
        ("reassign", {"assignee": "nobody@example.com"}, 422, "assignee"),
        ("notes", [1], 422, "body"),
    ],
)
def test_invalid_bodies_are_422_naming_the_field(
    api: Any, key: str, action: str, body: Any, status: int, field: str
) -> None:
    (incident_id,) = open_incidents(api, 1)
    response = post(api, key, f"/api/v1/incidents/{incident_id}/{action}", body)
    assert response.status_code == status, response.text
    assert response.json()["invalid-params"][0]["name"] == field


def test_non_json_bodies_are_400_or_415(api: Any, key: str) -> None:
    (incident_id,) = open_incidents(api, 1)
    url = f"/api/v1/incidents/{incident_id}/notes"
    auth = {"Authorization": f"Bearer {key}"}
    bad_json = api.client.post(url, content=b"{", headers={**auth,
                                                            "Content-Type": "application/json"})
    assert bad_json.status_code == 400
    form = api.client.post(url, content=b"text=x",
                           headers={**auth, "Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415


DEEP = b"[" * 200_000  # issue 15 row 11: json.loads raised RecursionError, a 500


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}])
def test_an_anonymous_body_is_not_parsed(api: Any, headers: dict[str, str]) -> None:
    """Credentials first: an anonymous deep or broken body is a 401, never a 500 or a 400."""
    (incident_id,) = open_incidents(api, 1)
    for body in (DEEP, b"{", b"[" * 100 + b"]" * 100):
        response = api.client.post(f"/api/v1/incidents/{incident_id}/notes", content=body,
                                   headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("body", [DEEP, b'{"text": ' + b"[" * 33 + b"]" * 33 + b"}"])
def test_a_deeply_nested_body_is_400_for_a_valid_key(api: Any, key: str, body: bytes) -> None:
    (incident_id,) = open_incidents(api, 1)
    response = api.client.post(f"/api/v1/incidents/{incident_id}/notes", content=body,
                               headers={"Authorization": f"Bearer {key}",
                                        "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "nested deeper than 32" in response.json()["detail"]
    assert [e.type for e in api.events(incident_id)].count("incident.note") == 0


def test_an_observer_key_reads_but_cannot_act(api: Any) -> None:
    (incident_id,) = open_incidents(api, 1)
    key = api.key(OBSERVER)
    assert get(api, key, f"/api/v1/incidents/{incident_id}").status_code == 200
    for action, body in [("acknowledge", None), ("resolve", {}), ("notes", {"text": "x"}),
                         ("priority", {"priority": "P1"}),
                         ("reassign", {"assignee": RESPONDER})]:
        response = post(api, key, f"/api/v1/incidents/{incident_id}/{action}", body)
        assert response.status_code == 403, (action, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert "observer" in response.json()["detail"]
    assert api.incidents()[0].status == "triggered"


def test_api_key_cli_prints_a_working_key_once(api: Any) -> None:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["api-key", "create", "ci", "--as", RESPONDER,
                     "--database-url", api.engine.url.render_as_string(hide_password=False)])
    assert code == 0, err.getvalue()
    key = out.getvalue().strip()
    assert key.startswith("oncall_") and "shown only this once" in err.getvalue()
    assert get(api, key, "/api/v1/incidents").status_code == 200

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert main(["api-key", "revoke", "ci", "--database-url",
                     api.engine.url.render_as_string(hide_password=False)]) == 0
    assert get(api, key, "/api/v1/incidents").status_code == 401


def test_api_key_for_an_unknown_user_is_refused(api: Any) -> None:
    err = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(err):
        code = main(["api-key", "create", "ci", "--as", "nobody@example.com",
                     "--database-url", api.engine.url.render_as_string(hide_password=False)])
    assert code == 1 and "unknown user" in err.getvalue()


def open_directly(api: Any, group_key: str = "wake") -> int:
    """An incident opened through the service layer, without the ingest route."""
    with write_session(api.engine) as session:
        return open_incident(session, service="checkout-api", group_key=group_key,
                             title="Checkout down", integration="synthetic-checks",
                             now=api.clock[0])


def test_actions_that_change_an_incident_wake_the_worker(
        api: Any, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    woken: list[str] = []
    monkeypatch.setattr(api.app.state.ctx, "wake", lambda: woken.append("wake"))
    incident_id = open_directly(api)
    one = f"/api/v1/incidents/{incident_id}"

    assert post(api, key, f"{one}/acknowledge").json()["changed"] is True
    assert woken == ["wake"]
    assert post(api, key, f"{one}/acknowledge").json()["changed"] is False
    assert woken == ["wake"]  # nothing changed, nothing to wake for
    assert post(api, key, f"{one}/priority", {"priority": "P1"}).status_code == 200
    assert post(api, key, f"{one}/resolve", {"note": "fixed"}).status_code == 200
    assert woken == ["wake"] * 3


def test_a_handler_answers_when_called_directly(api: Any, key: str) -> None:
    incident_id = open_directly(api, "direct")
    request = Request({
        "type": "http", "method": "GET", "path": f"/api/v1/incidents/{incident_id}",
        "query_string": b"", "path_params": {"incident_id": incident_id},
        "headers": [(b"authorization", f"Bearer {key}".encode())],
    })
    response = anyio.run(incidents.show, api.app.state.ctx, request)
    assert response.status_code == 200
    assert json.loads(bytes(response.body))["id"] == incident_id
