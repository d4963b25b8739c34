"""Handlers that block (database sessions, provider SDK calls) run off the event loop: an
acknowledgement waiting on a slow Slack does not hold up the alerts arriving meanwhile."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from oncall.notify.message import ACK_ACTION_ID
from oncall.testing.peers import SlackPeer

SIGNING = "slack-signing-s3cret"
SLOW_USER = "USLOW1"


@pytest.fixture
def slow_slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackPeer]:
    """A Slack that takes every call and answers none (until `recover`)."""
    with SlackPeer(users={"marcus.bell@northwind.example": SLOW_USER}) as peer:
        for name, value in {**peer.env(), "ONCALL_SLACK_SIGNING_SECRET": SIGNING}.items():
            monkeypatch.setenv(name, value)
        peer.hang()
        try:
            yield peer
        finally:
            peer.recover()


def _click(url: str) -> None:
    payload = {"type": "block_actions", "user": {"id": SLOW_USER},
               "actions": [{"action_id": ACK_ACTION_ID, "value": "acknowledge:1"}]}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               **SlackPeer.sign(body, SIGNING)}
    httpx.post(f"{url}/api/v1/slack/interactions", content=body, headers=headers, timeout=30)


def test_a_slow_slack_lookup_does_not_delay_alerts(slow_slack: SlackPeer, live_server: Any
                                                    ) -> None:
    server = live_server  # set up after slow_slack: the app reads Slack's settings at start
    clicker = threading.Thread(target=_click, args=(server.url,), daemon=True)
    clicker.start()
    deadline = time.monotonic() + 10
    while not any(r.path == "/api/users.info" for r in slow_slack.requests):
        assert time.monotonic() < deadline, "the Slack handler never asked Slack who clicked"
        time.sleep(0.02)

    started = time.monotonic()
    answer = httpx.post(
        f"{server.url}/api/v1/integrations/synthetic-checks/alerts",
        json={"summary": "Checkout synthetic failed", "severity": "critical"},
        headers={"Authorization": "Bearer synth-s3cret"}, timeout=30,
    )
    took = time.monotonic() - started

    assert answer.status_code == 202, answer.text
    assert took < 1.0, f"the alert waited {took:.1f} s behind the Slack handler"
    assert clicker.is_alive(), "the Slack lookup should still be waiting"
    slow_slack.recover()
    clicker.join(30)
