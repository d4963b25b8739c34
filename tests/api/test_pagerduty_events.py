"""PagerDuty's Events API v2 on SQLite and PostgreSQL, with PagerDuty's published example
payloads (tests/fixtures/pagerduty_events): PagerDuty's answers, and the incident states
PagerDuty would show (triggered → acknowledged → resolved; a repeat joins the same incident).
A bad event is PagerDuty's 400 `invalid event` with its errors; a wrong routing key stores
nothing."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet, Source
from oncall.config.diagnostics import Position
from oncall.config.models import Integration
from oncall.config.yamlsource import Document
from oncall.db.models import AlertDeliveryRow, ChangeEventRow, IncidentRow, ServiceRow
from oncall.reconcile.apply import Origin, apply_config

from .conftest import NOW, Api, with_integrations

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PAGERDUTY_KEY = "samplekeyhere"
"""The routing key of PagerDuty's documented examples, the secret of `pagerduty-prod`."""
OTHER_PAGERDUTY_KEY = "0123456789abcdef0123456789abcdef"
GENIE_KEY = "eb243592-faa2-4ba2-a551-1afdf565c889"
VENDOR_SECRETS = {"PAGERDUTY_ROUTING_KEY": PAGERDUTY_KEY,
                  "PAGERDUTY_PAYMENTS_KEY": OTHER_PAGERDUTY_KEY,
                  "OPSGENIE_API_KEY": GENIE_KEY}
VENDOR_INTEGRATIONS = [
    {"name": "pagerduty-prod", "type": "pagerduty", "service": "checkout-api",
     "secret": "${env:PAGERDUTY_ROUTING_KEY}"},
    {"name": "pagerduty-payments", "type": "pagerduty", "service": "payments-db",
     "secret": "${env:PAGERDUTY_PAYMENTS_KEY}"},
    {"name": "opsgenie-prod", "type": "opsgenie", "service": "checkout-api",
     "secret": "${env:OPSGENIE_API_KEY}"},
]


def fixture(folder: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / folder / f"{name}.json").read_text("utf-8"))
    return data


def with_vendor_integrations(config: ConfigSet) -> ConfigSet:
    out = with_integrations(config)
    for spec in VENDOR_INTEGRATIONS:
        obj = Integration.model_validate({"kind": "Integration", **spec})
        out.add(obj, Source(Document("rules/integrations.yaml", None, Position(1, 1))))
    return out


@pytest.fixture
def api_engine(migrated_engine: Engine, example_config: ConfigSet) -> Engine:
    """The api fixtures' organisation plus PagerDuty and Opsgenie integrations."""
    origin = Origin(actor="tests", source="tests", revision=None, now=NOW - timedelta(days=1))
    apply_config(migrated_engine, with_vendor_integrations(example_config), origin)
    return migrated_engine


@pytest.fixture
def vendor_api(make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API with the PagerDuty and Opsgenie keys in the environment."""
    for name, value in VENDOR_SECRETS.items():
        monkeypatch.setenv(name, value)
    yield make_api()


def enqueue(api: Api, body: Any, path: str = "/v2/enqueue") -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.client.post(path, content=raw, headers={"Content-Type": "application/json"})


def incident_states(api: Api) -> list[tuple[str, str]]:
    return [(i.status, i.title) for i in api.incidents()]


def critical(name: str) -> dict[str, Any]:
    """A documented example at severity critical: the example organisation's `drop-info`
    routing rule keeps the examples' `info` out of incidents."""
    body = fixture("pagerduty_events", name)
    body["payload"] = {**body["payload"], "severity": "critical"}
    return body


def test_the_info_example_is_recorded_and_dropped_by_the_routing_rules(vendor_api: Api
                                                                       ) -> None:
    response = enqueue(vendor_api, fixture("pagerduty_events", "trigger"))
    assert response.status_code == 202, response.text
    [alert] = vendor_api.alerts()
    assert (alert.severity, alert.routing_rule_name, alert.incident_id) == (
        "info", "drop-info", None)


def test_pagerdutys_examples_trigger_repeat_acknowledge_resolve(vendor_api: Api) -> None:
    api = vendor_api
    trigger = critical("trigger")
    first = enqueue(api, trigger)
    assert first.status_code == 202, first.text
    assert first.json() == {"status": "success", "message": "Event processed",
                            "dedup_key": "samplekeyhere"}
    [incident] = api.incidents()
    assert incident.status == "triggered"
    [alert] = api.alerts()
    assert (alert.integration_name, alert.summary, alert.severity, alert.source) == (
        "pagerduty-prod", "Example alert on host1.example.com", "critical",
        "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003")
    assert alert.occurred_at is not None
    assert alert.occurred_at.astimezone(UTC) == datetime(2015, 7, 17, 8, 42, 58, 315000,
                                                         tzinfo=UTC)

    repeat = enqueue(api, trigger)
    assert repeat.status_code == 202 and repeat.json()["dedup_key"] == "samplekeyhere"
    assert [i.id for i in api.incidents()] == [incident.id]  # the repeat joined it
    assert len(api.alerts()) == 1

    ack = enqueue(api, fixture("pagerduty_events", "acknowledge"))
    assert ack.status_code == 202, ack.text
    assert ack.json() == {"status": "success", "message": "Event processed",
                          "dedup_key": "samplekeyhere"}
    assert [i.status for i in api.incidents()] == ["acknowledged"]

    resolve = enqueue(api, fixture("pagerduty_events", "resolve"))
    assert resolve.status_code == 202
    assert [i.status for i in api.incidents()] == ["resolved"]

    later = {**trigger, "payload": {**trigger["payload"],
                                    "timestamp": "2026-11-25T12:00:00.000+0000"}}
    again = enqueue(api, later)  # after the resolve: a new incident, as PagerDuty does
    assert again.status_code == 202
    assert [i.status for i in api.incidents()] == ["resolved", "triggered"]


def test_a_trigger_without_dedup_key_gets_one_and_it_resolves(vendor_api: Api) -> None:
    api = vendor_api
    body = critical("trigger-without-dedup-key")
    first = enqueue(api, body)
    second = enqueue(api, body)
    assert first.status_code == second.status_code == 202
    keys = [first.json()["dedup_key"], second.json()["dedup_key"]]
    assert len(set(keys)) == 2 and all(len(k) == 32 for k in keys)
    assert len(api.alerts()) == 2  # each is a new alert, as in PagerDuty
    resolve = {"routing_key": PAGERDUTY_KEY, "event_action": "resolve", "dedup_key": keys[0]}
    assert enqueue(api, resolve).status_code == 202
    assert sorted(a.status for a in api.alerts()) == ["firing", "resolved"]


def test_acknowledge_or_resolve_of_an_unknown_dedup_key_is_accepted_and_ignored(
        vendor_api: Api) -> None:
    api = vendor_api
    for name in ("acknowledge", "resolve"):
        response = enqueue(api, fixture("pagerduty_events", name))
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "success"
    assert api.count(IncidentRow) == 0
    assert {a.status for a in api.alerts()} <= {"resolved"}  # nothing firing, nobody paged


def test_the_routing_key_chooses_the_integration_and_its_service(vendor_api: Api) -> None:
    api = vendor_api
    trigger = {**critical("trigger"), "routing_key": OTHER_PAGERDUTY_KEY}
    assert enqueue(api, trigger).status_code == 202
    [alert] = api.alerts()
    with Session(api.engine) as session:
        service = session.get(ServiceRow, alert.service_id)
        assert (alert.integration_name, service and service.name) == (
            "pagerduty-payments", "payments-db")


@pytest.mark.parametrize("routing_key", [
    "0123456789abcdef0123456789abcdee",  # well formed, unknown
    "samplekeyher",  # a prefix of a real key
    "synth-s3cret",  # another type's secret
    "",
    None,
])
def test_a_wrong_routing_key_is_refused_and_stores_nothing(vendor_api: Api,
                                                           routing_key: str | None) -> None:
    api = vendor_api
    for name in ("trigger", "change"):
        body = fixture("pagerduty_events", name)
        body["routing_key"] = routing_key
        path = "/v2/change/enqueue" if name == "change" else "/v2/enqueue"
        response = enqueue(api, body, path)
        assert response.status_code == 400, response.text
        answer = response.json()
        assert (answer["status"], answer["message"]) == ("invalid event",
                                                         "Event object is invalid")
        assert answer["errors"] == (["Invalid routing key"] if routing_key
                                    else ["'routing_key' is missing or blank"])
    assert api.stored() == (0, 0, 0)
    assert api.count(ChangeEventRow) == 0


@pytest.mark.parametrize(("change", "errors"), [
    ({"payload": {"summary": "   "}}, ["'payload.summary' is missing or blank"]),
    ({"payload": {"severity": "high"}},
     ["'payload.severity' is invalid (expected critical, error, warning or info)"]),
    ({"payload": {"summary": None, "source": ""}},
     ["'payload.summary' is missing or blank", "'payload.source' is missing or blank"]),
    ({"event_action": "escalate"},
     ["'event_action' is invalid (expected trigger, acknowledge or resolve)"]),
    ({"dedup_key": 7}, ["'dedup_key' must be a string"]),
    ({"event_action": "acknowledge", "dedup_key": None}, ["'dedup_key' is missing or blank"]),
    ({"event_action": "resolve", "dedup_key": ""}, ["'dedup_key' is missing or blank"]),
    ({"payload": {"timestamp": "tomorrow"}},
     ["'payload.timestamp' is not a valid ISO 8601 timestamp"]),
])
def test_an_invalid_event_is_400_invalid_event_with_errors(vendor_api: Api, change: Any,
                                                           errors: list[str]) -> None:
    api = vendor_api
    body = fixture("pagerduty_events", "trigger")
    for key, value in change.items():
        body[key] = {**body[key], **value} if key == "payload" else value
    response = enqueue(api, body)
    assert response.status_code == 400, response.text
    assert response.json() == {"status": "invalid event", "message": "Event object is invalid",
                               "errors": errors}
    assert api.stored() == (0, 0, 0)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
def test_a_body_that_is_no_event_is_400(vendor_api: Api, raw: bytes) -> None:
    response = enqueue(vendor_api, raw)
    assert response.status_code == 400
    assert response.json()["status"] == "invalid event"
    assert vendor_api.stored() == (0, 0, 0)


def test_the_change_event_example_is_stored_against_the_service(vendor_api: Api) -> None:
    api = vendor_api
    response = enqueue(api, fixture("pagerduty_events", "change"), "/v2/change/enqueue")
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "success", "message": "Change event processed"}
    with Session(api.engine) as session:
        row, service = session.execute(
            select(ChangeEventRow, ServiceRow.name)
            .join(ServiceRow, ServiceRow.id == ChangeEventRow.service_id)).one()
        assert (row.integration_name, service, row.summary, row.source) == (
            "pagerduty-prod", "checkout-api",
            "Build Success: Increase snapshot create timeout to 30 seconds",
            "acme-build-pipeline-tool-default-i-9999")
        assert row.links == [{"href": "https://acme.pagerduty.dev/build/2",
                              "text": "View more details in Acme!"}]
        assert row.details == {"build_state": "passed", "build_number": "2",
                               "run_time": "1236s"}
        assert row.occurred_at.astimezone(UTC) == datetime(2020, 7, 17, 8, 42, 58, 315000,
                                                           tzinfo=UTC)
    assert api.stored() == (0, 0, 0)  # a change pages nobody


def test_an_invalid_change_event_is_400_naming_the_field(vendor_api: Api) -> None:
    body = {"routing_key": PAGERDUTY_KEY, "payload": {"source": "ci"}}
    response = enqueue(vendor_api, body, "/v2/change/enqueue")
    assert response.status_code == 400
    assert response.json()["errors"] == ["'payload.summary' Field required"]
    assert vendor_api.count(ChangeEventRow) == 0


def test_the_integrations_own_url_takes_events_with_its_own_key(vendor_api: Api) -> None:
    api = vendor_api
    trigger = critical("trigger")
    url = "/api/v1/integrations/pagerduty-prod/alerts"
    other = enqueue(api, {**trigger, "routing_key": OTHER_PAGERDUTY_KEY}, url)
    assert other.status_code == 400
    assert other.json()["errors"] == ["Invalid routing key"]
    assert api.stored() == (0, 0, 0)
    accepted = enqueue(api, trigger, url)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json() == {"status": "success", "message": "Event processed",
                               "dedup_key": "samplekeyhere"}
    ack = enqueue(api, fixture("pagerduty_events", "acknowledge"), "/v2/enqueue")
    assert ack.status_code == 202  # the same integration, whichever URL it came in on
    assert [i.status for i in api.incidents()] == ["acknowledged"]
    assert api.count(AlertDeliveryRow) == 2


def test_two_integrations_holding_the_same_key_are_named_in_the_log(
        make_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    for name in VENDOR_SECRETS:
        monkeypatch.setenv(name, PAGERDUTY_KEY)  # validate sees only the variables' names
    api = make_api()
    response = enqueue(api, critical("trigger"))
    assert response.status_code == 202, response.text
    assert [a.integration_name for a in api.alerts()] == ["pagerduty-payments"]
    assert ("integrations pagerduty-payments and pagerduty-prod hold the same key: its events "
            "go to pagerduty-payments only") in caplog.text
