"""Email over plain SMTP (smtplib): a multipart text + HTML message.

SMTP says itself what is worth retrying: 4xx replies are temporary (greylisting, a full queue)
and 5xx are permanent (unknown mailbox, relaying denied), the reverse of HTTP's meaning.

A session (TCP, greeting, EHLO, STARTTLS, EHLO again, AUTH) costs several round trips and a TLS
handshake; one message on an open session costs MAIL, RCPT and DATA. Sessions are kept between
messages the way a mail relay keeps them.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from oncall.notify.mail import Mail, build_mail
from oncall.notify.message import Notice, one_line, render_email
from oncall.notify.providers.base import DeliveryResult, network_failure, unexpected_failure
from oncall.notify.settings import ProviderSettings, SmtpSettings


def build_email(sender: str, recipient: str, notice: Notice) -> EmailMessage:
    """The MIME message both email providers send (SES takes its parts, SMTP the whole)."""
    rendered = render_email(notice)
    # CPython folds a long subject before an encoded word with the space left at the end of
    # the line, which readers show as a double space; RFC 5322's 998 limit avoids folding.
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = recipient
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    if notice.is_incident:
        # keeps every mail of one incident in one thread in most clients
        thread = f"<{notice.tag}@{domain}>"
        message["References"] = thread
        message["X-Oncall-Incident"] = notice.incident_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def text_email(sender: str, recipient: str, subject: str, text: str,
               incident_id: int) -> EmailMessage:
    """A plain-text mail in the incident's thread; the subject on one line."""
    message = EmailMessage(policy=policy.SMTP.clone(max_line_length=998))
    message["Subject"] = one_line(subject)
    message["From"] = sender
    message["To"] = recipient
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["References"] = f"<incident-{incident_id}@{domain}>"
    message["X-Oncall-Incident"] = str(incident_id)
    message.set_content(text)
    return message


IDLE_LIMIT = 30.0
"""Seconds a session is kept unused: servers end idle sessions (RFC 5321 asks them to wait at
least five minutes; many wait one), and one found ended costs a NOOP and a new session."""

MESSAGES_PER_SESSION = 100
"""Messages sent on one session before it is ended: some servers cap them and answer 421."""


@dataclass
class _Session:
    smtp: smtplib.SMTP
    messages: int = 0
    idle_since: float = 0.0


class SmtpSessions:
    """Open SMTP sessions kept between messages, shared by a process's threads: each message
    takes one (or opens one), and gives it back only after the server accepted the message, so
    a session that failed in any way is never used again."""

    def __init__(self, connect: Callable[[], smtplib.SMTP],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._connect = connect
        self._clock = clock
        self._idle: list[_Session] = []
        self._lock = threading.Lock()

    def take(self) -> _Session:
        """The most recently used open session that still answers NOOP, or a new one; a
        server that lets NOOP time out fails the send at once rather than after a second
        timeout on a new session."""
        while True:
            with self._lock:
                session = self._idle.pop() if self._idle else None
            if session is None:
                return _Session(self._connect())
            if self._clock() - session.idle_since < IDLE_LIMIT and _answers(session.smtp):
                return session
            session.smtp.close()  # no QUIT: a page waits, and the server may be gone

    def give_back(self, session: _Session) -> None:
        session.messages += 1
        if session.messages >= MESSAGES_PER_SESSION:
            _end(session.smtp)
            return
        session.idle_since = self._clock()
        with self._lock:
            self._idle.append(session)


def _answers(smtp: smtplib.SMTP) -> bool:
    """Whether the server still holds the session: NOOP is the only way to ask, and costs one
    round trip where a new session costs several and a TLS handshake."""
    try:
        code, _ = smtp.noop()
    except smtplib.SMTPServerDisconnected as exc:
        if isinstance(exc.__context__, TimeoutError):
            raise  # the server holds the session and says nothing: a new one would wait too
        return False
    except (smtplib.SMTPException, OSError):
        return False
    return code == 250


def _end(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class SmtpProvider:
    name = "smtp"

    def __init__(
        self, settings: ProviderSettings, *, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        if settings.smtp is None:
            settings.require("smtp", smtp_url=None)
        assert settings.smtp is not None
        self.server: SmtpSettings = settings.smtp
        self.sender = settings.email_from
        self.timeout = settings.timeout("smtp")
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.sessions = SmtpSessions(self._connect)

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        try:
            message = build_email(self.sender, address, notice)
        except ValueError as exc:  # a header injection attempt or an unusable address
            return DeliveryResult.failed(self.name, f"bad address: {exc}", retryable=False)
        return self.send_message(message)

    def send_text(self, address: str, subject: str, text: str,
                  incident_id: int) -> DeliveryResult:
        """A plain-text mail that is not a notice (a workflow's `email` step), threaded with
        the incident's other mail."""
        try:
            message = text_email(self.sender, address, subject, text, incident_id)
        except ValueError as exc:
            return DeliveryResult.failed(self.name, f"bad address: {exc}", retryable=False)
        return self.send_message(message)

    def send_mail(self, address: str, mail: Mail) -> DeliveryResult:
        """A ready-made mail (`oncall.notify.mail`), with its own headers."""
        try:
            message = build_mail(self.sender, address, mail)
        except ValueError as exc:
            return DeliveryResult.failed(self.name, f"bad address: {exc}", retryable=False)
        return self.send_message(message)

    def send_message(self, message: EmailMessage) -> DeliveryResult:
        """Send one message and read the server's answer (4xx temporary, 5xx permanent)."""
        try:
            refused = self._send(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            detail = "; ".join(
                f"{rcpt}: {code} {text.decode(errors='replace')}"
                for rcpt, (code, text) in exc.recipients.items()
            )
            return DeliveryResult.failed(
                self.name,
                f"recipient refused: {detail}",
                retryable=all(400 <= c < 500 for c in codes),
                status_code=codes[0] if codes else None,
            )
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return DeliveryResult.failed(
                self.name,
                f"SMTP {exc.smtp_code}: {text}",
                retryable=400 <= exc.smtp_code < 500,
                status_code=exc.smtp_code,
            )
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as exc:
            return network_failure(self.name, exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return unexpected_failure(self.name, exc)
        if refused:
            return DeliveryResult.failed(
                self.name, f"recipient refused: {refused}", retryable=False
            )
        return DeliveryResult.sent(self.name, str(message["Message-ID"]))

    def _send(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        session = self.sessions.take()
        try:
            refused = session.smtp.send_message(message)
        except BaseException:
            session.smtp.close()  # never given back: a failed session is not trusted again
            raise
        self.sessions.give_back(session)
        return refused

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                server.host, server.port, timeout=self.timeout, context=self.ssl_context
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=self.timeout)
        try:
            if server.starttls:
                smtp.starttls(context=self.ssl_context)
            if server.username:
                smtp.login(server.username, server.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp
