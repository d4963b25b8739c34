"""The peers as someone running the app offline uses them: from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request


def test_peer_runs_from_the_command_line_and_prints_its_settings() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "oncall.testing.peers", "slack", "--port", "0",
         "--user", "alice@example.com=U0ALICE"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        env: dict[str, str] = {}
        while "ONCALL_SLACK_TOKEN" not in env:
            line = process.stdout.readline()
            assert line, "peer exited early"
            if not line.startswith("#"):
                name, _, value = line.strip().partition("=")
                env[name] = value
        request = urllib.request.Request(
            env["ONCALL_SLACK_API_URL"] + "users.lookupByEmail?email=alice@example.com",
            headers={"Authorization": f"Bearer {env['ONCALL_SLACK_TOKEN']}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response)["user"]["id"] == "U0ALICE"
    finally:
        os.kill(process.pid, signal.SIGTERM)
        assert process.wait(timeout=10) == 0


def test_a_slow_peer_answers_each_call_late_and_many_side_by_side() -> None:
    """`slow(s)`: each request is answered `s` after it arrived, as a provider across the
    internet is; a burst of 50 connections at once is neither refused nor answered in turn."""
    from concurrent.futures import ThreadPoolExecutor

    from oncall.testing.peers import SlackPeer

    with SlackPeer(token=None, users={"alice@example.com": "U0ALICE"}) as peer:
        peer.slow(0.3)

        def call(_n: int) -> float:
            started = time.monotonic()
            url = peer.api_url + "users.lookupByEmail?email=alice@example.com"
            with urllib.request.urlopen(url, timeout=5) as response:
                assert json.load(response)["user"]["id"] == "U0ALICE"
            return time.monotonic() - started

        started = time.monotonic()
        with ThreadPoolExecutor(50) as pool:
            took = list(pool.map(call, range(50)))
        assert min(took) >= 0.3
        assert time.monotonic() - started < 1.0  # not one after another, none retried
        assert len(peer.answered) == 50
