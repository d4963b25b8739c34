"""Alertmanager matcher syntax and semantics."""

from __future__ import annotations

import pytest

from oncall.config.matchers import MatcherError, Op, parse_matcher

LABELS = {"env": "prod", "alertname": "CheckoutLatencyHigh", "severity": "critical"}


@pytest.mark.parametrize(
    ("text", "op", "value", "matches"),
    [
        ('env="prod"', Op.EQ, "prod", True),
        ("env=prod", Op.EQ, "prod", True),
        ('env = "prod"', Op.EQ, "prod", True),
        ('env!="prod"', Op.NE, "prod", False),
        ('alertname=~"Checkout.*"', Op.RE, "Checkout.*", True),
        ('alertname=~"Latency"', Op.RE, "Latency", False),  # anchored: no substring match
        ('alertname!~"Disk.*"', Op.NRE, "Disk.*", True),
        ('team=""', Op.EQ, "", True),  # a missing label reads as ""
        ('team!=""', Op.NE, "", False),
        ('team=~".*"', Op.RE, ".*", True),
        ('severity!="info"', Op.NE, "info", True),
        (r'msg="a \"quoted\" value"', Op.EQ, 'a "quoted" value', False),
    ],
)
def test_matchers(text: str, op: Op, value: str, matches: bool) -> None:
    m = parse_matcher(text)
    assert (m.op, m.value) == (op, value)
    assert m.matches(LABELS) is matches
    assert parse_matcher(str(m)) == m  # printing round-trips


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("env", "invalid matcher"),
        ('="prod"', "invalid matcher"),
        ('1env="x"', "invalid matcher"),
        ('env=~"("', "invalid regular expression"),
        ('env="prod', "unterminated"),
        ('env="a"b"', 'unescaped "'),
        ("env=a,b", "reserved character"),
    ],
)
def test_bad_matchers(text: str, message: str) -> None:
    with pytest.raises(MatcherError, match=message):
        parse_matcher(text)
