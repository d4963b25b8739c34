"""Who is on call, shifts and overrides over the REST API, on SQLite and PostgreSQL.

The clock is 2026-11-25 12:00 UTC (a Wednesday). In payments-primary the weekly layer holds
Sofia Alvarez from Nov 23 09:00 New York time to Nov 30; the office-hours layer gives Daniel
Whitaker Thursday Nov 26 and Marcus Bell Friday Nov 27, 09:00-17:00 (14:00-22:00 UTC).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import AuditEventRow

from .conftest import Api

PRIYA = "priya.raman@northwind.example"  # payments admin and platform admin
MARCUS = "marcus.bell@northwind.example"  # payments responder
SOFIA = "sofia.alvarez@northwind.example"
DANIEL = "daniel.whitaker@northwind.example"
EVE = "eve.larsen@northwind.example"  # payments observer
LENA = "lena.fischer@northwind.example"  # storefront admin only
OVERRIDES = "/api/v1/schedules/payments-primary/overrides"
THURSDAY = {"start": "2026-11-26T14:00:00Z", "end": "2026-11-26T22:00:00Z"}
FRIDAY = {"start": "2026-11-27T14:00:00Z", "end": "2026-11-27T22:00:00Z"}


def person(email: str, name: str) -> dict[str, str]:
    return {"email": email, "name": name}


P_PRIYA = person(PRIYA, "Priya Raman")
P_MARCUS = person(MARCUS, "Marcus Bell")
P_SOFIA = person(SOFIA, "Sofia Alvarez")
P_DANIEL = person(DANIEL, "Daniel Whitaker")


def auth(api: Api, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.key(email)}"}


def shift(start: str, end: str, user: dict[str, str] | None, source: str,
          layer: str | None) -> dict[str, Any]:
    return {"start": start, "end": end, "user": user, "source": source, "layer": layer}


def problem(status: int, detail: str, path: str, *params: tuple[str, str]) -> dict[str, Any]:
    slug = {403: "forbidden", 404: "not-found", 409: "conflict", 422: "invalid-payload"}[status]
    title = {403: "Forbidden", 404: "Not Found", 409: "Conflict",
             422: "Unprocessable Entity"}[status]
    body: dict[str, Any] = {"type": f"https://oncall.dev/problems/{slug}", "title": title,
                            "status": status, "detail": detail, "instance": path}
    if params:
        body["invalid-params"] = [{"name": n, "reason": r} for n, r in params]
    return body


def test_who_is_on_call_for_a_service_per_escalation_step(api: Api) -> None:
    response = api.client.get("/api/v1/oncall?service=checkout-api", headers=auth(api, MARCUS))
    assert response.status_code == 200
    assert response.json() == {
        "at": "2026-11-25T12:00:00+00:00",
        "schedules": [
            {"schedule": "payments-primary", "team": "payments", "timezone": "America/New_York",
             **shift("2026-11-24T22:00:00+00:00", "2026-11-25T14:00:00+00:00", P_SOFIA,
                     "layer", "weekly")},
            {"schedule": "payments-secondary", "team": "payments",
             "timezone": "America/New_York",
             **shift("2026-11-23T14:00:00+00:00", "2026-11-30T14:00:00+00:00", P_DANIEL,
                     "layer", "weekly")},
        ],
        "service": {
            "name": "checkout-api", "team": "payments", "escalation_policy": "payments",
            "steps": [
                {"step": 1, "targets": [
                    {"kind": "schedule", "ref": "payments-primary", "on_call": [P_SOFIA]}]},
                {"step": 2, "targets": [
                    {"kind": "schedule", "ref": "payments-secondary", "on_call": [P_DANIEL]},
                    {"kind": "user", "ref": PRIYA, "on_call": [P_PRIYA]}]},
                {"step": 3, "targets": [
                    {"kind": "team", "ref": "payments",
                     "on_call": [P_PRIYA, P_MARCUS, P_SOFIA, P_DANIEL]}]},
            ],
        },
    }


def test_an_override_is_who_is_on_call_in_shifts_and_in_escalation(api: Api) -> None:
    admin = auth(api, PRIYA)
    made = api.client.post(OVERRIDES, json={**THURSDAY, "user": MARCUS, "replaces": DANIEL,
                                            "reason": "covering"}, headers=admin)
    assert made.status_code == 201
    override_id = made.json()["id"]
    assert made.headers["location"] == f"{OVERRIDES}/{override_id}"
    expected = {"id": override_id, "schedule": "payments-primary", "user": MARCUS,
                "replaces": DANIEL, "start": "2026-11-26T14:00:00+00:00",
                "end": "2026-11-26T22:00:00+00:00", "reason": "covering", "created_by": PRIYA}
    assert made.json() == expected
    assert api.client.get(made.headers["location"], headers=admin).json() == expected

    reader = auth(api, EVE)
    who = api.client.get("/api/v1/oncall?schedule=payments-primary&service=checkout-api"
                         "&at=2026-11-26T15:00:00Z", headers=reader).json()
    assert who["schedules"] == [
        {"schedule": "payments-primary", "team": "payments", "timezone": "America/New_York",
         **shift("2026-11-26T14:00:00+00:00", "2026-11-26T22:00:00+00:00", P_MARCUS,
                 "override", None)}]
    assert who["service"]["steps"][0] == {"step": 1, "targets": [
        {"kind": "schedule", "ref": "payments-primary", "on_call": [P_MARCUS]}]}

    shifts = api.client.get("/api/v1/schedules/payments-primary/shifts"
                            "?since=2026-11-26T12:00:00Z&until=2026-11-27T00:00:00Z",
                            headers=reader)
    assert shifts.json() == {
        "schedule": "payments-primary", "timezone": "America/New_York",
        "since": "2026-11-26T12:00:00+00:00", "until": "2026-11-27T00:00:00+00:00",
        "shifts": [
            shift("2026-11-26T12:00:00+00:00", "2026-11-26T14:00:00+00:00", P_SOFIA, "layer",
                  "weekly"),
            shift("2026-11-26T14:00:00+00:00", "2026-11-26T22:00:00+00:00", P_MARCUS,
                  "override", None),
            shift("2026-11-26T22:00:00+00:00", "2026-11-27T00:00:00+00:00", P_SOFIA, "layer",
                  "weekly"),
        ],
    }
    listed = api.client.get(OVERRIDES, headers=reader).json()
    assert listed == {"schedule": "payments-primary", "since": "2026-11-25T12:00:00+00:00",
                      "until": "2027-02-23T12:00:00+00:00", "items": [expected]}

    with Session(api.engine) as session:
        event = session.scalars(select(AuditEventRow).where(
            AuditEventRow.type == "schedule.override_created")).one()
        assert (event.actor, event.subject_kind, event.subject_name) == (
            f"user:{PRIYA}", "schedule", "payments-primary")
        assert event.data == {"via": "api", "id": override_id, "who": MARCUS,
                              "replaces": DANIEL, "from": "2026-11-26T14:00:00+00:00",
                              "to": "2026-11-26T22:00:00+00:00", "reason": "covering"}


def test_cancelling_an_override_gives_the_shift_back(api: Api) -> None:
    admin = auth(api, PRIYA)
    override_id = api.client.post(OVERRIDES, json={**THURSDAY, "user": MARCUS},
                                  headers=admin).json()["id"]
    one = f"{OVERRIDES}/{override_id}"
    cancelled = api.client.delete(one, headers=admin)
    assert (cancelled.status_code, cancelled.content) == (204, b"")
    assert api.client.get(OVERRIDES, headers=admin).json()["items"] == []
    who = api.client.get("/api/v1/oncall?schedule=payments-primary&at=2026-11-26T15:00:00Z",
                         headers=admin).json()
    assert who["schedules"][0]["user"] == P_DANIEL
    again = api.client.delete(one, headers=admin)
    assert again.status_code == 404
    assert again.json() == problem(
        404, f"override {override_id} does not exist or is already cancelled", one)
    assert api.client.get(one, headers=admin).json() == problem(
        404, f"no override {override_id} of payments-primary", one)
    with Session(api.engine) as session:
        types = list(session.scalars(select(AuditEventRow.type).where(
            AuditEventRow.subject_name == "payments-primary",
            AuditEventRow.type.like("schedule.%")).order_by(AuditEventRow.id)))
    assert types == ["schedule.override_created", "schedule.override_cancelled"]


def test_an_override_of_another_schedule_is_not_found_there(api: Api) -> None:
    admin = auth(api, PRIYA)
    override_id = api.client.post(OVERRIDES, json={**THURSDAY, "user": MARCUS},
                                  headers=admin).json()["id"]
    elsewhere = f"/api/v1/schedules/payments-secondary/overrides/{override_id}"
    response = api.client.delete(elsewhere, headers=admin)
    assert response.json() == problem(
        404, f"override {override_id} is not an override of payments-secondary", elsewhere)
    assert len(api.client.get(OVERRIDES, headers=admin).json()["items"]) == 1


def test_a_responder_overrides_only_their_own_shifts(api: Api) -> None:
    marcus = auth(api, MARCUS)
    refused = api.client.post(OVERRIDES, json={**THURSDAY, "user": MARCUS}, headers=marcus)
    assert refused.status_code == 403
    assert refused.json() == problem(
        403, f"{MARCUS} may only override their own shifts ({DANIEL} on call in that window)",
        OVERRIDES)
    given = api.client.post(OVERRIDES, json={**FRIDAY, "user": SOFIA}, headers=marcus)
    assert given.status_code == 201
    assert (given.json()["user"], given.json()["replaces"]) == (SOFIA, MARCUS)
    observer = api.client.post(OVERRIDES, json={**FRIDAY, "user": EVE},
                               headers=auth(api, EVE))
    assert observer.json() == problem(
        403, f"{EVE} is an observer and cannot override schedules", OVERRIDES)
    # Daniel may not cancel what Marcus gave Sofia; Marcus may
    one = f"{OVERRIDES}/{given.json()['id']}"
    assert api.client.delete(one, headers=auth(api, DANIEL)).json() == problem(
        403, f"{DANIEL} may only cancel overrides of their own shifts", one)
    assert api.client.delete(one, headers=marcus).status_code == 204


def test_platform_admins_and_team_admins_override_anyone(api: Api) -> None:
    storefront = "/api/v1/schedules/storefront-primary/overrides"
    by_platform_admin = api.client.post(storefront, json={**THURSDAY, "user": LENA},
                                        headers=auth(api, PRIYA))
    assert by_platform_admin.status_code == 201
    by_other_team_admin = api.client.post(OVERRIDES, json={**THURSDAY, "user": LENA},
                                          headers=auth(api, LENA))
    assert by_other_team_admin.json() == problem(
        403, f"{LENA} is not a responder of team payments and cannot override schedules",
        OVERRIDES)


def test_replaces_must_still_hold_the_window(api: Api) -> None:
    admin = auth(api, PRIYA)
    assert api.client.post(OVERRIDES, json={**THURSDAY, "user": MARCUS, "replaces": DANIEL},
                           headers=admin).status_code == 201
    stale = api.client.post(OVERRIDES, json={**THURSDAY, "user": SOFIA, "replaces": DANIEL},
                            headers=admin)
    assert stale.status_code == 409
    assert stale.json() == problem(
        409, f"{DANIEL} does not hold the whole window: on call in it now: {MARCUS}", OVERRIDES)
    assert len(api.client.get(OVERRIDES, headers=admin).json()["items"]) == 1


@pytest.mark.parametrize(("body", "params"), [
    ({"start": "2026-11-26T14:00:00", "end": "2026-11-26T22:00:00Z"},
     [("start", "Input should have timezone info"), ("user", "Field required")]),
    ({**THURSDAY, "user": MARCUS, "who": MARCUS}, [("who", "unknown field")]),
    ({**THURSDAY, "user": "nobody@northwind.example"},
     [("user", "unknown user 'nobody@northwind.example'")]),
    ({"start": "2026-11-26T14:00:00Z", "end": "2027-03-26T14:00:00Z", "user": MARCUS},
     [("end", "an override is limited to 90 days: change the schedule in config instead")]),
    ({"start": "2026-11-20T14:00:00Z", "end": "2026-11-21T14:00:00Z", "user": MARCUS},
     [("end", "an override must end in the future")]),
    ({"start": "2026-11-26T14:00:00Z", "end": "2026-11-26T13:00:00Z", "user": MARCUS},
     [("end", "an override must end after it starts")]),
    ({"start": "0001-01-01T00:00:00+05:00", "end": "2026-11-26T13:00:00Z", "user": MARCUS},
     [("start", "out of range: expected an instant between 1971 and 9000")]),
])
def test_a_refused_body_names_the_field(api: Api, body: dict[str, Any],
                                        params: list[tuple[str, str]]) -> None:
    response = api.client.post(OVERRIDES, json=body, headers=auth(api, PRIYA))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == problem(422, f"{params[0][0]}: {params[0][1]}", OVERRIDES,
                                      *params)
    assert api.client.get(OVERRIDES, headers=auth(api, PRIYA)).json()["items"] == []


@pytest.mark.parametrize(("query", "param", "reason"), [
    ("since=2026-11-25T00:00Z&until=2027-02-24T00:00Z", "until",
     "the window is longer than 90 days: ask for a shorter one"),
    ("since=2026-11-25T00:00Z&until=2026-11-24T00:00Z", "until", "must be after since"),
    ("since=tomorrow", "since", "expected an ISO 8601 time like 2026-11-25T12:00:00Z"),
])
def test_a_bad_window_is_refused(api: Api, query: str, param: str, reason: str) -> None:
    for path in ("/api/v1/schedules/payments-primary/shifts", OVERRIDES):
        response = api.client.get(f"{path}?{query}", headers=auth(api, MARCUS))
        assert response.json() == problem(422, f"{param}: {reason}", path, (param, reason))


def test_unknown_schedules_and_services_are_not_found(api: Api) -> None:
    key = auth(api, MARCUS)
    for path, detail in (
        ("/api/v1/schedules/nope/shifts", "no schedule 'nope'"),
        ("/api/v1/schedules/nope/overrides", "no schedule 'nope'"),
        ("/api/v1/schedules/nope/overrides/1", "no schedule 'nope'"),
    ):
        assert api.client.get(path, headers=key).json() == problem(404, detail, path)
    assert api.client.get("/api/v1/oncall?service=nope", headers=key).json() == problem(
        404, "no service 'nope'", "/api/v1/oncall")
    assert api.client.get("/api/v1/oncall?schedule=nope", headers=key).json() == problem(
        404, "no schedule 'nope'", "/api/v1/oncall")
    missing = api.client.post("/api/v1/schedules/nope/overrides",
                              json={**THURSDAY, "user": MARCUS}, headers=auth(api, PRIYA))
    assert missing.json() == problem(404, "no schedule 'nope'",
                                     "/api/v1/schedules/nope/overrides")


def test_schedules_are_listed_with_their_layers(api: Api) -> None:
    items = api.client.get("/api/v1/schedules", headers=auth(api, EVE)).json()["items"]
    assert [s["name"] for s in items] == [
        "data-primary", "payments-primary", "payments-secondary", "platform-follow-the-sun",
        "storefront-primary", "storefront-secondary"]
    assert items[2] == {
        "name": "payments-secondary", "team": "payments", "timezone": "America/New_York",
        "description": "Weekly secondary, held by the following week's primary",
        "layers": [{"name": "weekly", "members": [SOFIA, DANIEL, MARCUS]}]}


def test_every_route_needs_a_key(api: Api) -> None:
    for path in ("/api/v1/oncall", "/api/v1/schedules", OVERRIDES):
        response = api.client.get(path)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Bearer realm="oncall"'
