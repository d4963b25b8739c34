"""Value types of the format: what they accept, what they refuse, and how they print."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from pydantic import BaseModel, ValidationError

from oncall.config.types import (
    ClockTime,
    Duration,
    DurationField,
    LocalDateTime,
    MissingSecret,
    SecretRef,
    TargetField,
    TimeZone,
    resolve_env,
)


class Holder(BaseModel):
    duration: DurationField | None = None
    local: LocalDateTime | None = None
    clock: ClockTime | None = None
    zone: TimeZone | None = None
    secret: SecretRef | None = None
    target: TargetField | None = None


def refused(**values: object) -> str:
    with pytest.raises(ValidationError) as info:
        Holder(**values)  # type: ignore[arg-type]
    return str(info.value.errors()[0]["msg"])


@pytest.mark.parametrize(
    ("text", "days", "seconds", "calendar"),
    [
        ("30s", 0, 30, False),
        ("5m", 0, 300, False),
        ("2h", 0, 7200, False),
        ("1d", 1, 0, True),
        ("1w", 7, 0, True),
        ("1h30m", 0, 5400, False),
        ("2w3d", 17, 0, True),
    ],
)
def test_durations(text: str, days: int, seconds: int, calendar: bool) -> None:
    d = Duration.parse(text)
    assert (d.days, d.seconds, d.is_calendar) == (days, seconds, calendar)
    assert d.timedelta == timedelta(days=days, seconds=seconds)
    assert Holder(duration=text).model_dump(mode="json")["duration"] == text  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["5 minutes", "5", "m", "", "1.5h", "-5m", "5M"])
def test_bad_durations(text: str) -> None:
    assert "invalid duration" in refused(duration=text)


def test_local_datetime() -> None:
    h = Holder(local="2026-03-08T02:30")  # type: ignore[arg-type]
    assert h.local == datetime(2026, 3, 8, 2, 30)
    assert h.model_dump(mode="json")["local"] == "2026-03-08T02:30"
    assert "has a UTC offset" in refused(local="2026-03-08T02:30+01:00")
    assert "has a UTC offset" in refused(local="2026-03-08T02:30Z")
    assert "expected YYYY-MM-DDTHH:MM" in refused(local="08/03/2026 02:30")
    assert "invalid local date-time" in refused(local="2026-02-30T10:00")


def test_clock_time() -> None:
    assert Holder(clock="09:30").clock == 570  # type: ignore[arg-type]
    assert Holder(clock="24:00").clock == 1440  # type: ignore[arg-type]
    assert "invalid time" in refused(clock="25:00")
    assert "invalid time" in refused(clock="9:00")


def test_time_zone_suggests() -> None:
    assert Holder(zone="Australia/Lord_Howe").zone.key == "Australia/Lord_Howe"  # type: ignore[arg-type,union-attr]
    assert "did you mean 'Europe/London'" in refused(zone="Europe/Londn")
    assert "unknown time zone" in refused(zone="../../etc/passwd")


def test_secrets_must_be_env_references() -> None:
    assert Holder(secret="${env:PROM_SECRET}").secret == "${env:PROM_SECRET}"  # type: ignore[arg-type]
    assert "literal secret" in refused(secret="hunter2")
    assert "expected exactly ${env:NAME}" in refused(secret="${env:A} ${env:B}")
    assert "expected exactly ${env:NAME}" in refused(secret="${vault:x}")


def test_resolve_env() -> None:
    assert resolve_env("Bearer ${env:T}", {"T": "abc"}) == "Bearer abc"
    with pytest.raises(MissingSecret, match="T is not set"):
        resolve_env("Bearer ${env:T}", {})


def test_targets() -> None:
    t = Holder(target="user:Alice@Example.com").target  # type: ignore[arg-type]
    assert t is not None and (t.kind, t.ref) == ("user", "alice@example.com")
    assert "did you mean 'schedule'" in refused(target="schedul:x")
    assert "invalid target" in refused(target="payments")
