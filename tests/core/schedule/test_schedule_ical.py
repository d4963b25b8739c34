"""iCalendar feeds parse back with the icalendar library and hold the final shifts."""

from datetime import UTC, datetime

from icalendar import Calendar

from oncall.config.models import Schedule
from oncall.core.schedule import shifts
from oncall.core.schedule.ical import person_feed, schedule_feed

A, B, D = "alice@example.com", "bob@example.com", "dave@example.com"
S = Schedule.model_validate(
    {
        "kind": "Schedule",
        "name": "payments",
        "team": "t",
        "timezone": "Europe/London",
        "layers": [
            {
                "name": "daily",
                "members": [A, B],
                "rotation": {"every": "1d", "start": "2026-03-27T09:00"},
            }
        ],
        "overrides": [{"who": D, "from": "2026-03-28T12:00", "to": "2026-03-28T13:00"}],
    }
)
START, END = datetime(2026, 3, 27, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
STAMP = datetime(2026, 3, 1, tzinfo=UTC)


def events(feed: bytes) -> list[tuple[datetime, datetime, str]]:
    cal = Calendar.from_ical(feed)
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    return [
        (e.decoded("DTSTART"), e.decoded("DTEND"), str(e["SUMMARY"])) for e in cal.walk("VEVENT")
    ]


def test_schedule_feed_has_every_staffed_shift() -> None:
    feed = schedule_feed(S, START, END, stamp=STAMP)
    staffed = [s for s in shifts(S, START, END) if s.who]
    got = events(feed)
    assert [(a, b) for a, b, _ in got] == [(s.start, s.end) for s in staffed]
    assert got[0][2] == f"{A} on call (payments)"
    cal = Calendar.from_ical(feed)
    uids = [str(e["UID"]) for e in cal.walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    assert (
        schedule_feed(S, START, END, stamp=STAMP) == feed
    )  # stable: subscribers update, not duplicate


def test_spring_forward_shift_is_23_hours_in_the_feed() -> None:
    got = events(schedule_feed(S, START, END, stamp=STAMP))
    sat = next((a, b) for a, b, _ in got if a == datetime(2026, 3, 28, 13, tzinfo=UTC))
    assert sat[1] == datetime(2026, 3, 29, 8, tzinfo=UTC)  # 09:00 BST


def test_person_feed_holds_only_their_shifts() -> None:
    got = events(person_feed([S], D, START, END, stamp=STAMP))
    assert got == [
        (
            datetime(2026, 3, 28, 12, tzinfo=UTC),
            datetime(2026, 3, 28, 13, tzinfo=UTC),
            "On call: payments",
        )
    ]
