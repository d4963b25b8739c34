"""Limits on what one request may make oncall parse and store, in one place.

Every alert source is reachable from the internet, and the JSON of a request is read before
anything in it can be trusted (an SNS message carries its signature inside the JSON). So every
parser input is bounded, and going over a bound is answered with an RFC 7807 problem before
anything is stored:

| limit | value | answer |
| --- | --- | --- |
| request body | `oncall.api.app.MAX_BODY_BYTES` (1 MiB) | 413 |
| JSON nesting depth | `MAX_JSON_DEPTH` | 400 |
| alerts per request | `MAX_ALERTS_PER_REQUEST` | 413 |
| labels per alert | `MAX_LABELS_PER_ALERT` (generic JSON: `GENERIC_MAX_LABELS`) | 422 |

docs/integrations.md ("Limits") documents the same values; tests/ingest/test_limits.py pins
them to that page.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 32
"""Arrays and objects nested deeper than this are refused. Every provider payload we read is at
most 6 deep; 32 leaves room for the free-form `details` of generic alerts."""

MAX_ALERTS_PER_REQUEST = 500
"""Alerts in one delivery (an Alertmanager or Grafana group). One delivery is one transaction,
and a transaction holds the alerts' locks (on SQLite, the database) until it commits.
Alertmanager's `max_alerts` in `webhook_configs` keeps a group under it."""

MAX_LABELS_PER_ALERT = 256
"""Labels of one alert from a provider (Alertmanager, Grafana, Datadog tags, New Relic, CloudWatch
dimensions). Labels are stored with the alert and matched by every routing rule."""

GENERIC_MAX_LABELS = 64
"""Our own generic JSON format has always documented at most 64 labels; it keeps that."""


class TooDeep(ValueError):
    """JSON nested deeper than `MAX_JSON_DEPTH`."""


def loads(raw: bytes | str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` with a nesting limit: `TooDeep` instead of a RecursionError (a 500).

    Cheap for ordinary payloads: when the body holds no more brackets than the limit (counted in C,
    strings included, so never too few), it cannot be too deep and is not walked.
    `json.JSONDecodeError` and `UnicodeDecodeError` pass through as from `json.loads`.
    """
    if isinstance(raw, bytes):
        opened = raw.count(b"[") + raw.count(b"{")
    else:
        opened = raw.count("[") + raw.count("{")
    try:
        value = json.loads(raw)
    except RecursionError:
        raise TooDeep(f"JSON nested deeper than {max_depth} levels") from None
    if opened > max_depth:
        _check_depth(value, max_depth)
    return value


def _check_depth(value: Any, max_depth: int) -> None:
    """Walk without recursion; stop at the first container below the limit."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise TooDeep(f"JSON nested deeper than {max_depth} levels")
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
