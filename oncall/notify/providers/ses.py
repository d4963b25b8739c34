"""Email through Amazon SES (boto3 `send_email`, or `send_raw_email` for a mail with its own
headers): the same subject, text and HTML as SMTP."""

from __future__ import annotations

from typing import Any

from oncall.notify.mail import Mail, build_mail
from oncall.notify.message import Notice, one_line, render_email
from oncall.notify.providers.aws import aws_client, aws_failure
from oncall.notify.providers.base import DeliveryResult
from oncall.notify.settings import ProviderSettings


class SesProvider:
    name = "ses"

    def __init__(self, settings: ProviderSettings, client: Any | None = None) -> None:
        self.client = client or aws_client(settings, "ses")
        self.sender = settings.email_from

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        rendered = render_email(notice)
        try:
            response = self.client.send_email(
                Source=self.sender,
                Destination={"ToAddresses": [address]},
                Message={
                    "Subject": {"Data": rendered.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": rendered.text, "Charset": "UTF-8"},
                        "Html": {"Data": rendered.html, "Charset": "UTF-8"},
                    },
                },
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return aws_failure(self.name, exc)
        return DeliveryResult.sent(self.name, str(response["MessageId"]))

    def send_text(self, address: str, subject: str, text: str,
                  incident_id: int) -> DeliveryResult:
        """A plain-text mail that is not a notice (a workflow's `email` step)."""
        del incident_id  # SES sets its own Message-ID: no thread header to derive from it
        try:
            response = self.client.send_email(
                Source=self.sender,
                Destination={"ToAddresses": [address]},
                Message={"Subject": {"Data": one_line(subject), "Charset": "UTF-8"},
                         "Body": {"Text": {"Data": text, "Charset": "UTF-8"}}},
            )
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return aws_failure(self.name, exc)
        return DeliveryResult.sent(self.name, str(response["MessageId"]))

    def send_mail(self, address: str, mail: Mail) -> DeliveryResult:
        """A ready-made mail with its own headers: as a raw message, since `send_email`
        takes no headers."""
        try:
            message = build_mail(self.sender, address, mail)
        except ValueError as exc:
            return DeliveryResult.failed(self.name, f"bad address: {exc}", retryable=False)
        try:
            response = self.client.send_raw_email(
                Source=self.sender, Destinations=[address],
                RawMessage={"Data": message.as_bytes()})
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return aws_failure(self.name, exc)
        return DeliveryResult.sent(self.name, str(response["MessageId"]))
