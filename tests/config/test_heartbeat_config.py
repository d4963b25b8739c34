"""The Heartbeat kind: read with its defaults, refused at the line that is wrong."""

from __future__ import annotations

import pytest

from oncall.config.loader import load_text
from oncall.config.schema import json_schema

HEAD = """\
kind: Team
name: data
members:
  - {email: ana@example.com, role: admin}
---
kind: Service
name: warehouse
team: data
---
kind: Heartbeat
name: nightly-load
"""


def errors(text: str) -> list[tuple[int, str]]:
    result = load_text(HEAD + text)
    offset = HEAD.count("\n")
    return [(d.position.line - offset, d.message) for d in result.errors]


def test_a_heartbeat_is_read_with_its_defaults() -> None:
    result = load_text(HEAD + "service: warehouse\ninterval: 1d\nsecret: ${env:LOAD_TOKEN}\n")
    assert result.ok, [d.as_text() for d in result.errors]
    beat = result.config.heartbeats["nightly-load"]
    assert (beat.service, beat.interval.total_seconds, beat.grace.total_seconds) == (
        "warehouse", 86400, 0)
    assert beat.secret == "${env:LOAD_TOKEN}"
    assert beat.model_dump(by_alias=True)["grace"] == "0s"


@pytest.mark.parametrize(("body", "expected"), [
    ("service: warehouse\ninterval: 30s\nsecret: ${env:T}\n",
     (2, "interval '30s' is shorter than the minimum of 1m: a heartbeat is for jobs that run "
         "at most once a minute")),
    ("service: wharehouse\ninterval: 5m\nsecret: ${env:T}\n",
     (1, "unknown service 'wharehouse' (did you mean 'warehouse'?)")),
    ("service: warehouse\ninterval: 5m\ngrace: -1m\nsecret: ${env:T}\n",
     (3, "invalid duration '-1m'")),
    ("service: warehouse\ninterval: 0m\nsecret: ${env:T}\n", (2, "longer than zero")),
    ("service: warehouse\ninterval: 5m\nsecret: hunter2\n", (3, "secret")),
    ("service: warehouse\ninterval: 5m\n", (-1, "secret")),
])
def test_a_bad_heartbeat_is_refused_at_its_line(body: str, expected: tuple[int, str]) -> None:
    found = errors(body)
    assert len(found) == 1, found
    line, message = found[0]
    if expected[0] > 0:
        assert line == expected[0], found
    assert expected[1] in message, found


def test_the_schema_knows_the_heartbeat_kind() -> None:
    schema = json_schema()
    assert "Heartbeat" in schema["properties"]["kind"]["enum"]
    assert set(schema["$defs"]["Heartbeat"]["required"]) >= {"kind", "name", "service",
                                                              "interval", "secret"}
