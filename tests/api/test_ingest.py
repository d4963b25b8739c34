"""Alert ingest over HTTP, end to end through the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from oncall.api.app import create_api
from oncall.config.configset import ConfigSet, Source
from oncall.config.diagnostics import Position
from oncall.config.models import Integration
from oncall.config.yamlsource import Document
from oncall.db.applied import read_applied
from oncall.db.models import AlertDeliveryRow, IngestReplayRow
from oncall.ingest import limits, replays
from oncall.ingest.auth import hmac_signature
from oncall.reconcile.apply import Origin, apply_config
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


# --- issue 15: SNS from any AWS account (row 2), certificate fetches (row 9) --------------------

OUR_TOPIC = "arn:aws:sns:us-east-1:123456789012:oncall-alarms"
FOREIGN_TOPIC = "arn:aws:sns:us-east-1:666666666666:oncall-alarms"
SNS_HEADERS = {"Content-Type": "text/plain"}


def foreign(message: dict[str, Any]) -> dict[str, Any]:
    """The same message from a topic in another AWS account: what anyone can make SNS send."""
    out = dict(message)
    out["TopicArn"] = FOREIGN_TOPIC
    if "SubscribeURL" in out:
        out["SubscribeURL"] = out["SubscribeURL"].replace(OUR_TOPIC, FOREIGN_TOPIC)
    return out


def test_a_foreign_topics_subscription_is_not_confirmed(api: Any, sns: Any,
                                                        load_payload: Any) -> None:
    message = sns.sign(foreign(load_payload("cloudwatch", "subscription-confirmation")))
    response = api.post("cloudwatch-prod", message, headers=SNS_HEADERS)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == PROBLEM
    assert sns.visited == [] and sns.fetched == []
    assert "integration.subscription_confirmed" not in [e.type for e in api.events()]


def test_a_forged_alarm_from_a_foreign_topic_opens_nothing(api: Any, sns: Any,
                                                           load_payload: Any) -> None:
    alarm = sns.sign(foreign(load_payload("cloudwatch", "alarm")), version="2")
    response = api.post("cloudwatch-prod", alarm, headers=SNS_HEADERS)
    assert response.status_code == 403, response.text
    assert api.stored() == (0, 0, 0)
    assert sns.fetched == []  # refused before any certificate is fetched


def test_a_forged_ok_from_a_foreign_topic_resolves_nothing(api: Any, sns: Any,
                                                           load_payload: Any) -> None:
    accepted(api.post("cloudwatch-prod", sns.sign(load_payload("cloudwatch", "alarm")),
                      headers=SNS_HEADERS))
    forged = sns.sign(foreign(load_payload("cloudwatch", "ok")))
    response = api.post("cloudwatch-prod", forged, headers=SNS_HEADERS)
    assert response.status_code == 403, response.text
    assert statuses(api) == ["triggered"]
    assert api.stored() == (1, 1, 1)


def test_five_unsigned_or_badly_signed_sns_requests_fetch_at_most_one_certificate(
    api: Any, sns: Any, load_payload: Any
) -> None:
    unsigned = load_payload("cloudwatch", "alarm")
    unsigned["SignatureVersion"] = "1"
    for _ in range(5):
        assert api.post("cloudwatch-prod", unsigned, headers=SNS_HEADERS).status_code == 401
    assert sns.fetched == []
    bad = sns.sign(load_payload("cloudwatch", "alarm"))
    bad["Signature"] = base64.b64encode(b"\x01" * 256).decode("ascii")
    for _ in range(5):
        assert api.post("cloudwatch-prod", bad, headers=SNS_HEADERS).status_code == 401
    assert len(sns.fetched) <= 1
    assert api.stored() == (0, 0, 0)


def test_a_cloudwatch_integration_without_topic_arns_refuses_everything(
    make_api: Any, api_engine: Engine, sns: Any, load_payload: Any
) -> None:
    """An applied config from before `topic_arns` existed fails closed: 403, no confirmation."""
    reapply(api_engine, {"name": "cloudwatch-prod", "type": "cloudwatch",
                         "service": "checkout-api"})
    api = make_api()
    for name in ("subscription-confirmation", "alarm"):
        response = api.post("cloudwatch-prod", sns.sign(load_payload("cloudwatch", name)),
                            headers=SNS_HEADERS)
        assert response.status_code == 403, response.text
    assert sns.visited == [] and sns.fetched == [] and api.stored() == (0, 0, 0)


def reapply(engine: Engine, *specs: dict[str, Any]) -> None:
    """The applied config with these integrations added or replaced."""
    with Session(engine) as session:
        config = read_applied(session)
    out = ConfigSet()
    for obj in config.objects.values():
        for item in obj.values():
            if not (isinstance(item, Integration) and item.name in {s["name"] for s in specs}):
                out.add(item, config.source(item))
    for spec in specs:
        obj = Integration.model_validate({"kind": "Integration", **spec})
        out.add(obj, Source(Document("rules/integrations.yaml", None, Position(1, 1))))
    apply_config(engine, out, Origin(actor="tests", source="tests", revision=None,
                                     now=datetime(2026, 11, 25, 11, 0, tzinfo=UTC)))


def _basic(password: str, user: str = "oncall") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {**SNS_HEADERS, "Authorization": f"Basic {token}"}


def test_a_secret_on_a_cloudwatch_integration_is_checked_as_basic_auth(
    make_api: Any, api_engine: Engine, sns: Any, load_payload: Any,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDWATCH_BASIC_SECRET", "cw-s3cret")
    reapply(api_engine, {"name": "cloudwatch-basic", "type": "cloudwatch",
                         "service": "checkout-api", "secret": "${env:CLOUDWATCH_BASIC_SECRET}",
                         "topic_arns": [OUR_TOPIC]})
    api = make_api()
    alarm = sns.sign(load_payload("cloudwatch", "alarm"))
    for headers in (SNS_HEADERS, _basic("wrong"), {**SNS_HEADERS, "Authorization": "Bearer x"}):
        response = api.post("cloudwatch-basic", alarm, headers=headers)
        assert response.status_code == 401, response.text
        # SNS sends the credentials of https://user:secret@host/... only after this challenge
        assert response.headers["www-authenticate"] == 'Basic realm="oncall"'
    assert sns.fetched == [] and api.stored() == (0, 0, 0)
    accepted(api.post("cloudwatch-basic", alarm, headers=_basic("cw-s3cret")))
    # the secret does not replace the signature or the topic
    assert api.post("cloudwatch-basic", sns.sign(foreign(load_payload("cloudwatch", "ok"))),
                    headers=_basic("cw-s3cret")).status_code == 403
    unsigned = dict(alarm)
    del unsigned["Signature"]
    assert api.post("cloudwatch-basic", unsigned, headers=_basic("cw-s3cret")).status_code == 401


# --- issue 15: JSON parsed before authentication, nesting (row 11) ------------------------------

DEEP = b"[" * 200_000


@pytest.mark.parametrize("integration", ["synthetic-checks", "backup-jobs", "prometheus-prod"])
def test_an_anonymous_deep_body_is_401_not_500(api: Any, integration: str) -> None:
    response = api.post(integration, DEEP, token="wrong")
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize("body", [DEEP, b'{"summary": "x", "details": ' + b'{"a": ' * 40
                                  + b"1" + b"}" * 40 + b"}"])
def test_a_deep_body_is_a_400_problem(api: Any, body: bytes) -> None:
    response = api.post("synthetic-checks", body)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "nested deeper than 32" in response.json()["detail"]
    assert api.stored() == (0, 0, 0)


def test_a_deep_sns_body_is_a_400_problem_without_a_fetch(api: Any, sns: Any) -> None:
    response = api.post("cloudwatch-prod", DEEP, headers=SNS_HEADERS)
    assert response.status_code == 400, response.text
    assert sns.fetched == []


# --- issue 15: HMAC replay inside the window (row 12) --------------------------------------------


def signed(api: Any, body: dict[str, Any], age: timedelta) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    ts = str(int((api.clock[0] - age).timestamp()))
    return raw, {"X-Oncall-Timestamp": ts,
                 "X-Oncall-Signature": hmac_signature("backup-hmac-key", ts, raw)}


def test_a_replayed_signed_resolve_does_not_resolve_a_newer_incident(api: Any) -> None:
    trigger = {"summary": "Backup failed", "dedup_key": "nightly"}
    resolve = {"dedup_key": "nightly", "event_action": "resolve"}
    first = signed(api, trigger, timedelta(minutes=4))
    accepted(api.post("backup-jobs", first[0], headers=first[1]))
    captured = signed(api, resolve, timedelta(minutes=3))
    accepted(api.post("backup-jobs", captured[0], headers=captured[1]))
    api.clock[0] += timedelta(minutes=1)  # the captured resolve is now 4 minutes old
    again = signed(api, trigger, timedelta(0))
    newer = accepted(api.post("backup-jobs", again[0], headers=again[1]))["incidents"]
    assert statuses(api) == ["resolved", "triggered"]

    response = api.post("backup-jobs", captured[0], headers=captured[1])  # the replay
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == PROBLEM
    assert statuses(api) == ["resolved", "triggered"]
    assert [i.id for i in api.incidents() if i.status == "triggered"] == newer
    # a replayed trigger, however its signature header is spelled, is refused as well
    headers = dict(again[1])
    headers["X-Oncall-Signature"] = f"sha256=00, {headers['X-Oncall-Signature'].upper()}"
    assert api.post("backup-jobs", again[0], headers=headers).status_code == 409
    assert api.count(AlertDeliveryRow) == 3


def test_a_replayed_signed_trigger_is_refused_on_the_fast_path(api: Any) -> None:
    raw, headers = signed(api, {"summary": "Backup failed", "dedup_key": "fast"}, timedelta(0))
    accepted(api.post("backup-jobs", raw, headers=headers))
    assert api.post("backup-jobs", raw, headers=headers).status_code == 409
    assert api.stored() == (1, 1, 1)
    # a repeat of a firing alert, signed anew, is accepted (and replayed, refused)
    raw2, headers2 = signed(api, {"summary": "Backup failed", "dedup_key": "fast"},
                            timedelta(seconds=1))
    assert accepted(api.post("backup-jobs", raw2, headers=headers2))["outcomes"] == [
        "deduplicated"]
    assert api.post("backup-jobs", raw2, headers=headers2).status_code == 409
    assert api.stored() == (2, 1, 1)


def test_a_signed_request_that_failed_to_store_can_be_retried(api: Any,
                                                              api_engine: Engine) -> None:
    """The claim is in the delivery's own transaction: a 503 keeps no claim, so the sender's
    retry of the very same request is accepted."""
    raw, headers = signed(api, {"summary": "Backup failed", "dedup_key": "retry"},
                          timedelta(seconds=5))
    with deliveries_fail(api_engine):
        assert api.post("backup-jobs", raw, headers=headers).status_code == 503
    assert api.count(IngestReplayRow) == 0
    accepted(api.post("backup-jobs", raw, headers=headers))
    assert api.count(IngestReplayRow) == 1


def test_bearer_deliveries_claim_nothing(api: Any) -> None:
    accepted(api.post("synthetic-checks", {"summary": "s", "dedup_key": "b"}))
    accepted(api.post("synthetic-checks", {"summary": "s", "dedup_key": "b"}))
    assert api.count(IngestReplayRow) == 0


def test_expired_claims_are_purged(api: Any) -> None:
    raw, headers = signed(api, {"summary": "Backup failed", "dedup_key": "p"},
                          timedelta(minutes=4))
    accepted(api.post("backup-jobs", raw, headers=headers))
    assert api.count(IngestReplayRow) == 1
    later = api.clock[0] + timedelta(minutes=2)
    assert replays.Purger.purge(api.engine, later) == 1
    assert api.count(IngestReplayRow) == 0


# --- issue 15: alerts per request and labels per alert (row 15) --------------------------------


def test_an_alertmanager_group_of_1500_alerts_is_refused_quickly(api: Any,
                                                                 load_payload: Any) -> None:
    body = load_payload("alertmanager", "firing")
    template = body["alerts"][0]
    body["alerts"] = [{**template, "fingerprint": f"fp{n}",
                       "labels": {**template["labels"], "n": str(n)}} for n in range(1500)]
    started = time.monotonic()
    response = api.post("prometheus-prod", body)
    assert time.monotonic() - started < 2.0
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == PROBLEM
    assert f"at most {limits.MAX_ALERTS_PER_REQUEST}" in response.json()["detail"]
    assert api.stored() == (0, 0, 0)


def test_an_alert_with_25005_labels_is_refused(api: Any, load_payload: Any) -> None:
    body = load_payload("alertmanager", "firing")
    body["alerts"][0]["labels"].update({f"l{n}": "x" for n in range(25_000)})
    response = api.post("prometheus-prod", body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["invalid-params"][0]["name"] == "alerts[0].labels"
    assert api.stored() == (0, 0, 0)


def test_a_certificate_that_cannot_be_fetched_is_not_fetched_again_at_once(
    make_api: Any, sns: Any, load_payload: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row 9 of issue 15: 5 requests made 5 fetches, each holding a thread for up to 3 s."""
    fetched: list[str] = []

    def unreachable(url: str) -> bytes:
        fetched.append(url)
        raise OSError("HTTP Error 404: Not Found")

    monkeypatch.setattr(sns, "fetch", unreachable)
    api = make_api()
    message = sns.sign(load_payload("cloudwatch", "alarm"))
    for _ in range(5):
        response = api.post("cloudwatch-prod", message, headers=SNS_HEADERS)
        assert response.status_code == 503, response.text
        assert "retry-after" in response.headers
    assert fetched == [message["SigningCertURL"]]
    assert api.stored() == (0, 0, 0)


def test_concurrent_copies_of_one_signed_request_are_accepted_once(live_server: Any) -> None:
    """Through a real server (on PostgreSQL the copies race in separate transactions: the
    second claim waits on the first's unique key, then finds it taken)."""
    import httpx

    raw = json.dumps({"summary": "Backup failed", "dedup_key": "race"}).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Oncall-Timestamp": ts,
               "X-Oncall-Signature": hmac_signature("backup-hmac-key", ts, raw)}

    def send(_: int) -> int:
        with httpx.Client(timeout=60) as client:
            return client.post(f"{live_server.url}/api/v1/integrations/backup-jobs/alerts",
                               content=raw, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        codes = sorted(pool.map(send, range(20)))
    assert codes == [202] + [409] * 19
    with Session(live_server.engine) as session:
        assert session.scalar(select(func.count()).select_from(AlertDeliveryRow)) == 1
