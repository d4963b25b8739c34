"""RFC 5545 readings of local times on DST edges, in every zone the acceptance names."""

from datetime import UTC, datetime

import pytest

from oncall.config.types import zone
from oncall.core.schedule.localtime import exists, require_aware, resolve, to_local

CASES = [
    # zone, local time, expected UTC instant, why
    ("America/New_York", "2026-03-08T02:30", "2026-03-08T07:30", "skipped: read as EST, 03:30 EDT"),
    ("America/New_York", "2026-03-08T03:30", "2026-03-08T07:30", "first time after the gap"),
    ("America/New_York", "2026-11-01T01:30", "2026-11-01T05:30", "repeated: first, EDT"),
    ("America/New_York", "2026-11-01T02:30", "2026-11-01T07:30", "after the repeat, EST"),
    ("Europe/London", "2026-03-29T01:30", "2026-03-29T01:30", "skipped: read as GMT, 02:30 BST"),
    ("Europe/London", "2026-10-25T01:30", "2026-10-25T00:30", "repeated: first, BST"),
    ("Australia/Sydney", "2026-10-04T02:30", "2026-10-03T16:30", "skipped: read as AEST"),
    ("Australia/Sydney", "2026-04-05T02:30", "2026-04-04T15:30", "repeated: first, AEDT"),
    ("Australia/Lord_Howe", "2026-10-04T02:15", "2026-10-03T15:45", "30-min gap: +10:30"),
    ("Australia/Lord_Howe", "2026-04-05T01:45", "2026-04-04T14:45", "30-min repeat: +11"),
    ("Asia/Kolkata", "2026-03-08T02:30", "2026-03-07T21:00", "no DST: always +05:30"),
]


@pytest.mark.parametrize(("tz", "local", "utc", "why"), CASES, ids=[c[3] for c in CASES])
def test_local_times_resolve_by_rfc5545(tz: str, local: str, utc: str, why: str) -> None:
    got = resolve(datetime.fromisoformat(local), zone(tz))
    assert got == datetime.fromisoformat(utc).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("tz", "local", "expected"),
    [
        ("America/New_York", "2026-03-08T02:30", False),
        ("America/New_York", "2026-11-01T01:30", True),
        ("Australia/Lord_Howe", "2026-10-04T02:15", False),
        ("Australia/Lord_Howe", "2026-10-04T02:30", True),
        ("Asia/Kolkata", "2026-03-08T02:30", True),
    ],
)
def test_exists(tz: str, local: str, expected: bool) -> None:
    assert exists(datetime.fromisoformat(local), zone(tz)) is expected


def test_to_local_gives_naive_wall_clock() -> None:
    t = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # the second 01:30 in New York
    assert to_local(t, zone("America/New_York")) == datetime(2026, 11, 1, 1, 30)


def test_naive_instants_are_rejected() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        require_aware(datetime(2026, 1, 1))
