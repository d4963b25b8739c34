"""Email through smtplib against aiosmtpd, and through boto3 SES against moto's server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from oncall.notify.providers.ses import SesProvider
from oncall.notify.providers.smtp import SmtpProvider
from oncall.testing.peers.aws import MotoPeer
from oncall.testing.peers.smtp import SmtpPeer
from oncall.testing.peers.tls import certificates

from .conftest import PAGE, RESOLVED, provider_settings

SENDER = "oncall@example.com"


@pytest.fixture
def smtp() -> Iterator[SmtpPeer]:
    with SmtpPeer() as peer:
        yield peer


@pytest.fixture(scope="module")
def aws() -> Iterator[MotoPeer]:
    with MotoPeer() as peer:
        yield peer


def test_smtp_sends_text_and_html_with_the_ack_link(smtp: SmtpPeer) -> None:
    settings = provider_settings(smtp.env(), ONCALL_EMAIL_FROM=SENDER)
    result = SmtpProvider(settings).send("alice@example.com", PAGE)

    assert result.ok and result.provider_message_id
    (mail,) = smtp.mails
    assert mail.mail_from == SENDER and mail.rcpt_tos == ("alice@example.com",)
    message = mail.message
    assert message["Subject"] == "[oncall] [P1] #123 Triggered: Checkout API 5xx rate above 5% – EU"
    assert message["Message-ID"] == result.provider_message_id
    assert message["X-Oncall-Incident"] == PAGE.incident_id
    assert f"Acknowledge: {PAGE.ack_url}" in mail.part("plain")
    html = mail.part("html")
    assert 'href="https://oncall.example.com/ack/t0k3n?sig=abc&amp;exp=1700000000"' in html
    assert "&lt;prod&gt; &amp; eu-west-1" in html


@pytest.mark.parametrize(("code", "retryable"), [(550, False), (450, True)])
def test_smtp_rejection_follows_smtp_semantics(smtp: SmtpPeer, code: int, retryable: bool) -> None:
    smtp.reject(code, "mailbox unavailable")
    result = SmtpProvider(provider_settings(smtp.env())).send("alice@example.com", PAGE)
    assert not result.ok and result.retryable is retryable and result.status_code == code
    assert smtp.mails == []


def test_smtp_timeout_is_retryable(smtp: SmtpPeer, short_timeout: str) -> None:
    smtp.hang(seconds=5)
    settings = provider_settings(smtp.env(), ONCALL_SMTP_TIMEOUT=short_timeout)
    result = SmtpProvider(settings).send("alice@example.com", PAGE)
    assert not result.ok and result.retryable and "timeout" in (result.error or "")


def test_smtp_server_down_is_retryable() -> None:
    with SmtpPeer() as peer:
        env = peer.env()
    result = SmtpProvider(provider_settings(env)).send("alice@example.com", PAGE)
    assert not result.ok and result.retryable


def test_smtp_upgrades_with_starttls_and_checks_the_certificate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with SmtpPeer(starttls=True) as peer:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        untrusted = SmtpProvider(provider_settings(peer.env())).send("alice@example.com", PAGE)
        monkeypatch.setenv("SSL_CERT_FILE", str(certificates().ca_file))
        trusted = SmtpProvider(provider_settings(peer.env())).send("alice@example.com", PAGE)
        plain = SmtpProvider(provider_settings(peer.env(), ONCALL_SMTP_URL=peer.url.split("?")[0])
                             ).send("alice@example.com", PAGE)

    assert not untrusted.ok and untrusted.retryable and "certificate" in (untrusted.error or "")
    assert trusted.ok, trusted.error
    assert not plain.ok and plain.status_code == 530  # the server wants STARTTLS first
    assert [m.rcpt_tos for m in peer.mails] == [("alice@example.com",)]


def test_ses_sends_through_moto(aws: MotoPeer) -> None:
    aws.verify_sender(SENDER)
    settings = provider_settings(aws.env(), ONCALL_EMAIL_FROM=SENDER)
    before = len(aws.emails)
    result = SesProvider(settings).send("alice@example.com", RESOLVED)

    assert result.ok and result.provider_message_id
    sent = aws.emails[before:]
    assert [e.message_id for e in sent] == [result.provider_message_id]
    assert sent[0].destinations["ToAddresses"] == ["alice@example.com"]
    assert (
        sent[0].subject == "[oncall] [P1] #123 Resolved by bob: Checkout API 5xx rate above 5% – EU"
    )
    assert "Resolved by bob" in sent[0].body


def test_ses_unverified_sender_is_permanent(aws: MotoPeer) -> None:
    settings = provider_settings(aws.env(), ONCALL_EMAIL_FROM="stranger@example.org")
    result = SesProvider(settings).send("alice@example.com", PAGE)
    assert not result.ok and not result.retryable
    assert result.status_code == 400 and "MessageRejected" in (result.error or "")


def test_ses_unreachable_is_retryable(short_timeout: str) -> None:
    with SmtpPeer() as closed:  # a port that was free a moment ago, now closed
        port = closed.port
    settings = provider_settings(
        ONCALL_AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        ONCALL_AWS_ACCESS_KEY_ID="testing",
        ONCALL_AWS_SECRET_ACCESS_KEY="testing",
        ONCALL_SES_TIMEOUT=short_timeout,
    )
    result = SesProvider(settings).send("alice@example.com", PAGE)
    assert not result.ok and result.retryable


def test_smtp_refuses_header_injection(smtp: SmtpPeer) -> None:
    result = SmtpProvider(provider_settings(smtp.env())).send("a@example.com\nBcc: x@evil", PAGE)
    assert not result.ok and not result.retryable
    assert smtp.mails == []
