"""SMS through Amazon SNS (boto3 `publish` to a phone number): the failover when Twilio fails.

Transactional type, so carriers treat a page as time-critical rather than marketing.
"""

from __future__ import annotations

from typing import Any

from oncall.notify.message import Notice, render_sms
from oncall.notify.providers.aws import aws_client, aws_failure
from oncall.notify.providers.base import DeliveryResult
from oncall.notify.settings import ProviderSettings


class SnsSmsProvider:
    name = "sns"

    def __init__(self, settings: ProviderSettings, client: Any | None = None) -> None:
        self.client = client or aws_client(settings, "sns")

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        """`address`: an E.164 phone number."""
        try:
            response = self.client.publish(
                PhoneNumber=address,
                Message=render_sms(notice),
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                    "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "oncall"},
                },
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return aws_failure(self.name, exc)
        return DeliveryResult.sent(self.name, str(response["MessageId"]))
