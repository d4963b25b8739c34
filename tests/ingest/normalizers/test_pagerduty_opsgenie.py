"""The PagerDuty and Opsgenie normalisers: PagerDuty's rules on required fields (answered in
its words), its timestamp forms, severities and dedup keys; Opsgenie's priorities, tags,
aliases and its 422 field map. The golden payloads are in tests/ingest/payloads/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from oncall.ingest.normalizers import PayloadError, normalize
from oncall.ingest.normalizers.opsgenie import acted, with_alias
from oncall.ingest.normalizers.pagerduty import with_dedup_key

RECEIVED_AT = datetime(2026, 11, 24, 4, 10, tzinfo=UTC)
TRIGGER: dict[str, Any] = {
    "routing_key": "k", "event_action": "trigger", "dedup_key": "disk-db-1",
    "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical"},
}


def _with(event: dict[str, Any], **payload: Any) -> dict[str, Any]:
    return {**event, "payload": {**event["payload"], **payload}}


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2015-07-17T08:42:58.315+0000", datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)),
    ("2015-07-17T10:42:58+02:00", datetime(2015, 7, 17, 8, 42, 58, tzinfo=UTC)),
    ("2015-07-17T08:42:58Z", datetime(2015, 7, 17, 8, 42, 58, tzinfo=UTC)),
    ("2015-07-17T08:42:58", datetime(2015, 7, 17, 8, 42, 58, tzinfo=UTC)),  # no offset: UTC
    (None, RECEIVED_AT),
])
def test_pagerduty_timestamps_in_its_forms(stamp: str | None, expected: datetime) -> None:
    event = _with(TRIGGER, timestamp=stamp) if stamp else TRIGGER
    [alert] = normalize("pagerduty", event, RECEIVED_AT)
    assert alert.occurred_at == expected


@pytest.mark.parametrize(("event", "errors"), [
    ({**TRIGGER, "event_action": None}, ["'event_action' is missing or blank"]),
    ({**TRIGGER, "event_action": "escalate"},
     ["'event_action' is invalid (expected trigger, acknowledge or resolve)"]),
    ({k: v for k, v in TRIGGER.items() if k != "payload"}, ["'payload' is missing or blank"]),
    (_with(TRIGGER, summary=" ", source="", severity=None),
     ["'payload.summary' is missing or blank", "'payload.source' is missing or blank",
      "'payload.severity' is missing or blank"]),
    (_with(TRIGGER, severity="high"),
     ["'payload.severity' is invalid (expected critical, error, warning or info)"]),
    (_with(TRIGGER, timestamp="last tuesday"),
     ["'payload.timestamp' is not a valid ISO 8601 timestamp"]),
    ({**TRIGGER, "dedup_key": "x" * 256}, ["'dedup_key' is longer than 255 characters"]),
    ({"event_action": "resolve"}, ["'dedup_key' is missing or blank"]),
    ({**TRIGGER, "links": [{"text": "no href"}]}, ["'links' has an entry without 'href'"]),
])
def test_pagerduty_invalid_events_name_every_problem(event: dict[str, Any],
                                                     errors: list[str]) -> None:
    with pytest.raises(PayloadError) as caught:
        normalize("pagerduty", event, RECEIVED_AT)
    assert [reason for _, reason in caught.value.problems] == errors
    assert caught.value.status == 400


def test_pagerduty_acknowledge_and_resolve_need_only_the_dedup_key() -> None:
    for action in ("acknowledge", "resolve"):
        [alert] = normalize("pagerduty", {"routing_key": "k", "event_action": action,
                                          "dedup_key": "disk-db-1"}, RECEIVED_AT)
        assert (alert.action, alert.dedup_key, alert.occurred_at) == (
            action, "disk-db-1", RECEIVED_AT)


def test_pagerduty_a_trigger_without_dedup_key_gets_the_one_given() -> None:
    event = {k: v for k, v in TRIGGER.items() if k != "dedup_key"}
    filled, key = with_dedup_key(event, "generated")
    assert key == "generated" and "dedup_key" not in event
    [alert] = normalize("pagerduty", filled, RECEIVED_AT)
    assert alert.dedup_key == "generated"
    assert with_dedup_key(TRIGGER, "generated") == (TRIGGER, "disk-db-1")


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_pagerduty_an_acknowledge_or_resolve_without_dedup_key_is_refused(action: str) -> None:
    event = {"routing_key": "k", "event_action": action}
    filled, key = with_dedup_key(event, "generated")
    assert (filled, key) == (event, "")
    with pytest.raises(PayloadError) as caught:
        normalize("pagerduty", filled, RECEIVED_AT)
    assert [field for field, _ in caught.value.problems] == ["dedup_key"]


def test_pagerduty_labels_let_routing_rules_match_pd_cef_fields() -> None:
    event = _with(TRIGGER, component="mysql", group="prod-db", **{"class": "disk"})
    [alert] = normalize("pagerduty", event, RECEIVED_AT)
    assert dict(alert.labels) == {"source": "db-1", "component": "mysql", "group": "prod-db",
                                  "class": "disk", "severity": "critical"}
    assert (alert.severity, alert.source, alert.summary) == ("critical", "db-1",
                                                             "Disk full on db-1")


@pytest.mark.parametrize(("priority", "severity"), [
    ("P1", "critical"), ("P2", "error"), ("P3", "warning"), ("P4", "info"), ("P5", "info"),
    (None, "warning"),
])
def test_opsgenie_priorities(priority: str | None, severity: str) -> None:
    body = {"message": "Disk full", "alias": "disk", **({"priority": priority} if priority
                                                         else {})}
    [alert] = normalize("opsgenie", body, RECEIVED_AT)
    assert (alert.severity, alert.labels["priority"]) == (severity, priority or "P3")


@pytest.mark.parametrize(("body", "errors"), [
    ({"alias": "a"}, {"message": "Message can not be empty."}),
    ({"message": "  ", "priority": "P9"},
     {"message": "Message can not be empty.",
      "priority": "should be one of [P1, P2, P3, P4, P5]"}),
    ({"message": "m", "alias": "a", "tags": "env:prod"},
     {"tags": "tags must be a list of strings"}),
    ({"message": "m", "alias": "a", "details": ["x"]},
     {"details": "details must be a map of strings"}),
])
def test_opsgenie_unprocessable_bodies_name_the_fields(body: dict[str, Any],
                                                       errors: dict[str, str]) -> None:
    with pytest.raises(PayloadError) as caught:
        normalize("opsgenie", body, RECEIVED_AT)
    assert dict(caught.value.problems) == errors


def test_opsgenie_alias_is_the_dedup_key_and_made_up_when_absent() -> None:
    filled, alias = with_alias({"message": "m"}, "new-alias")
    assert alias == "new-alias"
    [alert] = normalize("opsgenie", filled, RECEIVED_AT)
    assert alert.dedup_key == "new-alias"
    assert with_alias({"message": "m", "alias": "kept"}, "new")[1] == "kept"


def test_opsgenie_acknowledge_and_close_act_on_the_alias() -> None:
    ack = acted("disk", "acknowledge", {"user": "ops", "note": "looking", "x": 1}, RECEIVED_AT)
    close = acted("disk", "close", {}, RECEIVED_AT)
    assert (ack.action, ack.dedup_key, dict(ack.details)) == (
        "acknowledge", "disk", {"user": "ops", "note": "looking"})
    assert (close.action, close.dedup_key) == ("resolve", "disk")
