"""Amazon SES and SNS through moto's server mode, on a free local port.

moto's server runs in this process, so what it accepted is read from its backends: the
e-mails SES sent and the SMS SNS published.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import boto3  # type: ignore[import-untyped]
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer

ACCESS_KEY = "testing"
SECRET_KEY = "testing"


@dataclass(frozen=True)
class SentEmail:
    message_id: str
    source: str
    destinations: dict[str, list[str]]
    subject: str
    body: str


@dataclass(frozen=True)
class SentSms:
    message_id: str
    phone_number: str
    message: str


class MotoPeer:
    name = "aws"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, region: str = "us-east-1") -> None:
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.region = region
        self._running = False

    def start(self) -> Self:
        self._server.start()
        self._running = True
        self.reset()
        return self

    def stop(self) -> None:
        if self._running:
            self._server.stop()
            self._running = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        return {
            "ONCALL_AWS_ENDPOINT_URL": self.url,
            "ONCALL_AWS_REGION": self.region,
            "ONCALL_AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "ONCALL_AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def reset(self) -> None:
        """Forget every identity, e-mail and SMS (moto's state is per process)."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            region_name=self.region,
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def verify_sender(self, email: str) -> None:
        """SES refuses to send from an address it has not verified."""
        self.client("ses").verify_email_identity(EmailAddress=email)

    @property
    def emails(self) -> list[SentEmail]:
        from moto.ses.models import ses_backends

        backend = ses_backends[DEFAULT_ACCOUNT_ID][self.region]
        return [
            SentEmail(
                m.id,
                m.source,
                dict(m.destinations),
                getattr(m, "subject", ""),
                getattr(m, "body", ""),
            )
            for m in backend.sent_messages
            if hasattr(m, "destinations")
        ]

    @property
    def sms(self) -> list[SentSms]:
        from moto.sns.models import sns_backends

        backend = sns_backends[DEFAULT_ACCOUNT_ID][self.region]
        return [SentSms(mid, phone, text) for mid, (phone, text) in backend.sms_messages.items()]
