"""A ready-made email that is not about an incident: a status page's message to its
subscribers, a partner's sign-in link. Stored whole in the outbox row, so a retry sends the
very message that was queued, and each provider only moves it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from oncall.notify.message import one_line


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers, such as RFC 8058's `List-Unsubscribe` and `List-Unsubscribe-Post`."""

    def as_data(self) -> dict[str, Any]:
        return {"subject": self.subject, "text": self.text, "html": self.html,
                "headers": dict(self.headers)}

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Mail:
        return cls(str(data.get("subject", "")), str(data.get("text", "")),
                   data.get("html") or None,
                   {str(k): str(v) for k, v in (data.get("headers") or {}).items()})


def build_mail(sender: str, recipient: str, mail: Mail) -> EmailMessage:
    """The MIME message of `mail`; a header value with a line break is refused (ValueError)
    by the email package, so nothing can be injected through a subject or a header."""
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    message["Subject"] = one_line(mail.subject)
    message["From"] = sender
    message["To"] = recipient
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message
