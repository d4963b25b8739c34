"""Providers keep their connections: a page is a request on an open connection (a message on
an open SMTP session), not a new TCP and TLS handshake, and a connection the provider closed
while idle costs a new one, not a failed page."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

import pytest

from oncall.notify.providers.base import DeliveryResult
from oncall.notify.providers.slack import SlackProvider
from oncall.notify.providers.smtp import SmtpProvider
from oncall.notify.providers.teams import TeamsProvider
from oncall.testing.peers import SlackPeer, TeamsPeer
from oncall.testing.peers.base import Peer
from oncall.testing.peers.smtp import SmtpPeer
from oncall.testing.peers.tls import certificates

from .conftest import PAGE, provider_settings

USERS = {"alice@example.com": "U0ALICE"}


class Kept(AbstractContextManager["Kept"], Protocol):
    """A provider's stand-in that counts the connections made to it."""

    @property
    def connections(self) -> int: ...

    def env(self) -> dict[str, str]: ...

    def close_idle_after(self, seconds: float | None) -> None: ...


def taken(peer: Kept) -> int:
    """What the stand-in took: mails for SMTP, requests for the others."""
    if isinstance(peer, SmtpPeer):
        return len(peer.mails)
    assert isinstance(peer, Peer)
    return len(peer.requests)


def _slack_channel(peer: Kept) -> Callable[[], DeliveryResult]:
    provider = SlackProvider(provider_settings(peer.env()))
    return lambda: provider.send("#checkout", PAGE)


def _slack_dm(peer: Kept) -> Callable[[], DeliveryResult]:
    provider = SlackProvider(provider_settings(peer.env()))
    return lambda: provider.send("alice@example.com", PAGE)


def _teams(peer: Kept) -> Callable[[], DeliveryResult]:
    assert isinstance(peer, TeamsPeer)
    provider = TeamsProvider(provider_settings())
    return lambda: provider.send(peer.webhook_url, PAGE)


def _smtp(peer: Kept) -> Callable[[], DeliveryResult]:
    assert isinstance(peer, SmtpPeer)
    provider = SmtpProvider(provider_settings(peer.env()))
    return lambda: provider.send("alice@example.com", PAGE)


CASES = [
    pytest.param(lambda: SlackPeer(users=USERS), _slack_channel, id="slack-channel"),
    pytest.param(lambda: SlackPeer(users=USERS), _slack_dm, id="slack-dm"),
    pytest.param(lambda: SlackPeer(users=USERS, tls=True), _slack_channel, id="slack-https"),
    pytest.param(TeamsPeer, _teams, id="teams"),
    pytest.param(SmtpPeer, _smtp, id="smtp"),
    pytest.param(lambda: SmtpPeer(starttls=True), _smtp, id="smtp-starttls"),
]


@pytest.fixture(autouse=True)
def _trust_the_peers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates().ca_file))


@pytest.mark.parametrize(("make_peer", "sender"), CASES)
def test_pages_go_out_over_one_kept_connection(
    make_peer: Callable[[], Kept], sender: Callable[[Kept], Callable[[], DeliveryResult]]
) -> None:
    with make_peer() as peer:
        send = sender(peer)
        results = [send() for _ in range(12)]

        assert all(r.ok for r in results), [r.error for r in results if not r.ok]
        assert taken(peer) >= 12
        assert peer.connections == 1


@pytest.mark.parametrize(("make_peer", "sender"), CASES)
def test_a_connection_closed_while_idle_costs_a_new_one_not_a_page(
    make_peer: Callable[[], Kept], sender: Callable[[Kept], Callable[[], DeliveryResult]]
) -> None:
    with make_peer() as peer:
        peer.close_idle_after(0.2)
        send = sender(peer)
        first = send()
        time.sleep(0.6)  # the peer has closed the idle connection by now
        second = send()

        assert first.ok and second.ok, (first.error, second.error)
        assert peer.connections == 2


@pytest.mark.parametrize(("make_peer", "sender"), [CASES[0], CASES[-1]])
def test_many_threads_share_the_pool(
    make_peer: Callable[[], Kept], sender: Callable[[Kept], Callable[[], DeliveryResult]]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with make_peer() as peer:
        if isinstance(peer, SlackPeer):
            peer.slow(0.05)
        send = sender(peer)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: send(), range(40)))

        assert all(r.ok for r in results)
        assert taken(peer) >= 40
        assert peer.connections <= 8


def test_an_smtp_session_that_failed_is_not_used_again(short_timeout: str) -> None:
    """A refused message or a server that stopped answering leaves the session in a state
    nobody should trust: the next message opens a new one, and goes out."""
    with SmtpPeer() as peer:
        provider = SmtpProvider(provider_settings(peer.env(), ONCALL_SMTP_TIMEOUT=short_timeout))

        def send() -> DeliveryResult:
            return provider.send("alice@example.com", PAGE)

        peer.reject(550)
        refused = send()
        peer.recover()
        after_refusal = send()
        peer.hang(seconds=5)
        timed_out = send()
        peer.recover()
        after_timeout = send()

        assert not refused.ok and not refused.retryable
        assert not timed_out.ok and timed_out.retryable
        assert after_refusal.ok and after_timeout.ok
        assert len(peer.mails) == 2
        assert peer.connections == 3


def test_a_kept_smtp_session_whose_server_stopped_answering_fails_after_one_timeout(
    short_timeout: str,
) -> None:
    with SmtpPeer() as peer:
        provider = SmtpProvider(provider_settings(peer.env(), ONCALL_SMTP_TIMEOUT=short_timeout))
        assert provider.send("alice@example.com", PAGE).ok
        peer.hang(seconds=5)
        started = time.monotonic()
        result = provider.send("alice@example.com", PAGE)
        took = time.monotonic() - started

        assert not result.ok and result.retryable
        assert took < 1.8 * float(short_timeout)  # a second timeout would make it 2x or more
        assert peer.connections == 1


def test_smtp_sessions_are_ended_after_a_while_unused_and_after_many_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from oncall.notify.providers import smtp

    with SmtpPeer() as peer:
        provider = SmtpProvider(provider_settings(peer.env()))
        clock = [0.0]
        provider.sessions = smtp.SmtpSessions(provider._connect, clock=lambda: clock[0])
        monkeypatch.setattr(smtp, "MESSAGES_PER_SESSION", 3)
        for _ in range(4):
            assert provider.send("alice@example.com", PAGE).ok
        assert peer.connections == 2  # the fourth message on a second session
        clock[0] += smtp.IDLE_LIMIT
        assert provider.send("alice@example.com", PAGE).ok
        assert peer.connections == 3


PROXIED = [
    pytest.param(TeamsPeer, lambda peer, url: TeamsProvider(provider_settings()).send(
        url + "/webhookb2/oncall-test/IncomingWebhook/0123", PAGE), id="teams"),
    pytest.param(lambda: SlackPeer(users=USERS), lambda peer, url: SlackProvider(
        provider_settings(peer.env(), ONCALL_SLACK_API_URL=url + "/api/")).send(
        "#checkout", PAGE), id="slack"),
]


@pytest.mark.parametrize(("make_peer", "send"), PROXIED)
def test_calls_go_through_the_proxy_the_environment_names_but_not_for_no_proxy(
    monkeypatch: pytest.MonkeyPatch, make_peer: Callable[[], Peer],
    send: Callable[[Peer, str], DeliveryResult],
) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with make_peer() as proxy:  # a peer takes a proxy's absolute-form requests as its own
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        provider_url = "http://provider.example.invalid"
        result = send(proxy, provider_url)

        assert result.ok, result.error
        (request,) = proxy.requests
        assert request.header("Host") == "provider.example.invalid"

        monkeypatch.setenv("NO_PROXY", "provider.example.invalid")
        bypassed = send(proxy, provider_url)
        assert not bypassed.ok and bypassed.retryable  # straight to a name that resolves nowhere
        assert len(proxy.requests) == 1
