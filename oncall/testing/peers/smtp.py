"""An SMTP server (aiosmtpd) on a free local port that records every message it accepts.

Switches: `reject(code, text)` answers every recipient with that reply (4xx temporary, 5xx
permanent); `hang()` stalls NOOP and the end of DATA so a client's timeout can be seen;
`close_idle_after(seconds)` ends a session left idle that long, as real servers do.
`SmtpPeer(starttls=True)` requires STARTTLS with a certificate from the throwaway CA
(`oncall.testing.peers.tls`) before it takes mail, as a mail relay on the internet does.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from oncall.testing.peers.tls import certificates


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        message: EmailMessage = message_from_bytes(self.data, policy=policy.default)
        return message

    def part(self, subtype: str) -> str:
        """The text of the `text/<subtype>` part."""
        body = self.message.get_body(preferencelist=(subtype,))
        if body is None or body.get_content_subtype() != subtype:
            raise LookupError(f"no text/{subtype} part")
        return str(cast(EmailMessage, body).get_content())


class _Recorder:
    def __init__(self, peer: SmtpPeer) -> None:
        self.peer = peer

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.peer.rejection:
            return self.peer.rejection
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
        if self.peer.hanging.is_set():
            await asyncio.sleep(self.peer.hang_seconds)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.peer.hanging.is_set():
            await asyncio.sleep(self.peer.hang_seconds)
            return "451 4.3.0 timed out"
        mail = ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.content))
        with self.peer._lock:
            self.peer._mails.append(mail)
        return "250 Message accepted for delivery"


class _CountingSMTP(SMTP):  # type: ignore[misc]
    """A session that tells the peer it was opened (not again after STARTTLS)."""

    def __init__(self, peer: SmtpPeer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peer = peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is None:
            with self.peer._lock:
                self.peer._connections += 1
        super().connection_made(transport)


class _FreePortController(Controller):  # type: ignore[misc]
    """aiosmtpd connects to its own port to start; with port 0, learn the real one first."""

    def __init__(self, peer: SmtpPeer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.peer = peer

    def factory(self) -> SMTP:
        kwargs = dict(self.SMTP_kwargs)
        if self.peer._idle_close is not None:
            kwargs["timeout"] = self.peer._idle_close
        return _CountingSMTP(self.peer, self.handler, **kwargs)

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            sockets: list[Any] = list(getattr(self.server, "sockets", []))
            self.port = sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpPeer:
    name = "smtp"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 starttls: bool = False) -> None:
        self._lock = threading.Lock()
        self._mails: list[ReceivedMail] = []
        self.rejection: str | None = None
        self.hanging = threading.Event()
        self.hang_seconds = 30.0
        self._connections = 0
        self._idle_close: float | None = None
        self.starttls = starttls
        tls: dict[str, Any] = {}
        if starttls:
            tls = {"tls_context": certificates().server_context(), "require_starttls": True}
        self._controller = _FreePortController(self, _Recorder(self), hostname=host, port=port,
                                               **tls)

    def start(self) -> Self:
        self._controller.start()
        with self._lock:  # aiosmtpd's own session, which checked that the server answers
            self._connections = 0
        return self

    def stop(self) -> None:
        self.hanging.clear()
        self._controller.stop()

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
    def host(self) -> str:
        return str(self._controller.hostname)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def url(self) -> str:
        query = "?starttls=true" if self.starttls else ""
        return f"smtp://{self.host}:{self.port}{query}"

    def env(self) -> dict[str, str]:
        return {"ONCALL_SMTP_URL": self.url}

    @property
    def mails(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._mails)

    @property
    def connections(self) -> int:
        """How many sessions clients have opened since the peer was made."""
        with self._lock:
            return self._connections

    def close_idle_after(self, seconds: float | None) -> None:
        """End a session once it has been idle this long (None: aiosmtpd's five minutes);
        sessions opened from now on."""
        self._idle_close = seconds

    def reject(self, code: int = 550, text: str = "5.1.1 Mailbox unavailable") -> None:
        self.rejection = f"{code} {text}"

    def hang(self, seconds: float = 30.0) -> None:
        self.hang_seconds = seconds
        self.hanging.set()

    def recover(self) -> None:
        self.rejection = None
        self.hanging.clear()
