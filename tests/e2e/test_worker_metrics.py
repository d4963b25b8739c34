"""A worker's own histograms, served on `--metrics-port`: the first page of an incident it paged
and its sweeps, as Prometheus scrapes them."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from oncall.testing.peers import SlackPeer
from oncall.testing.peers.smtp import SmtpPeer

from .conftest import Stack, free_port, wait_for  # type: ignore[import-not-found]

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def stack(stack_factory: Callable[[dict[str, str]], Stack]) -> Iterator[tuple[Stack, SmtpPeer]]:
    with SlackPeer() as slack, SmtpPeer() as smtp:
        s = stack_factory({**slack.env(), **smtp.env()})
        s.start_api()
        yield s, smtp


def _scrape(port: int) -> str:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return ""


def _value(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(prefix))


def test_a_worker_serves_its_first_page_and_sweep_histograms(
    stack: tuple[Stack, SmtpPeer],
) -> None:
    s, smtp = stack
    port = free_port()
    s.start_worker("--metrics-port", str(port))
    wait_for(lambda: "oncall_sweep_lag_seconds_count" in _scrape(port), 20.0)
    s.post_alert()
    wait_for(lambda: len(smtp.mails) >= 1, 15.0)
    wait_for(lambda: _value(_scrape(port), "oncall_alert_to_first_page_seconds_count") >= 1, 5.0)
    text = _scrape(port)
    assert _value(text, "oncall_sweep_lag_seconds_count") >= 1
    assert _value(text, 'oncall_provider_call_seconds_count{channel="email"') >= 1
