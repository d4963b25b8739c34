"""The peers as someone running the app offline uses them: from the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
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
