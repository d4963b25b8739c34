"""The postmortems REST API on SQLite and PostgreSQL: API-key auth, open (201, then 200 with the
same one), read, edit with version conflicts (409 naming who saved), the timeline choice,
action items, export, and the service's refusals as problem documents."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from oncall.db.engine import write_session
from oncall.testing.incidents import open_incident

from .conftest import NOW, Api

MARCUS = "marcus.bell@northwind.example"  # payments responder
PRIYA = "priya.raman@northwind.example"  # payments admin
EVE = "eve.larsen@northwind.example"  # payments observer
LENA = "lena.fischer@northwind.example"  # storefront admin
BASE = "/api/v1/postmortems"


def _incident(api: Api, title: str = "Checkout errors", minutes_ago: int = 60) -> int:
    with write_session(api.engine) as session:
        return open_incident(session, service="checkout-api", title=title,
                             now=NOW - timedelta(minutes=minutes_ago), page=False)


class Client:
    def __init__(self, api: Api, email: str) -> None:
        self.api = api
        self.headers = {"Authorization": f"Bearer {api.key(email)}"}

    def __call__(self, method: str, path: str, body: Any = None, **kw: Any) -> httpx.Response:
        if body is not None:
            kw["json"] = body
        return self.api.client.request(method, path, headers=self.headers, **kw)


@pytest.fixture
def marcus(api: Api) -> Client:
    return Client(api, MARCUS)


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_every_route_wants_an_api_key(api: Api) -> None:
    incident = _incident(api)
    for method, path in [("GET", BASE), ("POST", BASE), ("GET", f"{BASE}/1"),
                         ("PATCH", f"{BASE}/1"), ("GET", f"{BASE}/1/export.md"),
                         ("GET", "/api/v1/action-items"), ("DELETE", "/api/v1/action-items/1")]:
        response = api.client.request(method, path, json={"incidents": [incident]})
        _problem(response, 401)
        bad = api.client.request(method, path, json={"incidents": [incident]},
                                 headers={"Authorization": "Bearer oncall_nope"})
        _problem(bad, 401)
    assert api.client.get(BASE, headers=Client(api, EVE).headers).status_code == 200


def test_open_answers_201_then_200_with_the_same_postmortem(api: Api, marcus: Client) -> None:
    incident = _incident(api)
    first = marcus("POST", BASE, {"incidents": [incident]})
    assert first.status_code == 201, first.text
    pm = first.json()
    assert pm["title"] == "Checkout errors" and pm["status"] == "draft"
    assert pm["owner"] == MARCUS and pm["template"] == "payments" and pm["can_edit"]
    assert pm["severity"] == "P2" and pm["version"] == 1 and pm["teams"] == ["payments"]
    assert [i["id"] for i in pm["incidents"]] == [incident]
    assert pm["figures"]["started_at"] == (NOW - timedelta(minutes=60)).isoformat()
    assert pm["figures"]["time_to_resolve_seconds"] is None
    opened = pm["timeline"][0]
    assert opened["text"] == "Incident opened: Checkout errors"
    assert opened["key"].startswith("event:") and opened["kept"] and opened["note"] is None
    again = marcus("POST", BASE, {"incidents": [incident], "title": "Ignored"})
    assert again.status_code == 200
    assert again.json()["id"] == pm["id"] and again.json()["title"] == "Checkout errors"
    shown = marcus("GET", f"{BASE}/{pm['id']}")
    assert shown.status_code == 200 and shown.json() == again.json()


def test_key_figures_are_durations_in_seconds(api: Api, marcus: Client) -> None:
    incident = _incident(api, minutes_ago=90)
    marcus("POST", f"/api/v1/incidents/{incident}/acknowledge")
    api.clock[0] = NOW + timedelta(minutes=30)
    marcus("POST", f"/api/v1/incidents/{incident}/resolve")
    pm = marcus("POST", BASE, {"incidents": [incident]}).json()
    assert pm["figures"]["time_to_acknowledge_seconds"] == 90 * 60
    assert pm["figures"]["time_to_resolve_seconds"] == 120 * 60


def test_an_edit_on_a_stale_version_is_a_409_naming_who_saved(api: Api, marcus: Client) -> None:
    pm = marcus("POST", BASE, {"incidents": [_incident(api)]}).json()
    priya = Client(api, PRIYA)
    saved = priya("PATCH", f"{BASE}/{pm['id']}",
                  {"version": pm["version"], "title": "Checkout 500s", "severity": "P1",
                   "status": "in_review", "body": "## Summary\n\nCards declined.\n"})
    assert saved.status_code == 200, saved.text
    after = saved.json()
    assert (after["title"], after["severity"], after["status"], after["version"]) == (
        "Checkout 500s", "P1", "in_review", pm["version"] + 1)
    assert after["updated_by"] == f"user:{PRIYA}"
    stale = marcus("PATCH", f"{BASE}/{pm['id']}", {"version": pm["version"], "title": "Mine"})
    body = _problem(stale, 409)
    assert body["current_version"] == pm["version"] + 1
    assert body["updated_by"] == f"user:{PRIYA}"
    assert marcus("GET", f"{BASE}/{pm['id']}").json()["title"] == "Checkout 500s"


def test_refusals_are_problems(api: Api, marcus: Client) -> None:
    incident = _incident(api)
    pm = marcus("POST", BASE, {"incidents": [incident]}).json()
    one = f"{BASE}/{pm['id']}"
    # 403: a storefront admin may not open or edit a payments review; an observer reads only
    lena, eve = Client(api, LENA), Client(api, EVE)
    assert "cannot open a postmortem" in _problem(
        lena("POST", BASE, {"incidents": [_incident(api, "Other")]}), 403)["detail"]
    assert eve("GET", one).status_code == 200
    assert eve("GET", one).json()["can_edit"] is False
    _problem(eve("PATCH", one, {"version": pm["version"], "title": "x"}), 403)
    _problem(eve("POST", f"{one}/action-items", {"title": "x"}), 403)
    # 404: unknown, and a draft the asker may not read (its existence is not confirmed)
    _problem(marcus("GET", f"{BASE}/999999"), 404)
    _problem(marcus("GET", f"{BASE}/{2**63}"), 404)
    _problem(lena("GET", one), 404)
    _problem(lena("GET", f"{one}/export.md"), 404)
    _problem(marcus("POST", BASE, {"incidents": [999999]}), 404)
    _problem(marcus("PATCH", "/api/v1/action-items/999999", {"status": "done"}), 404)
    _problem(marcus("DELETE", f"{one}/incidents/999999"), 404)
    # 400: what the service refuses, and a body that is not JSON
    assert "severity 'P9'" in _problem(
        marcus("PATCH", one, {"version": pm["version"], "severity": "P9"}), 400)["detail"]
    assert "no postmortem template 'nope'" in _problem(
        marcus("POST", BASE, {"incidents": [_incident(api, "Third")], "template": "nope"}),
        400)["detail"]
    _problem(marcus("PATCH", one, {"version": pm["version"], "owner": "nobody@x.example"}), 400)
    _problem(marcus("DELETE", f"{one}/incidents/{incident}"), 400)  # its only incident
    _problem(marcus("POST", f"{one}/action-items", {"title": "x", "due_on": "soon"}), 400)
    _problem(marcus("PUT", f"{one}/timeline/bogus", {"kept": True}), 400)
    _problem(api.client.patch(one, content=b"{nope", headers={
        **marcus.headers, "Content-Type": "application/json"}), 400)
    # 422: not the operation's shape
    assert _problem(marcus("PATCH", one, {"version": 1, "colour": "red"}),
                    422)["invalid-params"] == [{"name": "colour", "reason": "unknown field"}]
    _problem(marcus("PATCH", one, {"title": "no version"}), 422)
    _problem(marcus("GET", BASE, params={"status": "lost"}), 422)
    assert marcus("GET", one).json()["version"] == pm["version"]  # nothing was saved


def test_link_unlink_choose_and_list(api: Api, marcus: Client) -> None:
    first, second = _incident(api, "Checkout errors"), _incident(api, "Checkout again", 30)
    pm = marcus("POST", BASE, {"incidents": [first]}).json()
    one = f"{BASE}/{pm['id']}"
    linked = marcus("POST", f"{one}/incidents", {"incidents": [second]})
    assert [i["id"] for i in linked.json()["incidents"]] == [first, second]
    unlinked = marcus("DELETE", f"{one}/incidents/{first}")
    assert [i["id"] for i in unlinked.json()["incidents"]] == [second]
    entry = unlinked.json()["timeline"][0]
    chosen = marcus("PUT", f"{one}/timeline/{entry['key']}",
                    {"kept": False, "note": "noise from the canary"})
    assert chosen.json() == {"key": entry["key"], "kept": False,
                             "note": "noise from the canary"}
    after = {e["key"]: e for e in marcus("GET", one).json()["timeline"]}[entry["key"]]
    assert (after["kept"], after["note"], after["chosen"]) == (
        False, "noise from the canary", True)
    listed = marcus("GET", BASE, params={"status": "draft", "team": "payments"}).json()
    assert [(s["id"], s["incidents"]) for s in listed["items"]] == [(pm["id"], [second])]
    assert marcus("GET", BASE, params={"status": "published"}).json() == {"items": []}
    assert Client(api, LENA)("GET", BASE).json() == {"items": []}  # a draft of another team


def test_action_items(api: Api, marcus: Client) -> None:
    pm = marcus("POST", BASE, {"incidents": [_incident(api)]}).json()
    one = f"{BASE}/{pm['id']}"
    added = marcus("POST", f"{one}/action-items",
                   {"title": "Alert on card declines", "owner": PRIYA,
                    "due_on": (NOW - timedelta(days=2)).date().isoformat(),
                    "url": "https://tickets.example/PAY-1"})
    assert added.status_code == 201, added.text
    item = added.json()
    assert (item["title"], item["owner"], item["status"], item["overdue"]) == (
        "Alert on card declines", PRIYA, "open", True)
    listed = marcus("GET", "/api/v1/action-items", params={"owner": PRIYA}).json()["items"]
    assert [i["id"] for i in listed] == [item["id"]]
    assert Client(api, LENA)("GET", "/api/v1/action-items").json() == {"items": []}
    path = f"/api/v1/action-items/{item['id']}"
    done = marcus("PATCH", path, {"status": "done", "due_on": ""}).json()
    assert done["changed"] and done["item"]["status"] == "done"
    assert done["item"]["due_on"] is None and done["item"]["completed_at"] == NOW.isoformat()
    assert marcus("PATCH", path, {"status": "done"}).json()["changed"] is False
    assert marcus("GET", "/api/v1/action-items").json() == {"items": []}  # open only
    assert len(marcus("GET", "/api/v1/action-items",
                      params={"status": "all"}).json()["items"]) == 1
    assert marcus("DELETE", path).status_code == 204
    _problem(marcus("DELETE", path), 404)


def test_export_is_markdown(api: Api, marcus: Client) -> None:
    pm = marcus("POST", BASE, {"incidents": [_incident(api)], "title": "Checkout 500s!"}).json()
    response = marcus("GET", f"{BASE}/{pm['id']}/export.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="postmortem-{pm["id"]}-checkout-500s.md"')
    text = response.text
    assert text.startswith("# Checkout 500s!\n")
    assert "## Key figures" in text and "Incident opened: Checkout errors" in text
    assert "## Card networks and processors" in text  # the payments template's body
