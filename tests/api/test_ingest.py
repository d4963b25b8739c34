"""Alert ingest over HTTP, end to end through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from oncall.api.app import create_api
from oncall.db.models import AlertDeliveryRow
from oncall.ingest.auth import hmac_signature
from oncall.settings import Settings

PROBLEM = "application/problem+json"


def accepted(response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def statuses(api: Any) -> list[str]:
    return [incident.status for incident in api.incidents()]


# --- every provider, end to end ---------------------------------------------------------------

LIFECYCLES = [
    ("prometheus-prod", "alertmanager", ["firing", "resolved"]),
    ("datadog-prod", "datadog", ["triggered", "recovered"]),
    ("newrelic-prod", "newrelic", ["activated", "closed"]),
    ("grafana-prod", "grafana", ["firing", "resolved"]),
]


@pytest.mark.parametrize(("integration", "provider", "steps"), LIFECYCLES,
                         ids=[case[1] for case in LIFECYCLES])
def test_a_provider_triggers_then_resolves_an_incident(
    api: Any, load_payload: Any, integration: str, provider: str, steps: list[str]
) -> None:
    first = accepted(api.post(integration, load_payload(provider, steps[0])))
    assert first["incidents"] and "new" in first["outcomes"]
    incident_id = first["incidents"][0]
    assert api.incidents()[0].status == "triggered"

    second = accepted(api.post(integration, load_payload(provider, steps[1])))
    assert incident_id in second["incidents"]
    resolved = next(i for i in api.incidents() if i.id == incident_id)
    assert resolved.status == "resolved"
    types = [e.type for e in api.events(incident_id)]
    assert types[0] == "incident.triggered" and types[-1] == "incident.resolved"
    assert next(e for e in api.events(incident_id) if e.type == "incident.resolved").actor == (
        f"integration:{integration}")


def test_generic_json_trigger_acknowledge_resolve(api: Any) -> None:
    body = {"summary": "Checkout synthetic failed", "severity": "critical",
            "labels": {"env": "prod", "alertname": "CheckoutJourney"}, "dedup_key": "journey-1"}
    first = accepted(api.post("synthetic-checks", body))
    accepted(api.post("synthetic-checks", {"dedup_key": "journey-1",
                                           "event_action": "acknowledge"}))
    assert statuses(api) == ["acknowledged"]
    accepted(api.post("synthetic-checks", {"dedup_key": "journey-1", "event_action": "resolve"}))
    assert statuses(api) == ["resolved"]
    assert api.incidents()[0].id == first["incidents"][0]


def test_newrelic_acknowledged_state_acknowledges(api: Any, load_payload: Any) -> None:
    accepted(api.post("newrelic-prod", load_payload("newrelic", "activated")))
    body = accepted(api.post("newrelic-prod", load_payload("newrelic", "acknowledged")))
    assert body["outcomes"] == ["acknowledged"]
    assert statuses(api) == ["acknowledged"]


def test_grouped_alertmanager_notification_resolves_only_when_all_alerts_do(
    api: Any, load_payload: Any
) -> None:
    first = accepted(api.post("prometheus-prod", load_payload("alertmanager", "grouped-firing")))
    assert len(first["alerts"]) == 2
    accepted(api.post("prometheus-prod",
                      load_payload("alertmanager", "grouped-partly-resolved")))
    assert "triggered" in statuses(api)


def test_hmac_signed_generic_alert_is_accepted(api: Any, now: datetime) -> None:
    raw = json.dumps({"summary": "Backup failed", "dedup_key": "b1"}).encode()
    ts = str(int(now.timestamp()))
    headers = {"X-Oncall-Timestamp": ts,
               "X-Oncall-Signature": hmac_signature("backup-hmac-key", ts, raw)}
    body = accepted(api.post("backup-jobs", raw, headers=headers))
    assert body["outcomes"] == ["new"]


# --- CloudWatch through SNS -------------------------------------------------------------------


def test_sns_subscription_is_verified_and_confirmed(api: Any, sns: Any, load_payload: Any
                                                    ) -> None:
    message = sns.sign(load_payload("cloudwatch", "subscription-confirmation"))
    response = api.post("cloudwatch-prod", message, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"
    assert sns.visited == [message["SubscribeURL"]]
    assert api.stored() == (0, 0, 0)
    assert [e.type for e in api.events()][-1] == "integration.subscription_confirmed"


def test_cloudwatch_alarm_then_ok_through_signed_sns(api: Any, sns: Any, load_payload: Any
                                                     ) -> None:
    alarm = sns.sign(load_payload("cloudwatch", "alarm"), version="2")
    accepted(api.post("cloudwatch-prod", alarm, headers={"Content-Type": "text/plain"}))
    ok = sns.sign(load_payload("cloudwatch", "ok"))
    accepted(api.post("cloudwatch-prod", ok, headers={"Content-Type": "text/plain"}))
    assert statuses(api) == ["resolved"]
    assert len(sns.fetched) == 1  # the signing certificate is cached


@pytest.mark.parametrize("tamper", ["signature", "cert-url", "subscribe-url", "unsigned"])
def test_sns_messages_that_fail_verification_store_nothing(
    api: Any, sns: Any, load_payload: Any, tamper: str
) -> None:
    name = "subscription-confirmation" if tamper == "subscribe-url" else "alarm"
    message = load_payload("cloudwatch", name)
    if tamper == "subscribe-url":
        message["SubscribeURL"] = "https://evil.example.com/confirm"
    message = sns.sign(message)
    if tamper == "signature":
        message["Message"] = message["Message"].replace("ALARM", "OK")
    elif tamper == "cert-url":
        message["SigningCertURL"] = "https://evil.example.com/cert.pem"
    elif tamper == "unsigned":
        del message["Signature"]
    response = api.post("cloudwatch-prod", message)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert api.stored() == (0, 0, 0)
    assert sns.visited == []


# --- refused requests store nothing -----------------------------------------------------------


@pytest.mark.parametrize(
    ("integration", "headers"),
    [
        ("prometheus-prod", {"Authorization": "Bearer wrong"}),
        ("prometheus-prod", {"Authorization": ""}),
        ("prometheus-prod", {"Authorization": "Basic cHJvbS1zM2NyZXQ="}),
        ("synthetic-checks", {"Authorization": "Bearer prom-s3cret"}),  # another one's secret
        ("backup-jobs", {}),
        ("backup-jobs", {"X-Oncall-Timestamp": "1", "X-Oncall-Signature": "sha256=00"}),
    ],
)
def test_wrong_or_missing_credentials_answer_401_and_store_nothing(
    api: Any, load_payload: Any, integration: str, headers: dict[str, str]
) -> None:
    body = load_payload("generic", "trigger")
    response = api.post(integration, body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 401
    assert api.stored() == (0, 0, 0)


def test_a_replayed_hmac_request_is_refused(api: Any, now: datetime) -> None:
    raw = b'{"summary": "Backup failed"}'
    ts = str(int((now - timedelta(minutes=6)).timestamp()))
    headers = {"X-Oncall-Timestamp": ts,
               "X-Oncall-Signature": hmac_signature("backup-hmac-key", ts, raw)}
    assert api.post("backup-jobs", raw, headers=headers).status_code == 401
    assert api.stored() == (0, 0, 0)


def test_a_missing_secret_in_the_environment_refuses(api: Any, monkeypatch: Any,
                                                     load_payload: Any) -> None:
    monkeypatch.delenv("SYNTHETICS_WEBHOOK_TOKEN")
    response = api.post("synthetic-checks", load_payload("generic", "trigger"))
    assert response.status_code == 401
    assert api.stored() == (0, 0, 0)


def test_unknown_integration_is_404(api: Any) -> None:
    response = api.post("no-such-thing", {"summary": "x"}, token="x")
    assert response.status_code == 404
    assert response.json()["detail"] == "no integration named 'no-such-thing' is applied"


def test_oversized_body_is_413(api: Any) -> None:
    big = json.dumps({"summary": "x", "details": {"blob": "a" * (1024 * 1024)}}).encode()
    response = api.post("synthetic-checks", big)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/payload-too-large")
    assert api.stored() == (0, 0, 0)


def test_oversized_chunked_body_is_413(api: Any) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 32768

    response = api.client.post(
        "/api/v1/integrations/synthetic-checks/alerts", content=chunks(),
        headers={"Authorization": "Bearer synth-s3cret", "Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_wrong_media_type_is_415(api: Any) -> None:
    response = api.post("synthetic-checks", b"summary=x",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert response.headers["content-type"] == PROBLEM
    assert api.stored() == (0, 0, 0)


def test_invalid_json_is_400(api: Any) -> None:
    response = api.post("synthetic-checks", b'{"summary": ')
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("integration", "body", "field"),
    [
        ("synthetic-checks", {"summary": "x", "sevrity": "critical"}, "sevrity"),
        ("synthetic-checks", {"severity": "critical"}, "summary"),
        ("synthetic-checks", [1, 2], "body"),
        ("prometheus-prod", "startsAt=yesterday", "alerts[0].startsAt"),
    ],
)
def test_malformed_payload_is_422_naming_the_field(
    api: Any, load_payload: Any, integration: str, body: Any, field: str
) -> None:
    if body == "startsAt=yesterday":
        body = load_payload("alertmanager", "firing")
        body["alerts"][0]["startsAt"] = "yesterday"
    response = api.post(integration, body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert problem["invalid-params"][0]["name"].startswith(field)
    assert api.stored() == (0, 0, 0)


@pytest.mark.parametrize(("body", "field"), [
    ({"summary": "disk\u0000full"}, "summary"),
    ({"summary": "x", "labels": {"host": "db\u00001"}}, "labels"),
])
def test_a_nul_character_is_422_naming_the_field(api: Any, body: dict[str, Any], field: str
                                                 ) -> None:
    """No database stores U+0000 in text: refused up front, not a 500 half-way through."""
    response = api.post("synthetic-checks", body)
    assert response.status_code == 422, response.text
    assert f"{field} contains a NUL character" in response.json()["detail"]
    assert api.stored() == (0, 0, 0)


def test_every_response_has_a_request_id(api: Any) -> None:
    response = api.client.get("/nowhere", headers={"X-Request-Id": "abc-123"})
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["x-request-id"] == "abc-123"
    assert len(api.client.get("/nowhere").headers["x-request-id"]) == 32


# --- idempotency and order ----------------------------------------------------------------------


def test_a_redelivered_provider_delivery_creates_nothing(api: Any, load_payload: Any) -> None:
    body = load_payload("datadog", "triggered")
    first = accepted(api.post("datadog-prod", body))
    again = accepted(api.post("datadog-prod", body))
    assert again["outcomes"] == ["duplicate"] and again["alerts"] == first["alerts"]
    assert api.stored() == (1, 1, 1)


def test_same_dedup_key_and_state_records_the_delivery_only(api: Any) -> None:
    body = {"summary": "Checkout down", "dedup_key": "k1", "labels": {"env": "prod"}}
    accepted(api.post("synthetic-checks", body))
    again = accepted(api.post("synthetic-checks", body))
    assert again["outcomes"] == ["deduplicated"]
    assert api.stored() == (2, 1, 1)


def test_resolve_before_trigger_ends_resolved(api: Any) -> None:
    t = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    resolve = {"dedup_key": "k2", "event_action": "resolve",
               "occurred_at": (t + timedelta(minutes=5)).isoformat()}
    trigger = {"summary": "Checkout down", "dedup_key": "k2", "occurred_at": t.isoformat()}
    accepted(api.post("synthetic-checks", resolve))
    late = accepted(api.post("synthetic-checks", trigger))
    assert late["outcomes"] == ["stale"]
    assert api.incidents() == []
    assert [a.status for a in api.alerts()] == ["resolved"]


def test_an_older_event_after_a_newer_one_changes_nothing(api: Any) -> None:
    t = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    accepted(api.post("synthetic-checks", {"summary": "s", "dedup_key": "k3",
                                           "occurred_at": t.isoformat()}))
    accepted(api.post("synthetic-checks", {"dedup_key": "k3", "event_action": "resolve",
                                           "occurred_at": (t + timedelta(minutes=9)).isoformat()}))
    old = accepted(api.post("synthetic-checks", {"summary": "s", "dedup_key": "k3",
                                                 "occurred_at": (t + timedelta(minutes=1))
                                                 .isoformat()}))
    assert old["outcomes"] == ["stale"]
    assert statuses(api) == ["resolved"]


def test_a_new_trigger_after_resolution_starts_a_new_incident(api: Any) -> None:
    body = {"summary": "s", "dedup_key": "k4"}
    accepted(api.post("synthetic-checks", body))
    accepted(api.post("synthetic-checks", {"dedup_key": "k4", "event_action": "resolve"}))
    api.clock[0] += timedelta(minutes=1)
    accepted(api.post("synthetic-checks", body))
    assert statuses(api) == ["resolved", "triggered"]


# --- routing outcomes ---------------------------------------------------------------------------


def test_an_alert_in_a_maintenance_window_is_recorded_and_pages_no_one(
    make_api: Any
) -> None:
    # payments-db-upgrade-2026-12: 2026-12-06 01:00-03:30 America/New_York.
    api = make_api(now=datetime(2026, 12, 6, 7, 0, tzinfo=UTC))
    raw = json.dumps({"summary": "Replication lag", "dedup_key": "lag"}).encode()
    ts = str(int(api.clock[0].timestamp()))
    headers = {"X-Oncall-Timestamp": ts,
               "X-Oncall-Signature": hmac_signature("backup-hmac-key", ts, raw)}
    body = accepted(api.post("backup-jobs", raw, headers=headers))
    assert body["outcomes"] == ["suppressed"] and body["incidents"] == []
    (alert,) = api.alerts()
    assert alert.suppressed_reason == "maintenance window payments-db-upgrade-2026-12"
    assert api.incidents() == []
    assert [e.type for e in api.events()][-1] == "alert.suppressed"


def test_a_drop_rule_records_the_alert_and_pages_no_one(api: Any) -> None:
    body = accepted(api.post("synthetic-checks", {"summary": "staging down",
                                                  "labels": {"env": "staging"}}))
    assert body["outcomes"] == ["suppressed"]
    assert api.alerts()[0].suppressed_reason == "dropped by rule drop-non-production"
    assert api.incidents() == []


# --- the database unavailable -------------------------------------------------------------------


def test_unreachable_database_answers_503_with_retry_after(secrets_env: Any) -> None:
    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none",
                           connect_args={"connect_timeout": 1})
    app = create_api(Settings(), engine, check_schema=False, retry_after=7)
    from starlette.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/api/v1/integrations/prometheus-prod/alerts", json={},
                               headers={"Authorization": "Bearer prom-s3cret"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == PROBLEM


@contextmanager
def deliveries_fail(engine: Engine) -> Iterator[None]:
    """Inserting a delivery row fails as if the connection were lost: on PostgreSQL in the
    server (a trigger), so every path sees it; on SQLite in the driver."""
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "CREATE FUNCTION lose_connection() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN RAISE EXCEPTION 'connection lost' USING ERRCODE = '08006'; END $$")
            conn.exec_driver_sql("CREATE TRIGGER lose_connection BEFORE INSERT ON"
                                 " alert_deliveries FOR EACH ROW EXECUTE FUNCTION"
                                 " lose_connection()")
        try:
            yield
        finally:
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP TRIGGER lose_connection ON alert_deliveries")
                conn.exec_driver_sql("DROP FUNCTION lose_connection()")
        return

    def connection_lost(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "INSERT INTO alert_deliveries" in statement:
            raise OperationalError(statement, {}, Exception("connection lost"))

    event.listen(engine, "before_cursor_execute", connection_lost)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", connection_lost)


@pytest.mark.parametrize("action", ["trigger", "resolve"])
def test_a_failure_before_commit_answers_503_and_keeps_nothing(
    api: Any, api_engine: Engine, action: str
) -> None:
    """The delivery row is the last write of every path: failing it fails the whole delivery."""
    with deliveries_fail(api_engine):
        response = api.post("synthetic-checks", {"summary": "Checkout down", "dedup_key": "x",
                                                 "event_action": action})
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert api.stored() == (0, 0, 0)
    assert api.count(AlertDeliveryRow) == 0
