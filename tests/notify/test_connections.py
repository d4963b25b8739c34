"""Providers keep their connections: a page is a request on an open connection, not a new
TCP and TLS handshake, and a connection the provider closed while idle costs a new one, not
a failed page."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from oncall.notify.providers.base import DeliveryResult
from oncall.notify.providers.slack import SlackProvider
from oncall.notify.providers.teams import TeamsProvider
from oncall.testing.peers import SlackPeer, TeamsPeer
from oncall.testing.peers.base import Peer
from oncall.testing.peers.tls import certificates

from .conftest import PAGE, provider_settings

USERS = {"alice@example.com": "U0ALICE"}


def _slack_channel(peer: Peer) -> Callable[[], DeliveryResult]:
    provider = SlackProvider(provider_settings(peer.env()))
    return lambda: provider.send("#checkout", PAGE)


def _slack_dm(peer: Peer) -> Callable[[], DeliveryResult]:
    provider = SlackProvider(provider_settings(peer.env()))
    return lambda: provider.send("alice@example.com", PAGE)


def _teams(peer: Peer) -> Callable[[], DeliveryResult]:
    assert isinstance(peer, TeamsPeer)
    provider = TeamsProvider(provider_settings())
    return lambda: provider.send(peer.webhook_url, PAGE)


CASES = [
    pytest.param(lambda: SlackPeer(users=USERS), _slack_channel, id="slack-channel"),
    pytest.param(lambda: SlackPeer(users=USERS), _slack_dm, id="slack-dm"),
    pytest.param(lambda: SlackPeer(users=USERS, tls=True), _slack_channel, id="slack-https"),
    pytest.param(TeamsPeer, _teams, id="teams"),
]


@pytest.fixture(autouse=True)
def _trust_the_peers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates().ca_file))


@pytest.mark.parametrize(("make_peer", "sender"), CASES)
def test_pages_go_out_over_one_kept_connection(
    make_peer: Callable[[], Peer], sender: Callable[[Peer], Callable[[], DeliveryResult]]
) -> None:
    with make_peer() as peer:
        send = sender(peer)
        results = [send() for _ in range(12)]

        assert all(r.ok for r in results), [r.detail for r in results if not r.ok]
        assert len(peer.requests) >= 12
        assert peer.connections == 1


@pytest.mark.parametrize(("make_peer", "sender"), CASES)
def test_a_connection_closed_while_idle_costs_a_new_one_not_a_page(
    make_peer: Callable[[], Peer], sender: Callable[[Peer], Callable[[], DeliveryResult]]
) -> None:
    with make_peer() as peer:
        peer.close_idle_after(0.2)
        send = sender(peer)
        first = send()
        time.sleep(0.6)  # the peer has closed the idle connection by now
        second = send()

        assert first.ok and second.ok, (first.detail, second.detail)
        assert peer.connections == 2


def test_many_threads_share_the_pool() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with SlackPeer(users=USERS) as peer:
        peer.slow(0.05)
        send = _slack_channel(peer)
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _: send(), range(40)))

        assert all(r.ok for r in results)
        assert peer.connections <= 8


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

        assert result.ok, result.detail
        (request,) = proxy.requests
        assert request.header("Host") == "provider.example.invalid"

        monkeypatch.setenv("NO_PROXY", "provider.example.invalid")
        bypassed = send(proxy, provider_url)
        assert not bypassed.ok and bypassed.retryable  # straight to a name that resolves nowhere
        assert len(proxy.requests) == 1
