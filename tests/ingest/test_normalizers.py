"""Contract tests: every golden provider payload normalises to its `*.expected.json`.

Regenerate the expected files after an intended change with `UPDATE_GOLDEN=1 pytest ...` and
review the diff: it is the user-visible mapping of each provider.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from oncall.core.alerts import fingerprint
from oncall.ingest.normalizers import NORMALIZERS, PayloadError, normalize
from oncall.ingest.normalizers.cloudwatch import sns_envelope
from oncall.ingest.normalizers.datadog import TEMPLATE as DATADOG_TEMPLATE
from oncall.ingest.normalizers.newrelic import TEMPLATE as NEWRELIC_TEMPLATE
from oncall.testing import golden

PAYLOADS = Path(__file__).parent / "payloads"
RECEIVED_AT = datetime(2026, 11, 24, 4, 10, tzinfo=UTC)

CASES = sorted(
    p for p in PAYLOADS.glob("*/*.json") if not p.name.endswith(".expected.json")
)


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


@pytest.mark.parametrize("path", CASES, ids=_id)
def test_golden(path: Path) -> None:
    payload = json.loads(path.read_text(encoding="utf-8"))
    alerts = normalize(path.parent.name, payload, RECEIVED_AT)
    got = [a.to_json() for a in alerts]
    golden.check(path.with_suffix(".expected.json"),
                 json.dumps(got, indent=2, ensure_ascii=False) + "\n")


def test_every_provider_has_golden_payloads() -> None:
    assert {p.parent.name for p in CASES} == set(NORMALIZERS)


def _load(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text(encoding="utf-8"))


def test_alertmanager_group_becomes_one_alert_per_member_with_own_status() -> None:
    alerts = normalize("alertmanager", _load("alertmanager/grouped-partly-resolved.json"),
                       RECEIVED_AT)
    assert [(a.dedup_key, a.action) for a in alerts] == [
        ("410cfd8c3b4fc989", "resolve"),
        ("074bafae1a8315b6", "trigger"),
    ]


def test_trigger_and_resolve_share_the_dedup_key() -> None:
    pairs = [
        ("alertmanager", "firing", "resolved"),
        ("grafana", "firing", "resolved"),
        ("datadog", "triggered", "recovered"),
        ("newrelic", "activated", "closed"),
        ("cloudwatch", "alarm", "ok"),
        ("generic", "trigger", "resolve"),
    ]
    for provider, opened, closed in pairs:
        [first, *_] = normalize(provider, _load(f"{provider}/{opened}.json"), RECEIVED_AT)
        [last, *_] = normalize(provider, _load(f"{provider}/{closed}.json"), RECEIVED_AT)
        assert (first.action, last.action) == ("trigger", "resolve"), provider
        assert first.dedup_key == last.dedup_key, provider
        assert first.occurred_at <= last.occurred_at or provider == "generic", provider


def test_alertmanager_without_fingerprint_uses_label_fingerprint() -> None:
    payload = _load("alertmanager/firing.json")
    del payload["alerts"][0]["fingerprint"]
    [alert] = normalize("alertmanager", payload, RECEIVED_AT)
    assert alert.dedup_key == fingerprint(payload["alerts"][0]["labels"])


def test_fingerprint_ignores_label_order() -> None:
    assert fingerprint({"a": "1", "b": "2"}) == fingerprint({"b": "2", "a": "1"})
    assert fingerprint({"a": "1", "b": "2"}) != fingerprint({"a": "1", "b": "3"})
    assert fingerprint({"a": "1,b"}) != fingerprint({"a": "1", "b": ""})


def test_resolved_alertmanager_alert_with_zero_end_time_uses_receipt_time() -> None:
    payload = _load("alertmanager/resolved.json")
    payload["alerts"][0]["endsAt"] = "0001-01-01T00:00:00Z"
    [alert] = normalize("alertmanager", payload, RECEIVED_AT)
    assert alert.occurred_at == RECEIVED_AT


def test_sns_subscription_confirmation_is_recognised() -> None:
    payload = _load("cloudwatch/subscription-confirmation.json")
    envelope = sns_envelope(payload)
    assert envelope.type == "SubscriptionConfirmation"
    assert envelope.subscribe_url.startswith("https://sns.us-east-1.amazonaws.com/")
    assert normalize("cloudwatch", payload, RECEIVED_AT) == []
    unsubscribe = dict(payload, Type="UnsubscribeConfirmation")
    assert sns_envelope(unsubscribe).type == "UnsubscribeConfirmation"
    assert not sns_envelope(unsubscribe).is_notification


def test_generic_defaults_time_to_receipt() -> None:
    [alert] = normalize("generic", _load("generic/minimal.json"), RECEIVED_AT)
    assert alert.occurred_at == RECEIVED_AT
    assert alert.labels["severity"] == "error"


@pytest.mark.parametrize(
    ("template", "variables"),
    [
        (DATADOG_TEMPLATE, ["$ALERT_TRANSITION", "$AGGREG_KEY", "$ID", "$TAGS", "$DATE"]),
        (NEWRELIC_TEMPLATE, ["issueId", "state", "priority", "issuePageUrl"]),
    ],
)
def test_documented_templates_name_what_the_normalisers_read(
    template: str, variables: list[str]
) -> None:
    for variable in variables:
        assert variable in template
    doc = (Path(__file__).parents[2] / "docs" / "integrations.md").read_text(encoding="utf-8")
    assert template.strip() in doc


def _mutate(name: str, change: Any) -> Any:
    payload = _load(name)
    change(payload)
    return payload


def _set(path: list[str | int], value: Any) -> Any:
    def change(payload: Any) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


_DELETE = object()

MALFORMED: list[tuple[str, Any, str, str]] = [
    ("generic", {"summary": "x", "sevrity": "critical"}, "sevrity", "unknown field"),
    ("generic", {"summary": "x", "severity": "urgent"}, "severity", "critical"),
    ("generic", {"summary": "x", "event_action": "close"}, "event_action", "trigger"),
    ("generic", {"severity": "critical"}, "summary", "required"),
    ("generic", {"summary": "x", "occurred_at": "2026-11-24T04:00:00"}, "occurred_at",
     "timezone"),
    ("generic", {"summary": "x", "labels": {"env": 3}}, "labels.env", "string"),
    ("generic", {"summary": "x", "labels": {"my-label": "a"}}, "labels.my-label",
     "invalid label name"),
    ("generic", {"summary": "x", "links": [{"href": "javascript:alert(1)"}]}, "links[0].href",
     "pattern"),
    ("generic", {"event_action": "resolve"}, "dedup_key", "required"),
    ("generic", ["not", "an", "object"], "", "JSON object"),
    ("alertmanager", _mutate("alertmanager/firing.json", _set(["version"], "3")), "version",
     "'4'"),
    ("alertmanager",
     _mutate("alertmanager/grouped-firing.json", _set(["alerts", 1, "startsAt"], "yesterday")),
     "alerts[1].startsAt", "RFC 3339"),
    ("alertmanager",
     _mutate("alertmanager/firing.json", _set(["alerts", 0, "status"], "pending")),
     "alerts[0].status", "firing"),
    ("alertmanager", _mutate("alertmanager/firing.json", _set(["alerts"], [])), "alerts",
     "at least 1"),
    ("alertmanager",
     _mutate("alertmanager/firing.json", _set(["alerts", 0, "labels", "severity"], None)),
     "alerts[0].labels.severity", "string"),
    ("grafana", _mutate("grafana/firing.json", _set(["alerts", 0, "labels"], _DELETE)),
     "alerts[0].labels", "required"),
    ("grafana", _mutate("grafana/firing.json", _set(["alerts", 1, "endsAt"], "soon")),
     "alerts[1].endsAt", "RFC 3339"),
    ("datadog", _mutate("datadog/triggered.json", _set(["transition"], "$ALERT_TRANSITION")),
     "transition", "unknown alert transition"),
    ("datadog", _mutate("datadog/triggered.json", _set(["transition"], _DELETE)),
     "transition", "required"),
    ("datadog", _mutate("datadog/triggered.json", _set(["date"], "yesterday")), "date",
     "epoch"),
    ("newrelic", _mutate("newrelic/activated.json", _set(["state"], "OPEN")), "state",
     "ACTIVATED"),
    ("newrelic", _mutate("newrelic/activated.json", _set(["id"], _DELETE)), "id", "required"),
    ("newrelic", _mutate("newrelic/activated.json", _set(["updatedAt"], "later")), "updatedAt",
     "epoch"),
    ("cloudwatch", _mutate("cloudwatch/alarm.json", _set(["Type"], "Notify")), "Type",
     "Notification"),
    ("cloudwatch", _mutate("cloudwatch/alarm.json", _set(["Message"], "ALARM!")), "Message",
     "not JSON"),
    ("cloudwatch",
     _mutate("cloudwatch/alarm.json",
             _set(["Message"], json.dumps({"AlarmName": "x", "NewStateValue": "FIRING",
                                           "StateChangeTime": "2026-11-24T04:00:00Z"}))),
     "Message.NewStateValue", "ALARM"),
    ("cloudwatch",
     _mutate("cloudwatch/alarm.json",
             _set(["Message"], json.dumps({"AlarmName": "x", "NewStateValue": "OK",
                                           "StateChangeTime": "now"}))),
     "Message.StateChangeTime", "RFC 3339"),
]


@pytest.mark.parametrize(
    ("provider", "payload", "field_path", "message"),
    MALFORMED,
    ids=[f"{c[0]}-{c[2] or 'body'}-{i}" for i, c in enumerate(MALFORMED)],
)
def test_malformed_payload_names_the_field(
    provider: str, payload: Any, field_path: str, message: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        normalize(provider, payload, RECEIVED_AT)
    assert caught.value.field_path == field_path
    assert message in caught.value.message
    assert caught.value.problems[0] == (field_path, caught.value.message)


def test_payload_error_lists_every_problem() -> None:
    with pytest.raises(PayloadError) as caught:
        normalize("generic", {"summary": 1, "severity": "loud", "extra": True}, RECEIVED_AT)
    assert [path for path, _ in caught.value.problems] == ["summary", "severity", "extra"]


def test_naive_receipt_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        normalize("generic", {"summary": "x"}, RECEIVED_AT.replace(tzinfo=None))


def test_received_at_is_not_used_when_the_source_gives_a_time() -> None:
    later = RECEIVED_AT + timedelta(days=3)
    for path in CASES:
        if path.parent.name == "generic" and path.stem in ("minimal", "resolve"):
            continue
        if path.parent.name == "opsgenie" or path.stem in ("acknowledge", "resolve"):
            continue  # Opsgenie sends no time; PagerDuty's acknowledge and resolve neither
        for alert in normalize(path.parent.name, _load(f"{path.parent.name}/{path.name}"), later):
            assert alert.occurred_at < later, path
