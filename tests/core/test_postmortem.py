"""Postmortems, computed: key figures by hand, night in the recipient's own time zone, the
merged timeline's order and choices, the Markdown export (golden)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from oncall.core.night import is_night, zone
from oncall.core.postmortem import (
    ActionItem,
    Choice,
    Document,
    Entry,
    IncidentFacts,
    Kind,
    PageFacts,
    Section,
    duration_text,
    key_figures,
    merge,
    render_markdown,
    starting_body,
    window,
)
from oncall.testing import golden

GOLDEN = Path(__file__).parent / "golden"
T0 = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)


def incident(id: int, at: datetime, ack: timedelta | None, res: timedelta | None,
             priority: str = "P2") -> IncidentFacts:
    return IncidentFacts(id, f"Incident {id}", "checkout-api", "payments", priority,
                         "resolved" if res else "triggered", at,
                         at + ack if ack is not None else None,
                         at + res if res is not None else None)


@pytest.mark.parametrize(("at", "tz", "night"), [
    # New York springs forward at 07:00 UTC on 2026-03-08 (02:00 EST → 03:00 EDT).
    (datetime(2026, 3, 8, 12, 30, tzinfo=UTC), "America/New_York", False),  # 08:30 EDT
    (datetime(2026, 3, 7, 12, 30, tzinfo=UTC), "America/New_York", True),   # 07:30 EST
    (datetime(2026, 3, 8, 2, 59, tzinfo=UTC), "America/New_York", False),   # 21:59 EST
    (datetime(2026, 3, 8, 3, 0, tzinfo=UTC), "America/New_York", True),     # 22:00 EST
    (datetime(2026, 3, 8, 13, 0, tzinfo=UTC), "Asia/Kolkata", False),       # 18:30 IST
    (datetime(2026, 3, 8, 16, 30, tzinfo=UTC), "Asia/Kolkata", True),       # 22:00 IST
    (datetime(2026, 3, 8, 7, 59, tzinfo=UTC), None, True),                  # UTC, no zone
    (datetime(2026, 3, 8, 8, 0, tzinfo=UTC), "Not/AZone", False),           # unknown → UTC
])
def test_night_is_22_to_08_on_the_recipients_own_clock(at: datetime, tz: str | None,
                                                       night: bool) -> None:
    assert is_night(at, zone(tz)) is night


def test_zone_falls_back_to_utc() -> None:
    assert zone(None) == ZoneInfo("UTC") and zone("Mars/Olympus") == ZoneInfo("UTC")


def test_key_figures_by_hand() -> None:
    incidents = [
        incident(1, T0, timedelta(minutes=7), timedelta(minutes=50)),
        incident(2, T0 + timedelta(minutes=3), timedelta(minutes=2), timedelta(hours=2), "P1"),
    ]
    pages = [
        PageFacts(1, "ana@example.com", "sms", T0 + timedelta(seconds=20), "Europe/Madrid"),
        PageFacts(1, "ana@example.com", "voice", T0 + timedelta(minutes=5), "Europe/Madrid"),
        PageFacts(2, "bo@example.com", "slack", T0 + timedelta(minutes=4), "America/Chicago"),
        PageFacts(2, "cy@example.com", "sms", T0 + timedelta(hours=4), "Asia/Tokyo"),
    ]
    f = key_figures(incidents, pages)
    assert f.started_at == T0
    assert f.time_to_acknowledge == timedelta(minutes=5)  # incident 2 at T0+3+2
    assert f.time_to_resolve == timedelta(hours=2, minutes=3)
    assert f.people_paged == ("ana@example.com", "bo@example.com", "cy@example.com")
    assert f.pages == 4 and f.pages_by_channel == {"slack": 1, "sms": 2, "voice": 1}
    # 06:00 Madrid (CET) and 23:04 Chicago (CST) are night; 18:00 in Tokyo is not.
    assert f.night_pages_by_person == {"ana@example.com": 2, "bo@example.com": 1}
    assert f.night_pages == 3


def test_figures_wait_for_every_incident_to_resolve() -> None:
    f = key_figures([incident(1, T0, None, timedelta(hours=1)), incident(2, T0, None, None)], [])
    assert f.time_to_acknowledge is None and f.time_to_resolve is None and f.pages == 0


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "—"), (0, "0 s"), (42, "42 s"), (200, "3 min 20 s"), (3840, "1 h 04 min"),
    (90061, "1 d 1 h 01 min"),
])
def test_durations_read_as_people_say_them(seconds: int | None, text: str) -> None:
    assert duration_text(None if seconds is None else timedelta(seconds=seconds)) == text


def test_the_timeline_orders_by_time_then_source_and_keeps_choices() -> None:
    at = T0
    entries = [
        Entry("event:12", at, Kind.PAGE, "Paged ana"),
        Entry("event:3", at, Kind.TRIGGERED, "Incident opened"),
        Entry("config:7", at, Kind.CONFIG, "Config applied"),
        Entry("change:2", at - timedelta(hours=1), Kind.CHANGE, "Deploy v2"),
        Entry("notice:1", at + timedelta(minutes=1), Kind.STATUS, "Status page"),
    ]
    merged = merge(entries, {"event:12": Choice(True, "woke ana"),
                             "change:2": Choice(False)})
    assert [e.key for e in merged] == ["change:2", "config:7", "event:3", "event:12", "notice:1"]
    assert [(e.kept, e.chosen) for e in merged] == [
        (False, True), (True, False), (True, False), (True, True), (True, False)]
    assert merged[3].note == "woke ana"


def test_changes_are_looked_for_around_the_incidents() -> None:
    now = T0 + timedelta(days=1)
    done = [incident(1, T0, None, timedelta(hours=1)), incident(2, T0, None, timedelta(hours=2))]
    assert window(done, now) == (T0 - timedelta(hours=6), T0 + timedelta(hours=3))
    still_open = [*done, incident(3, T0, None, None)]
    assert window(still_open, now) == (T0 - timedelta(hours=6), now)


def test_a_new_body_has_a_heading_per_section() -> None:
    assert starting_body([Section("Summary", "What happened."), Section("Lessons")]) == (
        "## Summary\n\nWhat happened.\n\n## Lessons\n")


def test_the_markdown_export_is_golden() -> None:
    incidents = [incident(41, T0, timedelta(minutes=6), timedelta(minutes=48), "P1")]
    pages = [PageFacts(41, "ana@example.com", "sms", T0 + timedelta(seconds=30), "Europe/Madrid")]
    doc = Document(
        id=7, title="Checkout | payments down", status="published", severity="P1",
        owner="ana@example.com", incidents=incidents, figures=key_figures(incidents, pages),
        timeline=[
            Entry("event:1", T0, Kind.TRIGGERED, "Incident opened: Checkout errors", kept=True),
            Entry("event:2", T0 + timedelta(seconds=30), Kind.PAGE, "Paged ana by SMS"),
            Entry("event:3", T0 + timedelta(minutes=6), Kind.ACKNOWLEDGED,
                  "Acknowledged by ana@example.com", kept=True, note="woken at 06:00\nby SMS"),
        ],
        items=[ActionItem(1, "Alert on error rate", "bo@example.com", "open", date(2026, 3, 20),
                          "https://tracker.example/PAY-1")],
        body="## Summary\n\nCheckout failed for 48 minutes.\n",
        updated_at=T0 + timedelta(days=1), published_at=T0 + timedelta(days=2))
    golden.check(GOLDEN / "postmortem.md", render_markdown(doc))
