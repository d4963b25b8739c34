"""Stopping processes the way systemd and container runtimes do (SIGTERM), with real processes:
a worker lets its calls in flight finish within `--grace`, and hands back what it still holds so
the next worker sends it at once, exactly once; the API answers a request it had started."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from oncall.db.engine import make_engine
from oncall.testing.peers import SlackPeer
from oncall.testing.peers.smtp import SmtpPeer

from .conftest import (  # type: ignore[import-not-found]
    BACKENDS,
    HOOK_SECRET,
    ONCALL,
    SETTLE,
    Stack,
    wait_for,
)

pytestmark = [pytest.mark.slow]

SLACK_USERS = {"alice@example.com": "UALICE", "bob@example.com": "UBOB"}
PROVIDER_TIMEOUT = "60"
"""Provider calls may take a minute, so a claim's lease is some two minutes: a row taken over
within seconds was handed back, not found expired."""


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def peers() -> Iterator[tuple[SlackPeer, SmtpPeer]]:
    with SlackPeer(users=SLACK_USERS) as slack, SmtpPeer() as smtp:
        yield slack, smtp


@pytest.fixture
def stack(stack_factory: Callable[[dict[str, str]], Stack],
          peers: tuple[SlackPeer, SmtpPeer]) -> Stack:
    slack, smtp = peers
    s = stack_factory({**slack.env(), **smtp.env(), "ONCALL_PROVIDER_TIMEOUT": PROVIDER_TIMEOUT})
    s.start_api()
    return s


def sql(stack: Stack, query: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = make_engine(stack.env["ONCALL_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query), params)]
    finally:
        engine.dispose()


def worker_id(proc: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


def held_by(stack: Stack, worker: str) -> list[int]:
    return [row[0] for row in sql(
        stack, "SELECT id FROM notifications WHERE status = 'sending' AND claimed_by = :w",
        w=worker)]


def stop(proc: subprocess.Popen[bytes], timeout: float) -> float:
    """SIGTERM, then wait for the exit; the seconds it took."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout)
    return time.monotonic() - started


def test_a_worker_stopped_mid_call_hands_its_claim_to_the_next_worker(
    stack: Stack, peers: tuple[SlackPeer, SmtpPeer]
) -> None:
    slack, smtp = peers
    slack.hang()  # every Slack call blocks: the worker holds its claims
    first = stack.start_worker("--grace", "1")
    first_id = worker_id(first)
    assert stack.post_alert().status_code == 202
    wait_for(lambda: held_by(stack, first_id) and slack.requests, 10.0)
    # the email goes out beside the hanging Slack calls, and is on record: only Slack's are held
    wait_for(lambda: smtp.mails and sql(
        stack, "SELECT count(*) FROM notifications WHERE channel = 'email' "
               "AND status = 'sent'")[0][0] == 1, 10.0)
    held = held_by(stack, first_id)

    took = stop(first, 15)
    assert first.returncode == 0
    assert took < 1 + 5  # the grace period, not the provider timeout nor the lease
    log = (stack.logs / "worker-0.log").read_text()
    assert "handed back" in log
    # handed back: pending, unclaimed, due now
    rows = sql(stack, "SELECT id, status, claimed_by FROM notifications WHERE id IN "
                      f"({', '.join(map(str, held))})")
    assert {(status, claimed) for _id, status, claimed in rows} == {("pending", None)}

    slack.recover()
    second = stack.start_worker()
    second_id = worker_id(second)
    # taken over within seconds, though the first worker's lease had two minutes to run
    wait_for(lambda: sql(stack, "SELECT count(*) FROM notifications WHERE id IN "
                                f"({', '.join(map(str, held))}) AND status = 'sent'"
                         )[0][0] == len(held), 10.0)
    time.sleep(SETTLE)
    sent = sql(stack, "SELECT status, claimed_by, attempt_count FROM notifications WHERE id IN "
                      f"({', '.join(map(str, held))})")
    assert {(status, claimed) for status, claimed, _ in sent} == {("sent", second_id)}
    # Slack took each held message once: the hanging calls delivered nothing
    posted = [r.params()["channel"] for r in slack.answered if r.path == "/api/chat.postMessage"]
    assert len(posted) == len(set(posted))
    assert sum(1 for m in smtp.mails if m.message["To"] == "alice@example.com") == 1
    attempts = sql(stack, "SELECT notification_id, count(*) FROM delivery_attempts "
                          "WHERE outcome = 'sent' AND notification_id IN "
                          f"({', '.join(map(str, held))}) GROUP BY notification_id")
    assert sorted(count for _id, count in attempts) == [1] * len(held)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_worker_lets_its_call_in_flight_finish(
    stack: Stack, peers: tuple[SlackPeer, SmtpPeer], signum: signal.Signals
) -> None:
    slack, _ = peers
    slack.hang()
    worker = stack.start_worker("--grace", "20")
    worker_name = worker_id(worker)
    assert stack.post_alert().status_code == 202
    wait_for(lambda: held_by(stack, worker_name) and slack.requests, 10.0)
    held = held_by(stack, worker_name)

    started = time.monotonic()
    worker.send_signal(signum)
    time.sleep(1.0)
    assert worker.poll() is None  # still waiting for its calls
    slack.recover()  # the calls in flight are dropped; the provider's answer comes on retry
    worker.wait(25)
    assert worker.returncode == 0
    assert time.monotonic() - started < 20
    log = (stack.logs / "worker-0.log").read_text()
    assert "handed back" not in log
    rows = sql(stack, "SELECT status, claimed_by FROM notifications WHERE id IN "
                      f"({', '.join(map(str, held))})")
    assert all(claimed == worker_name for _status, claimed in rows)
    assert held_by(stack, worker_name) == []


def _post_in_two_halves(port: int, body: bytes) -> tuple[socket.socket, bytes]:
    """Open a request and send its headers and the first half of its body."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (f"POST /api/v1/integrations/hooks/alerts HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {HOOK_SECRET}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    half = len(body) // 2
    conn.sendall(head + body[:half])
    return conn, body[half:]


def _status_of(conn: socket.socket) -> int:
    answer = b""
    while b"\r\n" not in answer:
        chunk = conn.recv(4096)
        if not chunk:
            break
        answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_the_api_answers_a_request_it_started_before_sigterm(
    stack: Stack, peers: tuple[SlackPeer, SmtpPeer]
) -> None:
    assert stack.api is not None
    stack.api.terminate()  # the fixture's server; this test starts its own with --grace
    stack.api.wait(10)
    log = open(stack.logs / "api-grace.log", "ab")  # noqa: SIM115
    api = subprocess.Popen([ONCALL, "api", "--port", str(stack.api_port), "--grace", "10"],
                           env=stack.env, stdout=log, stderr=log)
    stack.api = api
    wait_for(stack._api_up, 30)

    body = (b'{"summary": "Checkout latency above 2 s", "severity": "critical", '
            b'"dedup_key": "graceful", "labels": {"env": "prod"}}')
    conn, rest = _post_in_two_halves(stack.api_port, body)
    time.sleep(0.5)  # the request is being read
    api.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert api.poll() is None  # still serving the request in flight
    with pytest.raises(OSError):  # but no longer taking new connections
        socket.create_connection(("127.0.0.1", stack.api_port), timeout=2).close()
    conn.sendall(rest)
    assert _status_of(conn) == 202
    conn.close()
    api.wait(15)
    # uvicorn, once shut down, ends by the signal it was sent, as systemd expects
    assert api.returncode in (0, -signal.SIGTERM)
    assert sql(stack, "SELECT count(*) FROM alerts")[0][0] == 1


def test_a_second_signal_hands_back_at_once(
    stack: Stack, peers: tuple[SlackPeer, SmtpPeer]
) -> None:
    slack, _ = peers
    slack.hang()
    worker = stack.start_worker("--grace", "60")
    worker_name = worker_id(worker)
    assert stack.post_alert().status_code == 202
    wait_for(lambda: held_by(stack, worker_name) and slack.requests, 10.0)

    worker.send_signal(signal.SIGTERM)
    time.sleep(1.0)
    assert worker.poll() is None  # waiting for its calls, up to a minute
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(10)
    assert time.monotonic() - started < 5
    assert worker.returncode == 0
    assert "handed back" in (stack.logs / "worker-0.log").read_text()
    assert held_by(stack, worker_name) == []
    slack.recover()
