"""Limits on every parser input (issue 15, rows 11 and 15): JSON depth, alerts per request,
labels per alert, for every integration type; and that docs/integrations.md states them."""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from oncall.api.ingest import CertCache
from oncall.ingest import limits
from oncall.ingest.limits import (
    GENERIC_MAX_LABELS,
    MAX_ALERTS_PER_REQUEST,
    MAX_JSON_DEPTH,
    MAX_LABELS_PER_ALERT,
    TooDeep,
)
from oncall.ingest.normalizers import PayloadError, normalize

RECEIVED_AT = datetime(2026, 11, 24, 4, 10, tzinfo=UTC)
PAYLOADS = Path(__file__).parent / "payloads"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text("utf-8"))
    return data


# --- JSON depth -----------------------------------------------------------------------------


def nested(depth: int, opener: str = "[", closer: str = "]") -> str:
    return opener * depth + closer * depth


@pytest.mark.parametrize("depth", [1, 2, MAX_JSON_DEPTH])
def test_json_up_to_the_depth_limit_parses(depth: int) -> None:
    assert limits.loads(nested(depth)) == json.loads(nested(depth))
    objects = '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)
    assert limits.loads(objects.encode()) == json.loads(objects)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 200_000])
def test_json_deeper_than_the_limit_is_refused_not_a_recursion_error(depth: int) -> None:
    with pytest.raises(TooDeep, match=f"deeper than {MAX_JSON_DEPTH}"):
        limits.loads(nested(depth).encode())
    with pytest.raises(ValueError):  # TooDeep or a JSON error, never a RecursionError
        limits.loads(b"[" * depth)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"summary": "[" * 5000, "labels": {"a": "{" * 5000}})
    assert limits.loads(text)["summary"] == "[" * 5000


def test_a_wide_shallow_body_is_accepted_quickly() -> None:
    """The depth check costs a small multiple of parsing, never a power of the width: judged
    against `json.loads` of the same body on the same machine, each the best of three, so a
    slow or busy machine (another process taking the core for a moment) does not fail it."""
    body = json.dumps({"alerts": [{"labels": {"n": str(n)}} for n in range(20_000)]})

    def best(parse: Callable[[str], Any]) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            assert len(parse(body)["alerts"]) == 20_000
            times.append(time.perf_counter() - started)
        return min(times)

    assert best(limits.loads) < 20 * best(json.loads) + 0.05


def test_invalid_json_is_still_a_json_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        limits.loads(b'{"summary": ')


def test_a_deep_cloudwatch_message_is_a_payload_error() -> None:
    alarm = load("cloudwatch/alarm.json")
    alarm["Message"] = nested(5000)
    with pytest.raises(PayloadError, match="nested deeper") as caught:
        normalize("cloudwatch", alarm, RECEIVED_AT)
    assert caught.value.field_path == "Message"


# --- alerts per request ---------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["alertmanager", "grafana"])
def test_too_many_alerts_in_one_request_is_413_before_validation(provider: str) -> None:
    body = load(f"{provider}/firing.json")
    # not even valid alerts: the count is refused before each alert is validated
    body["alerts"] = [{"nonsense": n} for n in range(MAX_ALERTS_PER_REQUEST + 1)]
    with pytest.raises(PayloadError, match=f"at most {MAX_ALERTS_PER_REQUEST}") as caught:
        normalize(provider, body, RECEIVED_AT)
    assert caught.value.status == 413
    assert caught.value.field_path == "alerts"


@pytest.mark.parametrize("provider", ["alertmanager", "grafana"])
def test_the_most_alerts_allowed_in_one_request_are_read(provider: str) -> None:
    body = load(f"{provider}/firing.json")
    template = body["alerts"][0]
    body["alerts"] = [{**template, "fingerprint": f"fp{n}"}
                      for n in range(MAX_ALERTS_PER_REQUEST)]
    assert len(normalize(provider, body, RECEIVED_AT)) == MAX_ALERTS_PER_REQUEST


# --- labels per alert -----------------------------------------------------------------------

Grow = Callable[[dict[str, Any], int], None]


def _alertmanager(body: dict[str, Any], n: int) -> None:
    body["alerts"][0]["labels"].update({f"l{i}": "x" for i in range(n)})


def _datadog(body: dict[str, Any], n: int) -> None:
    body["tags"] = ",".join(f"t{i}:x" for i in range(n))


def _newrelic(body: dict[str, Any], n: int) -> None:
    body["labels"] = {f"l{i}": "x" for i in range(n)}


def _cloudwatch(body: dict[str, Any], n: int) -> None:
    message = json.loads(body["Message"])
    message["Trigger"]["Dimensions"] = [{"name": f"d{i}", "value": "x"} for i in range(n)]
    body["Message"] = json.dumps(message)


LABEL_CASES: list[tuple[str, str, Grow, str]] = [
    ("alertmanager", "alertmanager/firing.json", _alertmanager, "alerts[0].labels"),
    ("grafana", "grafana/firing.json", _alertmanager, "alerts[0].labels"),
    ("datadog", "datadog/triggered.json", _datadog, "labels"),
    ("newrelic", "newrelic/activated.json", _newrelic, "labels"),
    ("cloudwatch", "cloudwatch/alarm.json", _cloudwatch, "labels"),
]


@pytest.mark.parametrize(("provider", "payload", "grow", "field"), LABEL_CASES,
                         ids=[case[0] for case in LABEL_CASES])
def test_too_many_labels_on_one_alert_is_422(provider: str, payload: str, grow: Grow,
                                             field: str) -> None:
    body = load(payload)
    grow(body, 25_005)
    with pytest.raises(PayloadError, match=f"at most {MAX_LABELS_PER_ALERT}") as caught:
        normalize(provider, body, RECEIVED_AT)
    assert caught.value.status == 422
    assert caught.value.field_path == field


@pytest.mark.parametrize(("provider", "payload", "grow", "field"), LABEL_CASES,
                         ids=[case[0] for case in LABEL_CASES])
def test_a_hundred_labels_are_fine(provider: str, payload: str, grow: Grow,
                                   field: str) -> None:
    body = copy.deepcopy(load(payload))
    grow(body, 100)
    (alert, *_) = normalize(provider, body, RECEIVED_AT)
    assert 100 <= len(alert.labels) <= MAX_LABELS_PER_ALERT


def test_generic_keeps_its_documented_64_labels() -> None:
    body = {"summary": "x", "labels": {f"l{i}": "x" for i in range(GENERIC_MAX_LABELS + 1)}}
    with pytest.raises(PayloadError) as caught:
        normalize("generic", body, RECEIVED_AT)
    assert caught.value.field_path == "labels"


# --- the documentation states the same values ------------------------------------------------


def test_docs_state_the_limits() -> None:
    text = DOCS.read_text("utf-8")
    section = text[text.index("### Limits"):]
    section = section[:section.index("\n## ")]
    for name, value in [("MAX_JSON_DEPTH", MAX_JSON_DEPTH),
                        ("MAX_ALERTS_PER_REQUEST", MAX_ALERTS_PER_REQUEST),
                        ("MAX_LABELS_PER_ALERT", MAX_LABELS_PER_ALERT),
                        ("GENERIC_MAX_LABELS", GENERIC_MAX_LABELS)]:
        assert re.search(rf"\b{value}\b.*`{name}`", section), (name, value)


# --- SNS certificates: failures cached, one fetch per URL at a time --------------------------

URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"


def test_a_failed_certificate_fetch_is_cached() -> None:
    calls: list[str] = []

    def fail(url: str) -> bytes:
        calls.append(url)
        raise OSError("404")

    certs = CertCache(fail, failure_ttl=60.0)
    for _ in range(5):
        with pytest.raises(Exception, match="404"):
            certs.get(URL)
    assert calls == [URL]


def test_a_failure_is_tried_again_after_its_ttl() -> None:
    calls: list[str] = []

    def fail(url: str) -> bytes:
        calls.append(url)
        raise OSError("404")

    certs = CertCache(fail, failure_ttl=0.0)
    for _ in range(3):
        with pytest.raises(OSError):
            certs.get(URL)
    assert len(calls) == 3


def test_concurrent_requests_for_one_certificate_fetch_it_once() -> None:
    calls: list[str] = []
    release = threading.Event()

    def slow(url: str) -> bytes:
        calls.append(url)
        release.wait(5)
        return b"pem"

    certs = CertCache(slow)
    results: list[bytes] = []
    threads = [threading.Thread(target=lambda: results.append(certs.get(URL)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    release.set()
    for thread in threads:
        thread.join(5)
    assert results == [b"pem"] * 8
    assert calls == [URL]
