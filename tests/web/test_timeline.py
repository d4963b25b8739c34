"""The incident timeline as people read it (`oncall.web.timeline`): each event kind as a
sentence with display names, a page's channels and attempts folded under one entry, runs and
their steps, the filters and their counts, times in the viewer's zone with UTC on hover."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from oncall.web import timeline as tl
from oncall.web.timeline import Attempt, Event, Names, Notice

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MARCUS, PRIYA, DANIEL = ("marcus.bell@northwind.example", "priya.raman@northwind.example",
                         "daniel.whitaker@northwind.example")
NAMES = Names({5: "Daniel Whitaker", 6: "Priya Raman"},
              {MARCUS: "Marcus Bell", PRIYA: "Priya Raman", DANIEL: "Daniel Whitaker"})
TIMEOUTS = [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=15)]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(id: int, seconds: float, type: str, actor: str = "system:oncall",
       before: Any = None, after: Any = None, **data: Any) -> Event:
    return Event(id, at(seconds), type, actor, data, before, after)


@pytest.mark.parametrize(("event", "text"), [
    (ev(1, 0, "incident.triggered", "integration:synthetic-checks", title="Checkout down"),
     "Incident opened: Checkout down"),
    (ev(1, 0, "incident.alert", "integration:synthetic-checks", summary="p99 2 s"),
     "Alert joined: p99 2 s"),
    (ev(1, 0, "alert.suppressed", "integration:x", reason="maintenance window db"),
     "Alert suppressed (maintenance window db)"),
    (ev(1, 0, "incident.declared", f"user:{MARCUS}", service="checkout-api", title="Cards",
        priority="P1"), "Declared by Marcus Bell on checkout-api: Cards (P1)"),
    (ev(1, 0, "incident.acknowledged", f"user:{PRIYA}", via="slack"),
     "Acknowledged by Priya Raman from Slack"),
    (ev(1, 0, "incident.acknowledged", f"user:{PRIYA}", via="web"),
     "Acknowledged by Priya Raman"),
    (ev(1, 0, "incident.acknowledged", f"user:{PRIYA}", via="sms"),
     "Acknowledged by Priya Raman by SMS reply"),
    (ev(1, 0, "incident.resolved", f"user:{MARCUS}", via="voice", note="rolled back"),
     "Resolved by Marcus Bell on a phone call: rolled back"),
    (ev(1, 0, "incident.resolved", "integration:prometheus-prod"),
     "Resolved by prometheus-prod"),
    (ev(1, 0, "incident.reassigned", f"user:{MARCUS}", after={"assignee": PRIYA}),
     "Reassigned to Priya Raman by Marcus Bell"),
    (ev(1, 0, "incident.priority_changed", f"user:{MARCUS}", before={"priority": "P3"},
        after={"priority": "P1"}), "Priority changed from P3 to P1 by Marcus Bell"),
    (ev(1, 0, "incident.role_assigned", f"user:{MARCUS}", role="commander", user=MARCUS),
     "Marcus Bell took commander"),
    (ev(1, 0, "incident.role_assigned", f"user:{MARCUS}", role="scribe", user=PRIYA),
     "Marcus Bell assigned scribe to Priya Raman"),
    (ev(1, 0, "incident.role_cleared", f"user:{MARCUS}", role="scribe", previous=PRIYA),
     "Marcus Bell cleared scribe (was Priya Raman)"),
    (ev(1, 0, "incident.escalated", step=0, cycle=0, users=[DANIEL]),
     "Escalation step 1 — paging Daniel Whitaker"),
    (ev(1, 0, "incident.escalated", step=1, cycle=0, users=[PRIYA, DANIEL]),
     "Escalated to step 2 (no acknowledgement in 5 min) — paging Priya Raman and Daniel "
     "Whitaker"),
    (ev(1, 0, "incident.escalated", step=0, cycle=1, users=[DANIEL]),
     "Escalated to step 1, repeat 2 (no acknowledgement in 15 min) — paging Daniel Whitaker"),
    (ev(1, 0, "incident.escalated", step=2, cycle=-1, users=[PRIYA]),
     "Paged the assignee Priya Raman"),
    (ev(1, 0, "incident.escalated", step=2, cycle=0, users=[]),
     "Escalated to step 3 (no acknowledgement in 10 min) — nobody to page"),
    (ev(1, 0, "incident.escalated", step=1), "Escalated to step 2 (no acknowledgement in 5 min)"),
    (ev(1, 0, "incident.escalate_requested", f"user:{MARCUS}", via="slack"),
     "Escalation requested by Marcus Bell from Slack"),
    (ev(1, 0, "escalation.step_skipped", step=1, reason="reaches no one"),
     "Escalation step skipped: reaches no one"),
    (ev(1, 0, "escalation.exhausted", reason="every step ran and nobody acknowledged"),
     "Escalation policy exhausted: nobody acknowledged"),
    (ev(1, 0, "notification.unreachable", user=DANIEL),
     "Daniel Whitaker has no way to be reached"),
    (ev(1, 0, "notification.sent", kind="page", channel="sms", provider="twilio", user_id=5),
     "Paged Daniel Whitaker by SMS (twilio)"),
    (ev(1, 0, "status_page.notice_posted", f"user:{MARCUS}", after="investigating"),
     "Status page notice posted (investigating) by Marcus Bell"),
    (ev(1, 0, "workflow.plan_failed", "system:workflows", workflow="p1-broadcast"),
     "Workflow p1-broadcast: plan failed"),
    (ev(1, 0, "incident.something_new", f"user:{MARCUS}", x={"y": 1}),
     "incident.something_new by Marcus Bell"),
])
def test_each_event_kind_reads_as_a_sentence(event: Event, text: str) -> None:
    [entry] = tl.build([event], [], NAMES, TIMEOUTS)
    assert entry.text == text
    assert "{" not in entry.text


def test_an_escalation_asked_for_says_who_asked() -> None:
    entries = tl.build([
        ev(1, 0, "incident.escalate_requested", f"user:{MARCUS}"),
        ev(2, 1, "incident.escalated", step=1, cycle=0, users=[PRIYA]),
        ev(3, 400, "incident.escalated", step=2, cycle=0, users=[DANIEL]),
    ], [], NAMES, TIMEOUTS)
    assert [e.text for e in entries] == [
        "Escalation requested by Marcus Bell",
        "Escalated to step 2 (requested by Marcus Bell) — paging Priya Raman",
        "Escalated to step 3 (no acknowledgement in 10 min) — paging Daniel Whitaker",
    ]


def notice(id: int, channel: str, status: str, *, user: int = 5, timer: int = 1,
           due: float = 0, attempts: tuple[Attempt, ...] = (), sent: float | None = None,
           failed: float | None = None, kind: str = "page", address: str = "x") -> Notice:
    return Notice(id, kind, channel, address, user, timer, status, at(0), at(due),
                  sent_at=at(sent) if sent is not None else None,
                  failed_at=at(failed) if failed is not None else None, attempts=attempts)


def attempt(n: int, provider: str, outcome: str, start: float, took_ms: int,
            error: str | None = None) -> Attempt:
    return Attempt(n, provider, outcome, at(start), at(start + took_ms / 1000), error)


def test_a_page_is_one_sentence_with_its_attempts_folded() -> None:
    email = notice(11, "email", "sent", sent=1,
                   attempts=(attempt(1, "smtp", "sent", 1, 76),))
    sms = notice(12, "sms", "cancelled", due=60, failed=30)
    [entry] = tl.build([ev(1, 1, "notification.sent", notification_id=11, kind="page",
                           channel="email", provider="smtp", attempt=1, user_id=5)],
                       [email, sms], NAMES)
    assert entry.text == "Paged Daniel Whitaker by email — sent in 76 ms"
    assert (entry.category, entry.icon, entry.tone) == ("pages", "mail", "ok")
    assert [line.text for line in entry.lines] == [
        "email via smtp, attempt 1: sent in 76 ms",
        "SMS: not sent, the incident no longer needed it",
    ]


def test_retries_and_a_fallback_to_the_next_channel_fold_under_the_page() -> None:
    sms = notice(21, "sms", "failed", user=6, failed=40, attempts=(
        attempt(1, "twilio", "timeout", 0, 10_000, "timed out"),
        attempt(2, "twilio", "failed", 30, 200, "HTTP 503"),
    ))
    voice = notice(22, "voice", "sent", user=6, due=60, sent=41,
                   attempts=(attempt(1, "twilio", "sent", 40.5, 1500),))
    events = [
        ev(1, 10, "notification.attempt_failed", notification_id=21, channel="sms"),
        ev(2, 10, "notification.retry", notification_id=21, channel="sms"),
        ev(3, 40, "notification.failed", notification_id=21, channel="sms"),
        ev(4, 42, "notification.sent", notification_id=22, channel="voice"),
        ev(5, 90, "notification.delivered", "provider:twilio", notification_id=22,
           provider="twilio"),
    ]
    [entry] = tl.build(events, [sms, voice], NAMES)
    assert entry.text == "Paged Priya Raman by phone — sent in 1.5 s, after SMS failed"
    assert [line.text for line in entry.lines] == [
        "SMS via twilio, attempt 1: timeout in 10.0 s: timed out",
        "SMS: will be tried again",
        "SMS via twilio, attempt 2: failed in 200 ms: HTTP 503",
        "SMS: gave up, moving on to phone",
        "phone via twilio, attempt 1: sent in 1.5 s",
        "phone: delivery confirmed by twilio",
    ]


@pytest.mark.parametrize(("statuses", "text", "tone"), [
    (("failed", "failed"), "Could not reach Daniel Whitaker by email and SMS", "bad"),
    (("failed", "pending"), "Paging Daniel Whitaker by SMS… (email failed)", "wait"),
    (("cancelled", "cancelled"),
     "Page to Daniel Whitaker by email and SMS not sent: acknowledged or resolved first", ""),
])
def test_a_page_that_reached_nobody_says_so(statuses: tuple[str, str], text: str,
                                            tone: str) -> None:
    notices = [notice(31, "email", statuses[0]), notice(32, "sms", statuses[1], due=60)]
    [entry] = tl.build([], notices, NAMES)
    assert (entry.text, entry.tone) == (text, tone)


def test_each_person_and_step_is_its_own_page() -> None:
    notices = [notice(41, "email", "sent", user=5, timer=1), notice(42, "email", "sent",
                                                                    user=6, timer=1),
               notice(43, "email", "sent", user=5, timer=2)]
    assert len(tl.build([], notices, NAMES)) == 3


def test_a_workflow_run_folds_its_steps_and_a_runbook_run_its_result() -> None:
    events = [
        ev(1, 0, "workflow.started", "system:workflows", workflow="notify-status-page",
           event="incident.triggered", steps=2),
        ev(2, 1, "workflow.step_succeeded", "workflow:notify-status-page",
           workflow="notify-status-page", step=0, path="steps[0]", kind="webhook",
           outcome="succeeded", status_code=201, duration_ms=42, attempt=1),
        ev(3, 2, "workflow.step_failed", "workflow:notify-status-page",
           workflow="notify-status-page", step=1, path="steps[1]", kind="slack",
           outcome="failed", attempt=3, detail="channel_not_found"),
        ev(4, 5, "runbook.requested", f"user:{MARCUS}", runbook="restart-checkout",
           params={"region": "eu-west-1"}),
        ev(5, 6, "workflow.step_succeeded", f"user:{MARCUS}", workflow="",
           runbook="restart-checkout", step=0, kind="runbook", outcome="succeeded",
           status_code=201, duration_ms=80, attempt=1),
    ]
    run, runbook = tl.build(events, [], NAMES)
    assert run.text == ("Workflow notify-status-page ran on incident.triggered (2 steps): "
                        "1 succeeded, 1 failed")
    assert (run.category, run.tone) == ("automation", "bad")
    assert [line.text for line in run.lines] == [
        "Step 1 (webhook): succeeded, HTTP 201, 42 ms, attempt 1",
        "Step 2 (slack): failed, attempt 3 — channel_not_found",
    ]
    assert runbook.text == ("Runbook restart-checkout run by Marcus Bell (region=eu-west-1): "
                            "1 succeeded")
    assert runbook.category == "people"
    assert [line.text for line in runbook.lines] == [
        "Step 1 (runbook): succeeded, HTTP 201, 80 ms, attempt 1"]


def test_a_note_keeps_its_markdown_for_the_page() -> None:
    [note] = tl.build([ev(1, 0, "incident.note", f"user:{MARCUS}", text="Rolled **back**")],
                      [], NAMES)
    assert (note.text, note.note, note.category) == ("Note by Marcus Bell", "Rolled **back**",
                                                     "people")


def test_filters_count_what_they_show() -> None:
    entries = tl.build([
        ev(1, 0, "incident.triggered", "integration:synthetic-checks", title="x"),
        ev(2, 0, "incident.alert", "integration:synthetic-checks", summary="x"),
        ev(3, 1, "incident.escalated", step=0, cycle=0, users=[DANIEL]),
        ev(4, 2, "incident.acknowledged", f"user:{MARCUS}"),
        ev(5, 3, "incident.note", f"user:{MARCUS}", text="n"),
        ev(6, 4, "workflow.started", "system:workflows", workflow="w", event="e", steps=1),
    ], [notice(7, "email", "sent")], NAMES)
    counts = tl.counts(entries)
    assert counts == {"all": 7, "pages": 2, "people": 2, "automation": 1, "alerts": 2}
    assert [e.kind for e in tl.only(entries, "people")] == ["incident.acknowledged",
                                                             "incident.note"]
    assert len(tl.only(entries, "nonsense")) == 7


def test_times_in_the_viewers_zone_with_utc_on_hover() -> None:
    [entry] = tl.build([ev(1, 5, "incident.acknowledged", f"user:{MARCUS}")], [], NAMES)
    row = tl.row(entry, "America/New_York")
    assert (row["at"], row["utc"]) == ("Tue 10 Mar 08:00:05", "2026-03-10 12:00:05 UTC")
    assert tl.row(entry, "Not/AZone")["at"] == "Tue 10 Mar 12:00:05"


def test_names_come_from_every_place_an_event_mentions_someone() -> None:
    events = [ev(1, 0, "incident.acknowledged", f"user:{MARCUS}"),
              ev(2, 0, "incident.escalated", users=[DANIEL]),
              ev(3, 0, "incident.reassigned", f"user:{MARCUS}", after={"assignee": PRIYA}),
              ev(4, 0, "notification.sent", user_id=9)]
    assert tl.emails_in(events) == {MARCUS, DANIEL, PRIYA}
    assert tl.user_ids_in(events, [notice(5, "sms", "sent", user=5)]) == {5, 9}


def test_five_hundred_events_build_well_under_a_second() -> None:
    events = []
    notices = []
    for i in range(250):
        events.append(ev(i * 2, i, "incident.escalated", step=i % 3, cycle=0, users=[DANIEL]))
        events.append(ev(i * 2 + 1, i, "notification.sent", notification_id=1000 + i,
                         channel="email", user_id=5))
        notices.append(notice(1000 + i, "email", "sent", timer=i, sent=i,
                              attempts=(attempt(1, "smtp", "sent", i, 50),)))
    start = time.perf_counter()
    entries = tl.build(events, notices, NAMES, TIMEOUTS)
    rows = [tl.row(e, "Europe/Berlin") for e in entries]
    assert time.perf_counter() - start < 0.25
    assert len(rows) == 500


@pytest.mark.parametrize(("status", "text", "tone"), [
    ("sent", "Sent update to #payments-oncall by Slack — sent in 80 ms", "ok"),
    ("failed", "Could not send update to #payments-oncall by Slack", "bad"),
    ("cancelled", "Did not send update to #payments-oncall by Slack", ""),
    ("pending", "Sending update to #payments-oncall by Slack", "wait"),
])
def test_a_message_to_a_channel_is_its_own_entry(status: str, text: str, tone: str) -> None:
    attempts = (attempt(1, "slack", "sent", 0, 80),) if status == "sent" else ()
    post = Notice(51, "update", "slack", "#payments-oncall", None, None, status, at(0), at(0),
                  attempts=attempts)
    [entry] = tl.build([], [post], NAMES)
    assert (entry.text, entry.tone, entry.category, entry.icon) == (text, tone, "automation",
                                                                    "hash")
