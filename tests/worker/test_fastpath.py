"""A plain page's notice, made from what the claim read, against the notice `build_notice`
makes from the rows: the same notices sent, the same trail recorded; and what the claim
cancels instead of sending."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import oncall.store.outbox as outbox_store
import oncall.worker.dispatcher as dispatcher
from oncall.db.engine import write_session
from oncall.db.models import NotificationRow
from oncall.incidents import service
from oncall.incidents.actors import Actor
from oncall.notify.message import Notice
from oncall.store.outbox import Picked
from oncall.worker.escalator import due_timer_ids

from .conftest import Harness  # type: ignore[import-not-found]
from .test_dispatcher import _recorded, outbox  # type: ignore[import-not-found]


def _same_incident(notice: Notice) -> Notice:
    """A notice with its incident's identity taken out, to compare two incidents' notices."""
    return dataclasses.replace(notice, incident_id="", number=0, url="", ack_url=None)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, Notice]]:
    """Every provider call the dispatcher makes: (channel kind, address, notice)."""
    calls: list[tuple[str, str, Notice]] = []
    real = dispatcher._call

    def recording(provider: Any, kind: str, address: str, notice: Notice,
                  data: dict[str, str]) -> Any:
        calls.append((kind, address, notice))
        return real(provider, kind, address, notice, data)

    monkeypatch.setattr(dispatcher, "_call", recording)
    return calls


@pytest.fixture
def fast_claims(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Ids of the rows whose notice was made from the claim's read."""
    claimed: list[int] = []
    real = outbox_store.plain_notice

    def counting(picked: Picked, *args: Any) -> Any:
        notice = real(picked, *args)
        if notice is not None:
            claimed.append(picked.id)
        return notice

    monkeypatch.setattr(outbox_store, "plain_notice", counting)
    return claimed


def test_fast_claim_sends_and_records_what_the_general_claim_does(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, sent: list[tuple[str, str, Notice]],
    fast_claims: list[int],
) -> None:
    h = harness
    fast = h.open_incident()
    h.run_due()
    fast_sent, fast_rows = list(sent), _recorded(h, fast)
    with write_session(h.engine) as session:
        service.resolve(session, fast, Actor.integration("prometheus-prod"), h.clock())
    channels = {channel for _, channel, _, _ in outbox(h, fast)}
    assert {"slack", "email"} <= channels  # a fast (Slack) and a general (email) row

    assert fast_claims, "no row took the fast path"

    monkeypatch.setattr(outbox_store, "plain_notice", lambda *_args: None)
    sent.clear()
    general = h.open_incident()
    assert general != fast
    h.run_due()

    def first_pages(calls: list[tuple[str, str, Notice]]) -> list[tuple[str, str, Notice]]:
        # the resolve of the first incident also sends its Slack messages' updates
        return [(k, a, _same_incident(n)) for k, a, n in calls if k != "update"]

    assert first_pages(fast_sent) == first_pages(sent)
    assert fast_rows == _recorded(h, general)


def test_a_page_for_an_acknowledged_incident_is_cancelled_not_sent(
    harness: Harness, sent: list[tuple[str, str, Notice]], fast_claims: list[int]
) -> None:
    h = harness
    incident_id = h.open_incident()
    for timer_id in h.runtime.due_timers():
        h.runtime.run_timer(timer_id)  # the step ran; its pages are owed, not sent
    with write_session(h.engine) as session:
        service.acknowledge(session, incident_id, Actor.integration("prometheus-prod"),
                            h.clock())
    with Session(h.engine) as session:
        assert not due_timer_ids(session, h.clock())
        pages = session.scalars(select(NotificationRow.id).where(
            NotificationRow.incident_id == incident_id, NotificationRow.kind == "page")).all()
    assert pages
    for notification_id in pages:
        assert h.runtime.dispatch(notification_id).outcome == "skipped"

    assert not fast_claims
    assert not [a for k, a, _ in sent if k == "page"]
    statuses = {status for kind, _, _, status in outbox(h, incident_id) if kind == "page"}
    assert statuses == {"cancelled"}
