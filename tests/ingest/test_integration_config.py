"""The Integration's config for SNS (issue 15, row 2): a cloudwatch integration names the topics
it accepts; `oncall validate` refuses one without them, with file:line naming the field."""

from __future__ import annotations

import pytest

from oncall.config.loader import load_text

BASE = """\
kind: Team
name: payments
members:
  - {email: alice@example.com, role: admin}
---
kind: Service
name: checkout-api
team: payments
---
"""


def errors(text: str) -> list[str]:
    result = load_text(BASE + text, "rules/integrations.yaml")
    return [d.as_text() for d in result.errors]


def test_a_cloudwatch_integration_with_topic_arns_is_valid() -> None:
    assert errors("""\
kind: Integration
name: cloudwatch-prod
type: cloudwatch
service: checkout-api
topic_arns:
  - arn:aws:sns:us-east-1:123456789012:oncall-alarms
  - arn:aws-cn:sns:cn-north-1:123456789012:alarms.fifo
""") == []


def test_a_cloudwatch_integration_without_topic_arns_is_an_error_at_its_line() -> None:
    found = errors("""\
kind: Integration
name: cloudwatch-prod
type: cloudwatch
service: checkout-api
""")
    assert len(found) == 1
    # line 12 of the stream: the `type: cloudwatch` line of the Integration
    assert found[0].startswith("rules/integrations.yaml:12:7: error:"), found
    assert "needs 'topic_arns'" in found[0]


def test_auth_on_a_cloudwatch_integration_is_an_error() -> None:
    found = errors("""\
kind: Integration
name: cloudwatch-prod
type: cloudwatch
service: checkout-api
auth: hmac
secret: ${env:CW_SECRET}
topic_arns: [arn:aws:sns:us-east-1:123456789012:oncall-alarms]
""")
    assert len(found) == 1 and "'auth' does not apply" in found[0], found
    assert found[0].startswith("rules/integrations.yaml:14:7: error:"), found


@pytest.mark.parametrize("arn", [
    "arn:aws:sns:us-east-1:12345678901:oncall-alarms",      # 11-digit account
    "arn:aws:sqs:us-east-1:123456789012:oncall-alarms",     # not SNS
    "arn:aws:sns:us-east-1:123456789012:",                  # no topic
    "arn:aws:sns:us-east-1:123456789012:topic:extra",
    "arn:evil:sns:us-east-1:123456789012:oncall-alarms",
    "arn:aws:sns:us-east-1:123456789012:*",
    "*",
])
def test_an_invalid_topic_arn_is_an_error(arn: str) -> None:
    found = errors(f"""\
kind: Integration
name: cloudwatch-prod
type: cloudwatch
service: checkout-api
topic_arns: ["{arn}"]
""")
    assert any("invalid SNS topic ARN" in line for line in found), found


def test_topic_arns_on_another_type_is_an_error() -> None:
    found = errors("""\
kind: Integration
name: prometheus-prod
type: alertmanager
service: checkout-api
secret: ${env:PROM_SECRET}
topic_arns: [arn:aws:sns:us-east-1:123456789012:oncall-alarms]
""")
    assert any("only to a cloudwatch integration" in line for line in found), found


def test_an_integration_without_topics_is_stored_as_before_the_field_existed() -> None:
    """`oncall plan` after upgrading must not show every Integration as changed."""
    from oncall.config.models import Integration

    plain = Integration.model_validate({"kind": "Integration", "name": "p", "type": "generic",
                                        "service": "s", "secret": "${env:X}"})
    assert "topic_arns" not in plain.model_dump(mode="json", by_alias=True)
    arn = "arn:aws:sns:us-east-1:123456789012:oncall-alarms"
    cw = Integration.model_validate({"kind": "Integration", "name": "c", "type": "cloudwatch",
                                     "service": "s", "topic_arns": [arn]})
    dumped = cw.model_dump(mode="json", by_alias=True)
    assert dumped["topic_arns"] == [arn]
    assert Integration.model_validate(dumped).topic_arns == [arn]
