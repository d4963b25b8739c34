"""Change events on SQLite and PostgreSQL: authenticated exactly as the integration's alerts
(bearer, HMAC with its replay guard; an SNS-only integration refused), PagerDuty's shape
checked with 400 problems naming the field, stored against the integration's service, and
shown on the timeline of a postmortem of that service's incidents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.engine import write_connection, write_session
from oncall.db.models import ChangeEventRow, ServiceRow
from oncall.incidents.actors import Actor
from oncall.ingest.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, hmac_signature
from oncall.postmortems import service
from oncall.testing.incidents import open_incident

from .conftest import NOW, SECRETS, Api

DEPLOY = {
    "routing_key": "ignored-here",
    "payload": {"summary": "Deploy checkout-api v2.14.0", "timestamp": "2026-11-25T11:30:00Z",
                "source": "github-actions", "custom_details": {"sha": "abc1234", "by": "dana"}},
    "links": [{"href": "https://github.example/northwind/checkout/pull/7", "text": "PR #7"}],
}


def post(api: Api, integration: str, body: Any, headers: dict[str, str] | None = None,
         token: str | None = "synth-s3cret") -> httpx.Response:
    sent = {"Content-Type": "application/json", **(headers or {})}
    if token is not None:
        sent.setdefault("Authorization", f"Bearer {token}")
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.client.post(f"/api/v1/integrations/{integration}/changes", content=raw,
                           headers=sent)


def stored(api: Api) -> list[tuple[Any, ...]]:
    with Session(api.engine) as session:
        rows = session.execute(
            select(ChangeEventRow, ServiceRow.name)
            .outerjoin(ServiceRow, ServiceRow.id == ChangeEventRow.service_id)
            .order_by(ChangeEventRow.id)).all()
        return [(c.integration_name, name, c.summary, c.source, c.links, c.details,
                 c.occurred_at.astimezone(UTC), c.received_at.astimezone(UTC))
                for c, name in rows]


def test_a_change_is_stored_against_the_integrations_service(api: Api) -> None:
    response = post(api, "synthetic-checks", DEPLOY)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted"
    assert stored(api) == [(
        "synthetic-checks", "checkout-api", "Deploy checkout-api v2.14.0", "github-actions",
        [{"href": "https://github.example/northwind/checkout/pull/7", "text": "PR #7"}],
        {"sha": "abc1234", "by": "dana"}, datetime(2026, 11, 25, 11, 30, tzinfo=UTC), NOW)]
    assert response.json()["id"] == api.count(ChangeEventRow)


def test_without_a_timestamp_it_happened_when_received_and_naive_is_utc(api: Api) -> None:
    assert post(api, "synthetic-checks", {"payload": {"summary": "Flag on"}}).status_code == 202
    naive = {"payload": {"summary": "Flag off", "timestamp": "2026-11-25T10:00:00"}}
    assert post(api, "synthetic-checks", naive).status_code == 202
    assert [(row[2], row[4], row[5], row[6]) for row in stored(api)] == [
        ("Flag on", [], None, NOW),
        ("Flag off", [], None, datetime(2026, 11, 25, 10, 0, tzinfo=UTC))]


@pytest.mark.parametrize(("integration", "token", "status"), [
    ("synthetic-checks", None, 401),
    ("synthetic-checks", "wrong", 401),
    ("synthetic-checks", "prom-s3cret", 401),  # another integration's secret
    ("cloudwatch-prod", "anything", 401),  # its alerts come signed by SNS: no changes
    ("backup-jobs", SECRETS["BACKUP_HMAC_SECRET"], 401),  # signs with HMAC, not a bearer
    ("nope", "synth-s3cret", 404),
])
def test_credentials_are_checked_as_for_alerts(api: Api, integration: str, token: str | None,
                                               status: int) -> None:
    response = post(api, integration, DEPLOY, token=token)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert stored(api) == []


def test_a_signed_change_is_accepted_once(api: Api) -> None:
    raw = json.dumps(DEPLOY).encode()
    stamp = str(int(NOW.timestamp()))
    headers = {TIMESTAMP_HEADER: stamp,
               SIGNATURE_HEADER: hmac_signature(SECRETS["BACKUP_HMAC_SECRET"], stamp, raw)}
    first = post(api, "backup-jobs", raw, headers=headers, token=None)
    assert first.status_code == 202, first.text
    replay = post(api, "backup-jobs", raw, headers=headers, token=None)
    assert replay.status_code == 409
    tampered = post(api, "backup-jobs", raw.replace(b"v2.14.0", b"v6.66.6"), headers=headers,
                    token=None)
    assert tampered.status_code == 401
    assert [(row[0], row[1]) for row in stored(api)] == [("backup-jobs", "payments-db")]


@pytest.mark.parametrize(("body", "name"), [
    ({"payload": {"source": "ci"}}, "payload.summary"),
    ({"payload": {"summary": "   "}}, "payload.summary"),
    ({"payload": {"summary": "x" * 1025}}, "payload.summary"),
    ({"payload": {"summary": "x", "timestamp": "yesterday"}}, "payload.timestamp"),
    ({"payload": {"summary": "x", "timestamp": 1764068400}}, "payload.timestamp"),
    ({"payload": {"summary": "x", "severity": "info"}}, "payload.severity"),
    ({"payload": {"summary": "x"}, "links": [{"href": "javascript:alert(1)"}]}, "links.0.href"),
    ({"payload": {"summary": "x"}, "links": [{"text": "no href"}]}, "links.0.href"),
    ({"payload": {"summary": "x", "custom_details": {"k": "a\x00b"}}}, "body"),
    ({"summary": "x"}, "payload"),
    (["not", "an", "object"], "body"),
])
def test_a_bad_body_is_a_400_naming_the_field(api: Api, body: Any, name: str) -> None:
    response = post(api, "synthetic-checks", body)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert name in [p["name"] for p in problem["invalid-params"]], problem
    assert stored(api) == []


def test_not_json_is_a_400_and_another_media_type_a_415(api: Api) -> None:
    assert post(api, "synthetic-checks", b"{nope").status_code == 400
    assert post(api, "synthetic-checks", DEPLOY,
                headers={"Content-Type": "text/plain"}).status_code == 415
    assert stored(api) == []


def test_a_change_appears_on_the_timeline_of_a_postmortem_of_its_service(api: Api) -> None:
    started = NOW - timedelta(minutes=20)
    with write_session(api.engine) as session:
        incident = open_incident(session, service="checkout-api", title="Checkout errors",
                                 now=started, page=False)
    before = {"payload": {"summary": "Deploy v2.14.0", "source": "ci",
                          "timestamp": (started - timedelta(minutes=10)).isoformat()}}
    long_before = {"payload": {"summary": "Deploy v2.13.0",
                               "timestamp": (started - timedelta(hours=7)).isoformat()}}
    elsewhere = {"payload": {"summary": "Rotate storefront certs",
                             "timestamp": (started - timedelta(minutes=5)).isoformat()}}
    change = post(api, "synthetic-checks", before).json()["id"]
    assert post(api, "synthetic-checks", long_before).status_code == 202
    assert post(api, "datadog-prod", elsewhere, token="dd-s3cret").status_code == 202
    config = api.app.state.ctx.process.config()
    admin = Actor("user", "priya.raman@northwind.example", {"payments": "admin"}, via="api")
    with write_connection(api.engine) as conn:
        opened = service.open_postmortem(conn, config, admin, [incident], NOW)
        timeline = service.view(conn, config, admin, opened.id, NOW).timeline
    changes = [(e.key, e.text, e.kept, e.actor) for e in timeline if e.key.startswith("change:")]
    assert changes == [(f"change:{change}", "Change on checkout-api: Deploy v2.14.0 (ci)", True,
                        "integration:synthetic-checks")]
    assert timeline[0].key == f"change:{change}"  # before the incident opened
