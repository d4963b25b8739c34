"""`oncall run` twice on a copy of the example config: the second start serves the first one's
web build without compiling, and the app answers.

The first start builds unless `.web/` already holds a build of this code for the port (then it
reuses it too: the point of the fingerprint); either way the second start must not build.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from oncall.cli import web_build

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(config: Path, port: int, env: dict[str, str], log: Path) -> tuple[str, float]:
    """Runs `oncall run` until its sign-in page answers, stops it as Ctrl-C would; its output
    and how long it took to answer."""
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "oncall", "run", str(config), "--port", str(port)],
            cwd=config, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = started + 600
            while True:
                if process.poll() is not None:
                    pytest.fail(f"oncall run exited ({process.returncode}):\n{log.read_text()}")
                try:
                    page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2,
                                     follow_redirects=True)
                    if page.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"oncall run did not answer within 600 s:\n{log.read_text()}")
                time.sleep(0.5)
            took = time.monotonic() - started
            assert "Sign in to see and act on incidents." in page.text
            assert httpx.get(f"http://127.0.0.1:{port}/ping", timeout=5).status_code == 200
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return log.read_text(errors="replace"), took


def test_a_second_start_serves_the_first_build_without_compiling(tmp_path: Path) -> None:
    config = tmp_path / "config"
    for part in ("rules", "schedules", "workflows"):
        shutil.copytree(REPO / part, config / part)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "ONCALL_DATABASE_URL": f"sqlite:///{tmp_path / 'oncall.db'}",
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    port = web_build.recorded_port(REPO) or _free_port()

    first, first_took = _start(config, port, env, tmp_path / "first.log")
    record = (REPO / web_build.FINGERPRINT).read_text()
    assert ("building the web app" in first) != ("reusing the web app's build" in first), first
    assert "uv run reflex run" not in first

    second, second_took = _start(config, port, env, tmp_path / "second.log")
    assert "reusing the web app's build in .web/" in second, second
    for building in ("building the web app", "Compiling", "Creating Production Build",
                     "Initializing"):
        assert building not in second, second
    assert (REPO / web_build.FINGERPRINT).read_text() == record
    print(f"first start answered after {first_took:.1f} s, second after {second_took:.1f} s")
