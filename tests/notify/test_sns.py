"""SMS failover through boto3 SNS against moto's server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oncall.notify.message import render_sms
from oncall.notify.providers.sns_sms import SnsSmsProvider
from oncall.testing.peers import SlackPeer
from oncall.testing.peers.aws import MotoPeer

from .conftest import PAGE, provider_settings


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoPeer]:
    with MotoPeer() as peer:
        yield peer


def test_publishes_the_sms_to_the_phone_number(aws: MotoPeer) -> None:
    result = SnsSmsProvider(provider_settings(aws.env())).send("+14155550123", PAGE)

    assert result.ok and result.provider_message_id
    sent = {s.message_id: s for s in aws.sms}[result.provider_message_id]
    assert sent.phone_number == "+14155550123"
    assert sent.message == render_sms(PAGE)


def test_invalid_number_is_permanent(aws: MotoPeer) -> None:
    result = SnsSmsProvider(provider_settings(aws.env())).send("not-a-number", PAGE)
    assert not result.ok and not result.retryable and result.status_code == 400


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (403, False)])
def test_endpoint_failures_classified(status: int, retryable: bool) -> None:
    # any HTTP server answering an error status stands in for a failing SNS endpoint
    with SlackPeer() as failing:
        failing.fail(status, "<ErrorResponse><Error><Code>X</Code></Error></ErrorResponse>")
        settings = provider_settings(
            ONCALL_AWS_ENDPOINT_URL=failing.url,
            ONCALL_AWS_ACCESS_KEY_ID="testing",
            ONCALL_AWS_SECRET_ACCESS_KEY="testing",
        )
        result = SnsSmsProvider(settings).send("+14155550123", PAGE)
        assert len(failing.requests) == 1, "botocore must not retry on its own"
    assert not result.ok and result.retryable is retryable


def test_hanging_endpoint_times_out_retryably(short_timeout: str) -> None:
    with SlackPeer() as hanging:
        hanging.hang()
        settings = provider_settings(
            ONCALL_AWS_ENDPOINT_URL=hanging.url,
            ONCALL_AWS_ACCESS_KEY_ID="testing",
            ONCALL_AWS_SECRET_ACCESS_KEY="testing",
            ONCALL_SNS_TIMEOUT=short_timeout,
        )
        result = SnsSmsProvider(settings).send("+14155550123", PAGE)
    assert not result.ok and result.retryable and "timeout" in (result.error or "")
