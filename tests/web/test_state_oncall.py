"""On-call and schedule page handlers: who is on call, the 14-day timeline, overrides, feeds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from oncall.db.models import AuditEventRow, ScheduleOverrideRow
from oncall.web.state.oncall import OnCallState, ScheduleState

from .conftest import ADMIN, OBSERVER, RESPONDER, call

SCHEDULE = "storefront-primary"


def _schedule(state: Callable[..., Any], email: str) -> ScheduleState:
    s: ScheduleState = state(ScheduleState, email, f"/schedules/{SCHEDULE}", {"schedule": SCHEDULE})
    call(s, "load")
    return s


def test_on_call_now(state: Callable[..., Any]) -> None:
    s: OnCallState = state(OnCallState, OBSERVER, "/oncall")
    call(s, "load")
    names = [r["schedule"] for r in s.schedules]
    assert SCHEDULE in names and names == sorted(names)
    assert all("@" in r["who"] or "gap" in r["who"] for r in s.schedules)
    web = next(r for r in s.services if r["service"] == "storefront-web")
    primary = next(r for r in s.schedules if r["schedule"] == SCHEDULE)
    assert web["first"] == f"{primary['who']} ({SCHEDULE})"
    call(s, "apply_tz", "Europe/Berlin")
    assert s.tz == "Europe/Berlin"


def test_timeline_rows(state: Callable[..., Any]) -> None:
    s = _schedule(state, OBSERVER)
    assert s.found and s.team == "storefront" and len(s.ticks) == 14
    assert [r["name"] for r in s.rows][-1] == "Final"
    assert all(b["who"] in s.members for r in s.rows for b in r["bars"])
    assert not s.can_respond


def test_unknown_schedule(state: Callable[..., Any]) -> None:
    s: ScheduleState = state(ScheduleState, OBSERVER, "/schedules/nope", {"schedule": "nope"})
    call(s, "load")
    assert not s.found


def _holder(s: ScheduleState) -> str:
    final = s.rows[-1]["bars"]
    return str(final[0]["who"])


def test_admin_override_then_cancel(state: Callable[..., Any], web: Engine) -> None:
    s = _schedule(state, ADMIN)
    cover = next(m for m in s.members if m != _holder(s))
    call(s, "set_form", "who", cover)
    call(s, "set_form", "start", "2026-03-10T13:00")
    call(s, "set_form", "end", "2026-03-10T15:00")
    call(s, "set_form", "reason", "dentist")
    call(s, "submit_override")
    assert s.error == "" and cover in s.notice
    assert len(s.overrides) == 1 and s.overrides[0]["who"] == cover
    call(s, "cancel", s.overrides[0]["id"])
    assert s.overrides == [] and "cancelled" in s.notice
    with web.connect() as conn:
        types = list(
            conn.scalars(select(AuditEventRow.type).where(AuditEventRow.subject_kind == "schedule"))
        )
    assert types == ["schedule.override_created", "schedule.override_cancelled"]


def test_responder_may_not_override_someone_else(state: Callable[..., Any], web: Engine) -> None:
    s = _schedule(state, RESPONDER)
    holder = _holder(s)
    if holder == RESPONDER:  # the example rotation: make sure the shift is someone else's
        return
    call(s, "set_form", "who", RESPONDER)
    call(s, "set_form", "start", "2026-03-10T13:00")
    call(s, "set_form", "end", "2026-03-10T14:00")
    call(s, "submit_override")
    assert "only override their own shifts" in s.error
    with web.connect() as conn:
        assert conn.scalar(select(ScheduleOverrideRow.id)) is None


def test_observer_cannot_override(state: Callable[..., Any]) -> None:
    s = _schedule(state, OBSERVER)
    call(s, "set_form", "who", RESPONDER)
    call(s, "set_form", "start", "2026-03-10T13:00")
    call(s, "set_form", "end", "2026-03-10T14:00")
    call(s, "submit_override")
    assert "observer" in s.error


def test_bad_time_is_reported(state: Callable[..., Any]) -> None:
    s = _schedule(state, ADMIN)
    call(s, "set_form", "start", "tomorrow")
    call(s, "submit_override")
    assert "invalid time" in s.error


def test_swap_form(state: Callable[..., Any]) -> None:
    s = _schedule(state, ADMIN)
    call(s, "set_form", "kind", "swap")
    call(s, "set_form", "who", RESPONDER)
    call(s, "set_form", "other", OBSERVER)
    call(s, "set_form", "start", "2026-03-10T13:00")
    call(s, "set_form", "end", "2026-03-10T14:00")
    call(s, "set_form", "other_start", "2026-03-11T13:00")
    call(s, "set_form", "other_end", "2026-03-11T14:00")
    call(s, "submit_override")
    assert "not a member" in s.error or "not on call" in s.error


def test_feeds(state: Callable[..., Any]) -> None:
    s = _schedule(state, RESPONDER)
    call(s, "feed_for_schedule")
    assert "/ical/" in s.new_feed_url and s.new_feed_url.endswith(".ics")
    call(s, "feed_for_me")
    assert [f["subject"] for f in s.feeds] == [f"schedule:{SCHEDULE}", f"person:{RESPONDER}"]
    call(s, "revoke_feed", s.feeds[0]["id"])
    assert [f["subject"] for f in s.feeds] == [f"person:{RESPONDER}"]
    assert s.new_feed_url == "" and "revoked" in s.notice
