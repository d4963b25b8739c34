"""A provider that accepts the connection and never answers: each call times out, the circuit
opens, the person is paged on their other channel, and other people's pages are not held up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from oncall.testing.peers import SlackPeer
from oncall.testing.peers.smtp import SmtpPeer

from .conftest import (  # type: ignore[import-not-found]
    HOOK_SECRET,
    Blackhole,
    PrivatePostgres,
    PrivateRedis,
    Stack,
    StackMaker,
    poll,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SLACK_USERS = {"alice@example.com": "UALICE", "bob@example.com": "UBOB"}
PROVIDER_TIMEOUT = 2.0
FIRST_PAGE_TARGET = 2.0
"""Seconds from an accepted alert to the first page, as tests/e2e/test_paging.py holds."""
DB_SERVICE = """\
kind: EscalationPolicy
name: db
repeat: 0
steps:
  - {targets: ["user:bob@example.com"], timeout: 1h}
---
kind: Service
name: db
team: ops
escalation_policy: db
---
kind: Integration
name: db-hooks
type: generic
service: db
secret: ${env:HOOK_SECRET}
"""
"""A second service whose only responder is bob: his pages must not wait on alice's."""


@dataclass
class Providers:
    hanging: str
    """The provider that never answers: slack or smtp."""
    slack: SlackPeer
    smtp: SmtpPeer
    blackhole: Blackhole
    _dms: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        env = {**self.slack.env(), **self.smtp.env()}
        if self.hanging == "smtp":
            env["ONCALL_SMTP_URL"] = f"smtp://127.0.0.1:{self.blackhole.port}"
        return env

    def hung_calls(self) -> int:
        """Calls the hanging provider took and never answered."""
        if self.hanging == "slack":
            return len(self.slack.requests) - len(self.slack.answered)
        return self.blackhole.connections

    def pages(self, address: str, summary: str) -> int:
        """Pages about `summary` that reached `address` through the provider still answering."""
        if self.hanging == "smtp":
            channel = self.dm_channel(SLACK_USERS[address])
            return sum(1 for r in self.slack.answered
                       if r.path == "/api/chat.postMessage"
                       and r.params().get("channel") == channel
                       and summary in str(r.params().get("text", "")))
        return sum(1 for m in self.smtp.mails
                   if m.message["To"] == address and summary in str(m.message["Subject"]))

    def dm_channel(self, user: str) -> str:
        """The direct-message channel Slack gives the app for `user`, asked as the app asks."""
        if user not in self._dms:
            answer = httpx.post(f"{self.slack.api_url}conversations.open", data={"users": user},
                                headers={"Authorization": f"Bearer {self.slack.token}"},
                                timeout=5).json()
            self._dms[user] = str(answer["channel"]["id"])
        return self._dms[user]


@pytest.fixture(params=["slack", "smtp"])
def providers(request: pytest.FixtureRequest) -> Iterator[Providers]:
    with SlackPeer(users=SLACK_USERS) as slack, SmtpPeer() as smtp, Blackhole() as hole:
        if request.param == "slack":
            slack.hang()
        yield Providers(request.param, slack, smtp, hole)


def post(stack: Stack, integration: str, key: str) -> None:
    response = httpx.post(
        f"{stack.api_url}/api/v1/integrations/{integration}/alerts",
        json={"summary": f"Alert {key}", "severity": "critical", "dedup_key": key},
        headers={"Authorization": f"Bearer {HOOK_SECRET}"}, timeout=10)
    assert response.status_code == 202, response.text


def test_hanging_provider(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, make_stack: StackMaker,
    providers: Providers,
) -> None:
    pg = private_postgres
    stack = make_stack(pg.url, private_redis.url,
                       env={**providers.env(), "ONCALL_PROVIDER_TIMEOUT": str(PROVIDER_TIMEOUT)},
                       config={"rules/db.yaml": DB_SERVICE})
    stack.start_api()
    stack.start_worker()
    hanging = providers.hanging

    # alice's pages go to the hanging provider first; bob's alerts come right behind them
    for n in range(3):
        post(stack, "hooks", f"alice-{n}")
    late: dict[str, float] = {}
    for n in range(2):
        sent = time.monotonic()
        post(stack, "db-hooks", f"bob-{n}")
        wait_for(lambda n=n: providers.pages("bob@example.com", f"Alert bob-{n}") == 1,  # type: ignore[misc]
                 FIRST_PAGE_TARGET + 1.0)
        late[f"bob-{n}"] = time.monotonic() - sent
    # alice is paged on her other channel, whatever the hanging one does
    for n in range(3):
        wait_for(lambda n=n: providers.pages("alice@example.com", f"Alert alice-{n}") == 1,  # type: ignore[misc]
                 FIRST_PAGE_TARGET + 1.0)

    # each call to the hanging provider ended at its timeout, and the circuit opened
    def circuit_open() -> bool:
        return pg.sql("SELECT circuit FROM provider_circuits "
                      f"WHERE provider = '{hanging}'") == [("open",)]

    poll(circuit_open, 20)
    timeouts = pg.sql("SELECT extract(epoch FROM finished_at - started_at) FROM "
                      f"delivery_attempts WHERE provider = '{hanging}' AND outcome = 'timeout'")
    assert len(timeouts) >= 5
    assert all(PROVIDER_TIMEOUT - 0.2 <= float(str(t)) < PROVIDER_TIMEOUT + 1.0
               for (t,) in timeouts), timeouts

    # with the circuit open the provider is not called at all, and pages go out at once
    calls = providers.hung_calls()
    sent = time.monotonic()
    post(stack, "db-hooks", "bob-open")
    wait_for(lambda: providers.pages("bob@example.com", "Alert bob-open") == 1,
             FIRST_PAGE_TARGET)
    late["bob-open"] = time.monotonic() - sent

    def settled() -> bool:
        return pg.sql("SELECT count(*) FROM notifications "
                      "WHERE status IN ('pending', 'sending') "
                      "AND next_attempt_at < now() + interval '1 minute'")[0][0] == 0

    poll(settled, 30)
    assert providers.hung_calls() == calls, "a call went to a provider whose circuit is open"
    # nothing doubled: each page reached each person once on the channel that answers
    for n in range(3):
        assert providers.pages("alice@example.com", f"Alert alice-{n}") == 1
    for key in ("bob-0", "bob-1", "bob-open"):
        assert providers.pages("bob@example.com", f"Alert {key}") == 1
    assert pg.sql("SELECT idempotency_key FROM notifications GROUP BY 1 "
                  "HAVING count(*) > 1") == []
    assert all(t < FIRST_PAGE_TARGET + 1.0 for t in late.values()), late
