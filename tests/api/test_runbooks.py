"""Running a runbook by hand over the REST API: who may, what may run, parameter problems by
name, the queued step and the audit of who asked."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import AuditEventRow, NotificationRow
from tests.api.test_incidents import OBSERVER, RESPONDER, open_incidents, post

PROBLEM = "application/problem+json"
OTHER_TEAM = "samuel.osei@northwind.example"  # a storefront responder
PLATFORM_ADMIN = "priya.raman@northwind.example"


def run(api: Any, key: str, incident: int, name: str, body: Any = None,
        headers: dict[str, str] | None = None) -> Any:
    return api.client.post(f"/api/v1/incidents/{incident}/runbooks/{name}", json=body,
                           headers={"Authorization": f"Bearer {key}", **(headers or {})})


def steps(api: Any, incident: int) -> list[NotificationRow]:
    with Session(api.engine) as s:
        return list(s.scalars(select(NotificationRow).where(
            NotificationRow.incident_id == incident, NotificationRow.kind == "workflow")))


def requests(api: Any, incident: int) -> list[AuditEventRow]:
    with Session(api.engine) as s:
        return list(s.scalars(select(AuditEventRow).where(
            AuditEventRow.incident_id == incident,
            AuditEventRow.type == "runbook.requested")))


def test_a_responder_runs_a_runbook_its_step_queued_and_the_request_audited(api: Any) -> None:
    incident = open_incidents(api, 1)[0]
    response = run(api, api.key(RESPONDER), incident, "restart-checkout",
                   {"params": {"region": "eu-west-1"}})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {"incident": incident, "runbook": "restart-checkout", "run": body["run"],
                    "params": {"region": "eu-west-1"}, "queued": True}
    [step] = steps(api, incident)
    assert (step.channel, step.status, step.address) == ("runbook", "pending",
                                                        "restart-checkout")
    data = step.provider_data or {}
    assert data["run"] == body["run"] and data["by"] == f"user:{RESPONDER}"
    assert data["action"]["body"] == {"extra_vars": {"region": "eu-west-1",
                                                     "reason": f"incident {incident}"}}
    assert data["action"]["url"] == "${env:AWX_URL}/api/v2/job_templates/12/launch/"
    assert (data["retries"], data["timeout"]) == (3, 60.0)
    [event] = requests(api, incident)
    assert event.actor == f"user:{RESPONDER}"
    assert event.data == {"via": "api", "runbook": "restart-checkout",
                          "params": {"region": "eu-west-1"}, "run": body["run"]}


def test_every_bad_parameter_is_named_and_nothing_is_queued(api: Any) -> None:
    incident = open_incidents(api, 1)[0]
    response = run(api, api.key(RESPONDER), incident, "restart-checkout",
                   {"params": {"region": "mars-1", "reason": "x" * 201, "force": True}})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    named = {p["name"]: p["reason"] for p in response.json()["invalid-params"]}
    assert set(named) == {"params.region", "params.reason", "params.force"}
    assert "is not one of" in named["params.region"]
    assert named["params.force"] == "is not a parameter of this runbook"
    missing = run(api, api.key(RESPONDER), incident, "restart-checkout", {})
    assert missing.status_code == 422
    assert missing.json()["invalid-params"] == [{"name": "params.region",
                                                 "reason": "is required"}]
    assert steps(api, incident) == [] and requests(api, incident) == []


@pytest.mark.parametrize(("who", "status"), [
    (RESPONDER, 202), (PLATFORM_ADMIN, 202), (OBSERVER, 403), (OTHER_TEAM, 403)])
def test_only_the_owning_teams_responders_and_admins_may_run_one(
        api: Any, who: str, status: int) -> None:
    incident = open_incidents(api, 1)[0]
    response = run(api, api.key(who), incident, "restart-checkout",
                   {"params": {"region": "us-east-1"}})
    assert response.status_code == status, response.text
    assert len(steps(api, incident)) == (1 if status == 202 else 0)


def test_a_responder_the_incident_paged_from_another_team_may_not(api: Any) -> None:
    incident = open_incidents(api, 1)[0]
    admin = api.key(RESPONDER)
    assert post(api, admin, f"/api/v1/incidents/{incident}/reassign",
                {"assignee": OTHER_TEAM}).status_code == 200
    # assigned to them, so they may acknowledge it, but not run production changes
    other = api.key(OTHER_TEAM)
    assert post(api, other, f"/api/v1/incidents/{incident}/acknowledge").status_code == 200
    response = run(api, other, incident, "restart-checkout", {"params": {"region": "us-east-1"}})
    assert response.status_code == 403
    assert "cannot run runbook restart-checkout" in response.json()["detail"]


def test_only_a_runbook_the_service_offers_can_run(api: Any) -> None:
    incident = open_incidents(api, 1)[0]  # checkout-api offers restart-checkout only
    key = api.key(RESPONDER)
    for name in ("purge-cdn-cache", "rm-rf"):
        response = run(api, key, incident, name, {"params": {"paths": ["/"]}})
        assert response.status_code == 404
        assert "does not offer runbook" in response.json()["detail"]
        assert "restart-checkout" in response.json()["detail"]
    assert run(api, key, 999999, "restart-checkout").status_code == 404
    assert steps(api, incident) == []


def test_an_idempotency_key_queues_one_run(api: Any) -> None:
    incident = open_incidents(api, 1)[0]
    key = api.key(RESPONDER)
    answers = [run(api, key, incident, "restart-checkout", {"params": {"region": "us-east-1"}},
                   headers={"Idempotency-Key": "retry-1"}) for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202]
    assert [a.json()["queued"] for a in answers] == [True, False]
    assert answers[0].json()["run"] == answers[1].json()["run"]
    assert len(steps(api, incident)) == 1 and len(requests(api, incident)) == 1
    fresh = run(api, key, incident, "restart-checkout", {"params": {"region": "us-east-1"}})
    assert fresh.json()["queued"] is True and len(steps(api, incident)) == 2


@pytest.mark.parametrize(("body", "status", "name"), [
    ({"params": "region=us"}, 422, "params"),
    ({"params": {}, "extra": 1}, 422, "extra"),
    ([1], 422, "body"),
])
def test_a_malformed_body_is_a_problem(api: Any, body: Any, status: int, name: str) -> None:
    incident = open_incidents(api, 1)[0]
    response = run(api, api.key(RESPONDER), incident, "restart-checkout", body)
    assert response.status_code == status
    assert response.json()["invalid-params"][0]["name"] == name


def test_without_a_key_nothing_is_read(api: Any) -> None:
    incident = open_incidents(api, 1)[0]
    response = api.client.post(f"/api/v1/incidents/{incident}/runbooks/restart-checkout",
                               json={"params": {"region": "us-east-1"}})
    assert response.status_code == 401
    assert steps(api, incident) == []


def test_the_operation_is_in_the_openapi_document(api: Any) -> None:
    paths = api.client.get("/api/v1/openapi.json").json()["paths"]
    op = paths["/api/v1/incidents/{incident_id}/runbooks/{name}"]["post"]
    assert op["operationId"] == "runIncidentRunbook"
    assert {"202", "403", "404", "422"} <= set(op["responses"])
