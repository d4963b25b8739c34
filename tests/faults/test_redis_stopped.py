"""Redis stopped while people are being paged: the queue is only the fast path, so the
database sweepers page everyone anyway, a sweep later at most; restarted, nothing is doubled."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from oncall.testing.peers import SlackPeer
from oncall.testing.peers.smtp import SmtpPeer

from .conftest import (  # type: ignore[import-not-found]
    PrivatePostgres,
    PrivateRedis,
    StackMaker,
    poll,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SLACK_USERS = {"alice@example.com": "UALICE", "bob@example.com": "UBOB"}
FIRST_PAGE_TARGET = 2.0
"""Seconds from an accepted alert to the first page, with every part of the system up."""
SWEEP_INTERVAL = 1.0
"""The workers' --sweep-interval (tests/e2e/conftest.py)."""
STEP_TIMEOUT = 3.0
"""The e2e policy's step timeout: bob is paged this long after alice."""


@pytest.fixture
def peers() -> Iterator[tuple[SlackPeer, SmtpPeer]]:
    with SlackPeer(users=SLACK_USERS) as slack, SmtpPeer() as smtp:
        yield slack, smtp


def mails(smtp: SmtpPeer, address: str, subject_has: str) -> int:
    return sum(1 for m in smtp.mails
               if m.message["To"] == address and subject_has in str(m.message["Subject"]))


def test_paging_while_redis_is_stopped(
    private_postgres: PrivatePostgres, private_redis: PrivateRedis, make_stack: StackMaker,
    peers: tuple[SlackPeer, SmtpPeer],
) -> None:
    pg = private_postgres
    slack, smtp = peers
    stack = make_stack(pg.url, private_redis.url, env={**slack.env(), **smtp.env()})
    stack.start_api()
    workers = [stack.start_worker(), stack.start_worker()]

    private_redis.stop()
    sent = time.monotonic()
    response = stack.post_alert(dedup_key="queue-down", summary="Paged without a queue")
    assert response.status_code == 202, response.text  # the queue is not the source of truth
    wait_for(lambda: mails(smtp, "alice@example.com", "Paged without a queue") == 1,
             FIRST_PAGE_TARGET + SWEEP_INTERVAL)
    first_page = time.monotonic() - sent
    # the next step is found by the sweepers too
    wait_for(lambda: mails(smtp, "bob@example.com", "Paged without a queue") == 1,
             STEP_TIMEOUT + FIRST_PAGE_TARGET + SWEEP_INTERVAL)
    assert all(w.poll() is None for w in workers), "a worker exited without its queue"

    private_redis.start()  # empty: everything the API queued meanwhile is gone
    response = stack.post_alert(dedup_key="queue-back", summary="Paged with the queue back")
    assert response.status_code == 202, response.text
    wait_for(lambda: mails(smtp, "bob@example.com", "Paged with the queue back") == 1,
             STEP_TIMEOUT + 2 * FIRST_PAGE_TARGET + SWEEP_INTERVAL)

    def played_out() -> bool:
        return pg.sql("SELECT (SELECT count(*) FROM escalation_timers WHERE status <> 'done')"
                      " + (SELECT count(*) FROM notifications"
                      "    WHERE status IN ('pending', 'sending'))")[0][0] == 0

    poll(played_out, 20)
    time.sleep(3 * SWEEP_INTERVAL + 1)  # long enough for a duplicate to show
    for summary in ("Paged without a queue", "Paged with the queue back"):
        assert mails(smtp, "alice@example.com", summary) == 1, (summary, first_page)
        assert mails(smtp, "bob@example.com", summary) == 1, summary
    assert pg.sql("SELECT step, count(*) FROM escalation_timers WHERE status = 'done' "
                  "GROUP BY 1 ORDER BY 1") == [(0, 2), (1, 2), (2, 2)]
    assert pg.sql("SELECT idempotency_key FROM notifications GROUP BY 1 "
                  "HAVING count(*) > 1") == []
    dms = [r.params()["channel"] for r in slack.answered if r.path == "/api/chat.postMessage"
           and not str(r.params()["channel"]).startswith("#")]
    assert sorted(dms.count(c) for c in set(dms)) == [2, 2]  # one DM per person per incident
    assert all(w.poll() is None for w in workers)
