"""Services, users and the audit log over the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from oncall.db.engine import write_session
from oncall.db.models import IncidentRow
from oncall.testing.incidents import open_incident

from .conftest import NOW, Api
from .test_bot_schedules import (
    EVE,
    MARCUS,
    OVERRIDES,
    P_DANIEL,
    P_MARCUS,
    P_PRIYA,
    P_SOFIA,
    PRIYA,
    THURSDAY,
    auth,
    problem,
)

IN_MAINTENANCE = datetime.fromisoformat("2026-12-06T07:00:00+00:00")
"""Inside payments-db-upgrade-2026-12 (01:00-03:30 New York time)."""
NO_INCIDENTS: dict[str, Any] = {"open_incidents": 0, "triggered": 0, "acknowledged": 0,
                "highest_priority": None, "maintenance": []}


def _incidents(api: Api) -> None:
    with write_session(api.engine) as session:
        for title, priority in (("slow", "P4"), ("down", "P1")):
            open_incident(session, service="checkout-api", title=title, now=NOW,
                          priority=priority, page=False)  # type: ignore[arg-type]
        acked = open_incident(session, service="checkout-api", title="flaky", now=NOW,
                              priority="P3", page=False)
        resolved = open_incident(session, service="payments-db", title="lag", now=NOW,
                                 priority="P1", page=False)
        for incident_id, status in ((acked, "acknowledged"), (resolved, "resolved")):
            row = session.get(IncidentRow, incident_id)
            assert row is not None
            row.status = status


def test_services_with_open_incidents_and_maintenance(make_api: Any) -> None:
    api: Api = make_api(now=IN_MAINTENANCE)
    _incidents(api)
    response = api.client.get("/api/v1/services", headers=auth(api, EVE))
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(s["name"], s["status"]["open_incidents"]) for s in items] == [
        ("auth-api", 0), ("catalog-api", 0), ("checkout-api", 3), ("data-warehouse", 0),
        ("kubernetes-prod", 0), ("orders-pipeline", 0), ("payment-gateway", 0),
        ("payments-db", 0), ("recommendations-api", 0), ("search-api", 0),
        ("storefront-web", 0)]
    by_name = {s["name"]: s for s in items}
    assert by_name["checkout-api"] == {
        "name": "checkout-api", "team": "payments",
        "description": "Public checkout API behind the storefront's basket and payment pages",
        "escalation_policy": "payments", "urgency": "high",
        "status": {"open_incidents": 3, "triggered": 2, "acknowledged": 1,
                   "highest_priority": "P1", "maintenance": []}}
    assert by_name["payments-db"]["status"] == {
        **NO_INCIDENTS, "maintenance": ["payments-db-upgrade-2026-12"]}
    assert by_name["orders-pipeline"]["status"] == {
        **NO_INCIDENTS, "maintenance": ["payments-db-upgrade-2026-12"]}


def test_one_service_with_who_each_step_pages_now(api: Api) -> None:
    _incidents(api)
    response = api.client.get("/api/v1/services/checkout-api", headers=auth(api, MARCUS))
    assert response.json() == {
        "name": "checkout-api", "team": "payments",
        "description": "Public checkout API behind the storefront's basket and payment pages",
        "escalation_policy": "payments", "urgency": "high",
        "status": {"open_incidents": 3, "triggered": 2, "acknowledged": 1,
                   "highest_priority": "P1", "maintenance": []},
        "depends_on": ["payment-gateway", "payments-db", "auth-api", "catalog-api"],
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
    }
    missing = api.client.get("/api/v1/services/nope", headers=auth(api, MARCUS))
    assert missing.json() == problem(404, "no service 'nope'", "/api/v1/services/nope")


USERS = [
    ("aisha.bello", "Aisha Bello", {"platform": "responder"}),
    ("ananya.das", "Ananya Das", {"data": "responder"}),
    ("arjun.mehta", "Arjun Mehta", {"platform": "responder"}),
    ("chris.doyle", "Chris Doyle", {"data": "observer"}),
    ("daniel.whitaker", "Daniel Whitaker", {"payments": "responder"}),
    ("eve.larsen", "Eve Larsen", {"payments": "observer"}),
    ("grace.mwangi", "Grace Mwangi", {"storefront": "responder"}),
    ("hannah.kim", "Hannah Kim", {"platform": "responder"}),
    ("isla.mcleod", "Isla McLeod", {"storefront": "responder"}),
    ("jordan.reyes", "Jordan Reyes", {"platform": "responder"}),
    ("kavya.iyer", "Kavya Iyer", {"platform": "responder"}),
    ("lena.fischer", "Lena Fischer", {"storefront": "admin"}),
    ("marcus.bell", "Marcus Bell", {"payments": "responder"}),
    ("meera.pillai", "Meera Pillai", {"data": "responder"}),
    ("noah.petit", "Noah Petit", {"storefront": "responder"}),
    ("oliver.hughes", "Oliver Hughes", {"platform": "responder"}),
    ("priya.raman", "Priya Raman", {"payments": "admin"}),
    ("rohan.kulkarni", "Rohan Kulkarni", {"data": "responder"}),
    ("ruby.chen", "Ruby Chen", {"storefront": "observer"}),
    ("samuel.osei", "Samuel Osei", {"storefront": "responder"}),
    ("sofia.alvarez", "Sofia Alvarez", {"payments": "responder"}),
    ("tomasz.nowak", "Tomasz Nowak", {"platform": "admin"}),
    ("vikram.nair", "Vikram Nair", {"data": "admin"}),
]


def test_users_with_roles_and_no_contact_addresses(api: Api) -> None:
    response = api.client.get("/api/v1/users", headers=auth(api, EVE))
    assert response.json() == {"items": [
        {"email": f"{local}@northwind.example", "name": name, "roles": roles,
         "platform_admin": local == "priya.raman"}
        for local, name, roles in USERS]}


def _three_events(api: Api) -> list[dict[str, Any]]:
    """Make, cancel and make again an override; their events as the audit route shows them."""
    admin = auth(api, PRIYA)
    first = api.client.post(OVERRIDES, json={**THURSDAY, "user": MARCUS}, headers=admin).json()
    api.client.delete(f"{OVERRIDES}/{first['id']}", headers=admin)
    second = api.client.post(OVERRIDES, json={**THURSDAY, "user": MARCUS},
                             headers=admin).json()
    made = {"who": MARCUS, "replaces": "daniel.whitaker@northwind.example",
            "from": "2026-11-26T14:00:00+00:00", "to": "2026-11-26T22:00:00+00:00",
            "reason": None}
    common = {"at": "2026-11-25T12:00:00+00:00", "actor": f"user:{PRIYA}",
              "incident_id": None, "subject_kind": "schedule",
              "subject_name": "payments-primary", "before": None, "after": None}
    return [
        {**common, "type": "schedule.override_created",
         "data": {"via": "api", "id": second["id"], **made}},
        {**common, "type": "schedule.override_cancelled",
         "data": {"via": "api", "id": first["id"]}},
        {**common, "type": "schedule.override_created",
         "data": {"via": "api", "id": first["id"], **made}},
    ]


def _without_ids(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in item.items() if k != "id"} for item in items]


def test_the_audit_log_is_paged_newest_first_for_platform_admins(api: Api) -> None:
    expected = _three_events(api)
    admin = auth(api, PRIYA)
    first = api.client.get("/api/v1/audit?limit=2&since=2026-11-25T00:00:00Z",
                           headers=admin).json()
    assert _without_ids(first["items"]) == expected[:2]
    assert first["next_cursor"] == str(first["items"][-1]["id"])
    rest = api.client.get(f"/api/v1/audit?limit=2&since=2026-11-25T00:00:00Z"
                          f"&cursor={first['next_cursor']}", headers=admin).json()
    assert _without_ids(rest["items"]) == expected[2:]
    assert rest["next_cursor"] is None
    before = api.client.get("/api/v1/audit?until=2026-11-25T00:00:00Z&limit=500",
                            headers=admin).json()
    assert [e["type"] for e in before["items"]] and all(
        e["at"] < "2026-11-25" for e in before["items"])


def test_the_audit_log_is_refused_to_everyone_else(api: Api) -> None:
    response = api.client.get("/api/v1/audit", headers=auth(api, MARCUS))
    assert response.status_code == 403
    assert response.json() == problem(
        403, f"{MARCUS} is not a platform admin: the audit log is theirs to read",
        "/api/v1/audit")


def test_bad_audit_parameters_are_named(api: Api) -> None:
    admin = auth(api, PRIYA)
    for query, param, reason in (
        ("limit=0", "limit", "expected a whole number from 1 to 500"),
        ("limit=501", "limit", "expected a whole number from 1 to 500"),
        ("cursor=abc", "cursor", "expected the next_cursor of a previous page"),
        ("since=yesterday", "since", "expected an ISO 8601 time like 2026-11-25T12:00:00Z"),
    ):
        response = api.client.get(f"/api/v1/audit?{query}", headers=admin)
        assert response.json() == problem(422, f"{param}: {reason}", "/api/v1/audit",
                                          (param, reason))
