"""PostgreSQL restarted under real processes: senders are told to retry (503, Retry-After) and
never lose an accepted alert; workers wait, then run every due step once."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from oncall.testing.debian import tool
from oncall.testing.peers import SlackPeer
from oncall.testing.peers.smtp import SmtpPeer

from .conftest import (  # type: ignore[import-not-found]
    PrivatePostgres,
    PrivateRedis,
    Stack,
    StackMaker,
    free_port,
    log_text,
    poll,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

ALERTMANAGER_INSTALL = Path(__file__).parents[1] / "api" / "install_alertmanager.sh"
PROM_SECRET = "faults-prom-s3cret"
PROM_INTEGRATION = """\
kind: Integration
name: prom
type: alertmanager
service: api
secret: ${env:PROM_SECRET}
"""
ALERTMANAGER_CONFIG = """\
route:
  receiver: oncall
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: oncall
    webhook_configs:
      - url: {url}/api/v1/integrations/prom/alerts
        http_config:
          authorization: {{type: Bearer, credentials: {secret}}}
"""
FIRED_WHILE_DOWN = 5
SLACK_USERS = {"alice@example.com": "UALICE", "bob@example.com": "UBOB"}


class Sender(threading.Thread):
    """Posts alert after alert, each with a key of its own, and keeps every answer."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.answers: list[tuple[str, int, str | None]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.halt.is_set():
            key = f"stream-{n}"
            n += 1
            try:
                response = self.stack.post_alert(dedup_key=key, summary=f"Alert {key}")
            except httpx.HTTPError as exc:  # no answer at all: the sender retries it too
                self.answers.append((key, 0, repr(exc)))
                continue
            self.answers.append((key, response.status_code, response.headers.get("Retry-After")))
            time.sleep(0.05)

    def codes(self) -> set[int]:
        return {code for _, code, _ in self.answers}

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def retry(stack: Stack, key: str, deadline: float = 15.0) -> None:
    """Deliver as a sender does: again after each 503, until it is accepted."""
    start = time.monotonic()
    while True:
        response = stack.post_alert(dedup_key=key, summary=f"Alert {key}")
        if response.status_code == 202:
            return
        assert response.status_code == 503 and response.headers.get("Retry-After"), response
        assert time.monotonic() - start < deadline, f"{key} still refused after {deadline} s"
        time.sleep(0.2)


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[Path, list[subprocess.Popen[bytes]]]]:
    """The Alertmanager binary and the processes started from it, stopped after the test."""
    binary = Path(tool("prometheus-alertmanager", ALERTMANAGER_INSTALL))
    processes: list[subprocess.Popen[bytes]] = []
    yield binary, processes
    for process in processes:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def start_alertmanager(binary: Path, processes: list[subprocess.Popen[bytes]], api_url: str,
                       root: Path) -> str:
    config = root / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG.format(url=api_url, secret=PROM_SECRET))
    port = free_port()
    log = open(root / "alertmanager.log", "ab")  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [str(binary), f"--config.file={config}", f"--storage.path={root / 'am-data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
         "--log.level=info"],
        stdout=log, stderr=log,
    )
    processes.append(process)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"alertmanager exited: {(root / 'alertmanager.log').read_text()}")
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 30)
    return url


def failed_webhook_requests(alertmanager_url: str) -> float:
    """Alertmanager's own count of webhook requests that failed (and will be retried)."""
    text = httpx.get(f"{alertmanager_url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if (line.startswith("alertmanager_notification_requests_failed_total")
                and 'integration="webhook"' in line):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("stop", ["fast", "immediate"])
def test_ingest_while_postgres_restarts(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, make_stack: StackMaker,
    alertmanager: tuple[Path, list[subprocess.Popen[bytes]]], tmp_path: Path, stop: str,
) -> None:
    """`fast` is a service restart, `immediate` a crash: either way, what was accepted stays."""
    pg = private_postgres
    stack = make_stack(pg.url, private_redis.url, env={"PROM_SECRET": PROM_SECRET},
                       config={"rules/prom.yaml": PROM_INTEGRATION})
    stack.start_api()
    am = start_alertmanager(*alertmanager, stack.api_url, tmp_path)

    sender = Sender(stack)
    sender.start()
    wait_for(lambda: 202 in sender.codes(), 10)
    pg.stop(stop)
    down_at = time.monotonic()
    # while it is down, Alertmanager is handed alerts; its deliveries fail and are retried
    fired = [{"labels": {"alertname": f"Fault{n}", "severity": "critical", "env": "prod"},
              "annotations": {"summary": f"fired while the database was down ({n})"},
              "startsAt": (datetime.now(UTC) - timedelta(seconds=5)).isoformat()}
             for n in range(FIRED_WHILE_DOWN)]
    assert httpx.post(f"{am}/api/v2/alerts", json=fired, timeout=5).status_code == 200
    wait_for(lambda: failed_webhook_requests(am) >= FIRED_WHILE_DOWN, 30)
    wait_for(lambda: sender.codes() - {202}, 15)  # the first answer of the outage
    down_for = time.monotonic() - down_at
    pg.start()
    up_at = time.monotonic()
    wait_for(lambda: sender.answers[-1][1] == 202, 30)
    sender.stop()

    # every answer was 202 or 503 with Retry-After: never a 500, never silence
    wrong = [a for a in sender.answers if a[1] not in (202, 503) or (a[1] == 503 and not a[2])]
    assert not wrong, wrong
    accepted = {key for key, code, _ in sender.answers if code == 202}
    refused = [key for key, code, _ in sender.answers if code == 503]
    assert refused, f"no request was refused in {down_for:.1f} s down"
    # accepted means stored, with its incident and its first step
    stored = dict(pg.sql("SELECT dedup_key, count(*) FROM alerts "
                         "WHERE integration_name = 'hooks' GROUP BY 1"))
    assert accepted <= set(stored), sorted(accepted - set(stored))
    assert set(stored) <= accepted | set(refused)  # a refused delivery may have been stored
    # the sender retries what was refused: each lands, once
    for key in refused:
        retry(stack, key)
    stored = dict(pg.sql("SELECT dedup_key, count(*) FROM alerts "
                         "WHERE integration_name = 'hooks' GROUP BY 1"))
    assert set(stored) == accepted | set(refused)
    assert set(stored.values()) == {1}

    # Alertmanager's retries land every alert it was given, once
    def landed() -> bool:
        rows = pg.sql("SELECT count(*) FROM alerts WHERE integration_name = 'prom'")
        return rows[0][0] >= FIRED_WHILE_DOWN

    poll(landed, 45)
    caught_up = time.monotonic() - up_at
    names = pg.sql("SELECT labels->>'alertname', count(*) FROM alerts "
                   "WHERE integration_name = 'prom' GROUP BY 1 ORDER BY 1")
    assert names == [(f"Fault{n}", 1) for n in range(FIRED_WHILE_DOWN)], caught_up
    # every alert has its open incident, and every incident its first escalation step
    orphans = pg.sql("SELECT a.id FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id "
                     "WHERE i.id IS NULL")
    assert orphans == []
    stepless = pg.sql("SELECT i.id FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM "
                      "escalation_timers t WHERE t.incident_id = i.id)")
    assert stepless == []
    assert "Traceback" not in log_text(stack, "api.log")


@pytest.fixture
def peers() -> Iterator[tuple[SlackPeer, SmtpPeer]]:
    with SlackPeer(users=SLACK_USERS) as slack, SmtpPeer() as smtp:
        yield slack, smtp


def mails_to(smtp: SmtpPeer, address: str) -> int:
    return sum(1 for m in smtp.mails if m.message["To"] == address)


PLAYED_OUT = [(0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 2, 1)]
"""Each step of the e2e policy once (generation, cycle, step, runs): alice, bob, and the run
past the last step that finds the policy exhausted."""


def test_escalation_while_postgres_restarts(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, make_stack: StackMaker,
    peers: tuple[SlackPeer, SmtpPeer],
) -> None:
    pg = private_postgres
    slack, smtp = peers
    stack = make_stack(pg.url, private_redis.url, env={**slack.env(), **smtp.env()})
    stack.start_api()
    workers = [stack.start_worker(), stack.start_worker()]
    assert stack.post_alert().status_code == 202
    wait_for(lambda: mails_to(smtp, "alice@example.com") == 1, 5)
    due = datetime.fromisoformat(str(pg.sql(
        "SELECT due_at FROM escalation_timers WHERE status = 'pending'")[0][0]))

    pg.stop()
    # down across the moment bob's step falls due, and a few sweeps past it
    wait_for(lambda: datetime.now(UTC) > due + timedelta(seconds=3), 10)
    assert mails_to(smtp, "bob@example.com") == 0
    assert all(w.poll() is None for w in workers), "a worker exited while the database was down"
    pg.start()
    up = time.monotonic()

    wait_for(lambda: mails_to(smtp, "bob@example.com") >= 1, 15)
    caught_up = time.monotonic() - up
    assert caught_up < 15

    def played_out() -> bool:
        return pg.sql("SELECT (SELECT count(*) FROM escalation_timers WHERE status <> 'done')"
                      " + (SELECT count(*) FROM notifications"
                      "    WHERE status IN ('pending', 'sending'))")[0][0] == 0

    poll(played_out, 20)
    time.sleep(4)  # three sweeps and Huey's scheduler: long enough for a duplicate to show
    assert mails_to(smtp, "alice@example.com") == 1
    assert mails_to(smtp, "bob@example.com") == 1
    assert pg.sql("SELECT generation, cycle, step, count(*) FROM escalation_timers "
                  "WHERE status = 'done' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3") == PLAYED_OUT
    assert pg.sql("SELECT idempotency_key FROM notifications GROUP BY 1 "
                  "HAVING count(*) > 1") == []
    assert all(w.poll() is None for w in workers)
