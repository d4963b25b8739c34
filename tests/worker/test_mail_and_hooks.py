"""Ready-made mail and webhook posts through the outbox: sent once per key, with their own
headers and exact bytes, retried like any send, and never resolving a secret in a URL."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from oncall.db.engine import write_connection
from oncall.db.models import NotificationRow
from oncall.notify.mail import Mail
from oncall.store import outbox
from oncall.testing.peers import WebhookPeer
from oncall.workflows.http import json_body

from .conftest import Harness

UNSUBSCRIBE = {"List-Unsubscribe": "<https://status.example/u/abc>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def _mail(harness: Harness, key: str, address: str = "reader@example.org") -> int | None:
    with write_connection(harness.engine) as conn:
        return outbox.queue_mail(conn, key=key, address=address, now=harness.clock(),
                                 mail=Mail("Checkout is degraded", "We are investigating.",
                                           "<p>We are investigating.</p>", UNSUBSCRIBE))


def test_a_mail_goes_out_once_with_its_headers(harness: Harness) -> None:
    first = _mail(harness, "status:1:reader")
    assert first is not None
    assert _mail(harness, "status:1:reader") is None  # the same key: not queued again
    harness.run_due()
    (received,) = harness.smtp.mails
    message = received.message
    assert message["Subject"] == "Checkout is degraded"
    assert message["To"] == "reader@example.org"
    assert message["List-Unsubscribe"] == UNSUBSCRIBE["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "We are investigating." in received.part("plain")
    with harness.engine.connect() as conn:
        status = conn.scalar(select(NotificationRow.status).where(NotificationRow.id == first))
    assert status == "sent"


def test_a_refused_mail_is_retried_then_sent(harness: Harness) -> None:
    harness.smtp.reject(451, "4.3.0 try later")
    row = _mail(harness, "status:2:reader")
    harness.run_due()
    assert harness.smtp.mails == []
    harness.smtp.recover()
    harness.clock.advance(timedelta(minutes=5))
    harness.run_due()
    assert len(harness.smtp.mails) == 1
    with harness.engine.connect() as conn:
        sent = conn.execute(select(NotificationRow.status, NotificationRow.attempt_count)
                            .where(NotificationRow.id == row)).one()
    assert tuple(sent) == ("sent", 2)


def _hook(harness: Harness, url: str, key: str = "hook:1") -> int | None:
    content = json_body({"page": "public", "text": "Checkout — degraded", "n": 1}).decode()
    with write_connection(harness.engine) as conn:
        return outbox.queue_hook(conn, key=key, url=url, content=content,
                                 headers={"X-Signature": "sha256=abc"}, now=harness.clock())


def test_a_hook_posts_the_exact_bytes_it_was_queued_with(harness: Harness) -> None:
    with WebhookPeer() as peer:
        row = _hook(harness, peer.url + "/subscriber")
        harness.run_due()
        (request,) = peer.requests
    assert request.method == "POST" and request.path == "/subscriber"
    expected = {"page": "public", "text": "Checkout — degraded", "n": 1}
    assert request.body == json_body(expected)  # key order kept, so a signature holds
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == expected
    assert request.headers["X-Signature"] == "sha256=abc"
    with harness.engine.connect() as conn:
        status = conn.scalar(select(NotificationRow.status).where(NotificationRow.id == row))
    assert status == "sent"


def test_a_failing_hook_is_retried_and_a_secret_in_its_url_never_resolved(
        harness: Harness) -> None:
    with WebhookPeer() as peer:
        peer.fail(503, times=1)
        retried = _hook(harness, peer.url + "/flaky", key="hook:2")
        secret = _hook(harness, peer.url + "/${env:ONCALL_DATABASE_URL}", key="hook:3")
        harness.run_due()
        harness.clock.advance(timedelta(minutes=5))
        harness.run_due()
        paths = [r.path for r in peer.requests]
    assert paths == ["/flaky", "/flaky"]
    with harness.engine.connect() as conn:
        rows = dict(conn.execute(select(NotificationRow.id, NotificationRow.status)
                                 .where(NotificationRow.id.in_([retried, secret]))).all())
        error = conn.scalar(select(NotificationRow.last_error)
                            .where(NotificationRow.id == secret))
    assert rows == {retried: "sent", secret: "failed"}
    assert "ONCALL_DATABASE_URL" in (error or "")
