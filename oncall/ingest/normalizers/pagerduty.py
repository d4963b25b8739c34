"""PagerDuty Events API v2 alert events (`POST /v2/enqueue`), as monitors already send them.

PagerDuty's rules are kept: `event_action` is trigger, acknowledge or resolve; a trigger
carries `payload.summary`, `payload.source` and `payload.severity` (critical, error, warning,
info); acknowledge and resolve need only the `dedup_key`. A trigger without a `dedup_key` gets
one from the HTTP adapter (`with_dedup_key`) before it arrives here, because PagerDuty returns
the key it made up and a pure function makes up nothing. `routing_key` is the adapter's
business (it names the integration) and is not read here.

Each problem is phrased as PagerDuty phrases its `errors` ("'payload.summary' is missing or
blank"), so `PayloadError.problems` can be answered as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, cast

from oncall.core.alerts import ACTIONS, SEVERITIES, Action, Alert, Link, Severity
from oncall.ingest.normalizers.common import MAX_SUMMARY, PayloadError, clip, links, parse_time

MAX_DEDUP_KEY = 255
"""PagerDuty's own limit on `dedup_key`."""
LABEL_FIELDS = ("source", "component", "group", "class")
"""PD-CEF fields that become labels, so routing rules can match on them."""


def with_dedup_key(payload: Mapping[str, Any], new_key: str) -> tuple[dict[str, Any], str]:
    """The event with a `dedup_key` (`new_key` when a trigger has none) and that key.

    Only a trigger gets one made up: an acknowledge or resolve without a key names no alert,
    and is left for validation to refuse, as PagerDuty refuses it."""
    event = dict(payload)
    key = event.get("dedup_key")
    if not _blank(key):  # a key of the wrong type is left for validation to name
        return event, str(key)
    if event.get("event_action") != "trigger":
        return event, ""
    event["dedup_key"] = new_key
    return event, new_key


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(event: Mapping[str, Any], name: str, where: str, problems: list[tuple[str, str]]
          ) -> str | None:
    value = event.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append((where, f"'{where}' must be a string"))
        return None
    return value


def _problems(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Everything wrong with the event, in PagerDuty's words; empty when it is valid."""
    problems: list[tuple[str, str]] = []
    action = event.get("event_action")
    if _blank(action):
        problems.append(("event_action", "'event_action' is missing or blank"))
    elif action not in ACTIONS:
        problems.append(("event_action", "'event_action' is invalid (expected trigger, "
                                         "acknowledge or resolve)"))
    key = event.get("dedup_key")
    if key is not None and not isinstance(key, str):
        problems.append(("dedup_key", "'dedup_key' must be a string"))
    elif _blank(key):
        problems.append(("dedup_key", "'dedup_key' is missing or blank"))
    elif isinstance(key, str) and len(key) > MAX_DEDUP_KEY:
        problems.append(("dedup_key", f"'dedup_key' is longer than {MAX_DEDUP_KEY} characters"))
    payload = event.get("payload")
    if payload is not None and not isinstance(payload, Mapping):
        problems.append(("payload", "'payload' must be an object"))
        payload = None
    if action == "trigger":
        if payload is None:
            problems.append(("payload", "'payload' is missing or blank"))
        else:
            for name in ("summary", "source", "severity"):
                if _blank(payload.get(name)):
                    problems.append((f"payload.{name}", f"'payload.{name}' is missing or blank"))
    if payload is not None:
        for name in ("summary", "source", "component", "group", "class"):
            _text(payload, name, f"payload.{name}", problems)
        severity = payload.get("severity")
        if not _blank(severity) and severity not in SEVERITIES:
            problems.append(("payload.severity", "'payload.severity' is invalid (expected "
                                                 "critical, error, warning or info)"))
        summary = payload.get("summary")
        if isinstance(summary, str) and len(summary) > MAX_SUMMARY:
            problems.append(("payload.summary", f"'payload.summary' is longer than "
                                                f"{MAX_SUMMARY} characters"))
        details = payload.get("custom_details")
        if details is not None and not isinstance(details, Mapping | list | str | int | float):
            problems.append(("payload.custom_details", "'payload.custom_details' is invalid"))
        stamp = payload.get("timestamp")
        if stamp is not None and not isinstance(stamp, str):
            problems.append(("payload.timestamp", "'payload.timestamp' must be an ISO 8601 "
                                                  "string"))
    for name, required in (("links", "href"), ("images", "src")):
        items = event.get(name)
        if items is None:
            continue
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            problems.append((name, f"'{name}' must be an array of objects"))
        elif any(_blank(item.get(required)) for item in items):
            problems.append((name, f"'{name}' has an entry without '{required}'"))
    for name in ("client", "client_url"):
        _text(event, name, name, problems)
    return problems


def _occurred(payload: Mapping[str, Any], received_at: datetime) -> datetime:
    stamp = payload.get("timestamp")
    if not isinstance(stamp, str) or not stamp.strip():
        return received_at
    try:
        return parse_time(stamp, "payload.timestamp")
    except PayloadError:
        try:  # PagerDuty reads a time without an offset as UTC
            naive = datetime.fromisoformat(stamp.strip())
        except ValueError:
            raise PayloadError("payload.timestamp",
                               "'payload.timestamp' is not a valid ISO 8601 timestamp",
                               status=400) from None
        return naive.replace(tzinfo=UTC) if naive.tzinfo is None else naive


def _links(event: Mapping[str, Any]) -> tuple[Link, ...]:
    pairs: list[tuple[str | None, str]] = []
    for link in event.get("links") or ():
        pairs.append((link.get("href"), str(link.get("text") or "")))
    for image in event.get("images") or ():
        pairs.append((image.get("href") or image.get("src"), str(image.get("alt") or "Image")))
    client_url = event.get("client_url")
    pairs.append((client_url, str(event.get("client") or "Monitoring tool")))
    return links(*pairs)


def normalize(payload: dict[str, Any], received_at: datetime) -> list[Alert]:
    problems = _problems(payload)
    if problems:
        raise PayloadError(problems[0][0], problems[0][1], problems, status=400)
    action = cast(Action, payload["event_action"])
    key: str = payload["dedup_key"]
    body: Mapping[str, Any] = payload.get("payload") or {}
    severity = cast(Severity, body.get("severity") or "error")
    summary = body.get("summary")
    if _blank(summary):
        summary = f"{action} {key}"
    labels = {name: body[name].strip() for name in LABEL_FIELDS
              if isinstance(body.get(name), str) and body[name].strip()}
    labels["severity"] = severity
    details: dict[str, Any] = {}
    if body.get("custom_details") is not None:
        details["custom_details"] = body["custom_details"]
    for name in ("client", "client_url"):
        if payload.get(name):
            details[name] = payload[name]
    if payload.get("images"):
        details["images"] = list(payload["images"])
    source = body.get("source")
    return [
        Alert(
            provider="pagerduty",
            action=action,
            summary=clip(str(summary)),
            severity=severity,
            dedup_key=key,
            occurred_at=_occurred(body, received_at),
            labels=labels,
            details=details,
            links=_links(payload),
            source=source.strip() if isinstance(source, str) and source.strip() else None,
        )
    ]
