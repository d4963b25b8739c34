"""Amazon CloudWatch alarms delivered by an SNS HTTP(S) subscription.

The body is an SNS message; a `Notification` carries the alarm as a JSON string in `Message`.
`SubscriptionConfirmation` and `UnsubscribeConfirmation` carry no alert: `sns_envelope` hands
them to the HTTP adapter, which verifies the signature (oncall.ingest.auth) and visits
`SubscribeURL` to confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field

from oncall.core.alerts import Alert, Severity, label_name
from oncall.ingest.limits import TooDeep, loads
from oncall.ingest.normalizers.common import (
    Lenient,
    PayloadError,
    clip,
    links,
    parse,
    parse_time,
    with_severity,
)

MessageType = Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]

STATES: dict[str, tuple[Literal["trigger", "resolve"], Severity]] = {
    "ALARM": ("trigger", "error"),
    "INSUFFICIENT_DATA": ("trigger", "warning"),
    "OK": ("resolve", "error"),
}


class Envelope(Lenient):
    Type: MessageType
    MessageId: str = Field(min_length=1)
    TopicArn: str = Field(min_length=1)
    Message: str
    Timestamp: str
    Subject: str | None = None
    SignatureVersion: str = ""
    Signature: str = ""
    SigningCertURL: str = ""
    SubscribeURL: str = ""
    UnsubscribeURL: str = ""
    Token: str = ""


@dataclass(frozen=True)
class SnsEnvelope:
    """What the adapter needs to confirm a subscription or to verify any SNS message."""

    type: MessageType
    message_id: str
    topic_arn: str
    subscribe_url: str
    signing_cert_url: str

    @property
    def is_notification(self) -> bool:
        return self.type == "Notification"


def sns_envelope(payload: dict[str, Any]) -> SnsEnvelope:
    env = parse(Envelope, payload)
    if env.Type == "SubscriptionConfirmation" and not env.SubscribeURL.startswith("https://"):
        raise PayloadError("SubscribeURL", "a subscription confirmation needs an https URL")
    return SnsEnvelope(env.Type, env.MessageId, env.TopicArn, env.SubscribeURL,
                       env.SigningCertURL)


class Dimension(Lenient):
    name: str
    value: str


class AlarmTrigger(Lenient):
    MetricName: str | None = None
    Namespace: str | None = None
    Statistic: str | None = None
    Dimensions: list[Dimension] = Field(default_factory=list)


class AlarmMessage(Lenient):
    AlarmName: str = Field(min_length=1)
    AlarmDescription: str | None = None
    AWSAccountId: str = ""
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str = ""
    OldStateValue: str = ""
    StateChangeTime: str
    Region: str = ""
    AlarmArn: str = ""
    Trigger: AlarmTrigger | None = None


def region_code(arn: str) -> str:
    """`us-east-1` from `arn:aws:cloudwatch:us-east-1:123:alarm:x` (the message's `Region` is
    a display name such as "US East (N. Virginia)")."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" else ""


def alarm_message(text: str) -> AlarmMessage:
    try:
        body = loads(text)
    except TooDeep as exc:
        raise PayloadError("Message", str(exc)) from None
    except ValueError:
        raise PayloadError(
            "Message", "not JSON: expected a CloudWatch alarm state change"
        ) from None
    try:
        return parse(AlarmMessage, body)
    except PayloadError as exc:
        path = f"Message.{exc.field_path}" if exc.field_path else "Message"
        raise PayloadError(path, exc.message) from None


def normalize(payload: dict[str, Any], received_at: datetime) -> list[Alert]:
    env = parse(Envelope, payload)
    if env.Type != "Notification":
        return []
    alarm = alarm_message(env.Message)
    action, severity = STATES[alarm.NewStateValue]
    occurred = parse_time(alarm.StateChangeTime, "Message.StateChangeTime")
    region = region_code(alarm.AlarmArn) or region_code(env.TopicArn)

    labels: dict[str, str] = {"alertname": alarm.AlarmName}
    if alarm.AWSAccountId:
        labels["account"] = alarm.AWSAccountId
    if region:
        labels["region"] = region
    if alarm.Trigger is not None:
        if alarm.Trigger.Namespace:
            labels["namespace"] = alarm.Trigger.Namespace
        if alarm.Trigger.MetricName:
            labels["metric"] = alarm.Trigger.MetricName
        for dim in alarm.Trigger.Dimensions:
            labels.setdefault(label_name(dim.name), dim.value)

    key = alarm.AlarmArn or f"{alarm.AWSAccountId}:{region}:{alarm.AlarmName}"
    console = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(alarm.AlarmName, safe='')}"
        if region else None
    )
    annotations = {"reason": alarm.NewStateReason} if alarm.NewStateReason else {}
    if alarm.AlarmDescription:
        annotations["description"] = alarm.AlarmDescription
    return [
        Alert(
            provider="cloudwatch",
            action=action,
            summary=clip(alarm.AlarmName),
            severity=severity,
            dedup_key=key,
            occurred_at=occurred,
            labels=with_severity(labels, severity),
            annotations=annotations,
            details={
                "new_state": alarm.NewStateValue,
                "old_state": alarm.OldStateValue,
                "region_name": alarm.Region,
                "topic_arn": env.TopicArn,
                "subject": env.Subject,
            },
            links=links((console, "CloudWatch alarm")),
            source=alarm.AlarmArn or None,
            delivery_id=env.MessageId,
        )
    ]
