"""Properties over random schedules: shifts tile a window, agree with who_at, and split cleanly."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncall.config.models import Schedule
from oncall.core.schedule import Shift, on_call, shifts, who_at

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ZONES = [
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "UTC",
]
PEOPLE = [f"p{i}@example.com" for i in range(5)]
ROTATIONS = [
    {"every": "1d"},
    {"every": "2d"},
    {"every": "1w"},
    {"every": "8h"},
    {"every": "90m"},
    {"rrule": "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=8;BYMINUTE=0"},
    {"rrule": "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"},
    {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1,15"},
    {"rrule": "FREQ=MINUTELY;INTERVAL=20"},
]
BASE = datetime(2026, 1, 1)


def local(minutes: int) -> str:
    return (BASE + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")


clock = st.integers(0, 47).map(lambda h: f"{h // 2:02d}:{h % 2 * 30:02d}")
restriction = st.builds(
    lambda days, a, b: {"days": days, "from": a, "to": b},
    st.lists(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        min_size=1,
        max_size=7,
        unique=True,
    ),
    clock,
    clock,
).filter(lambda r: r["from"] != r["to"])


@st.composite
def layers(draw: st.DrawFn, i: int) -> dict[str, Any]:
    start = draw(st.integers(0, 400 * 1440))
    layer: dict[str, Any] = {
        "name": f"l{i}",
        "members": draw(st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=4, unique=True)),
        "rotation": {**draw(st.sampled_from(ROTATIONS)), "start": local(start)},
        "restrictions": draw(st.lists(restriction, max_size=2)),
    }
    if draw(st.booleans()):
        layer["until"] = local(start + draw(st.integers(60, 300 * 1440)))
    return layer


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    n = draw(st.integers(1, 3))
    overrides = []
    for _ in range(draw(st.integers(0, 3))):
        a = draw(st.integers(0, 500 * 1440))
        overrides.append(
            {
                "who": draw(st.sampled_from(PEOPLE)),
                "from": local(a),
                "to": local(a + draw(st.integers(30, 5 * 1440))),
            }
        )
    return Schedule.model_validate(
        {
            "kind": "Schedule",
            "name": "s",
            "team": "t",
            "timezone": draw(st.sampled_from(ZONES)),
            "layers": [draw(layers(i)) for i in range(n)],
            "overrides": overrides,
        }
    )


@st.composite
def windows(draw: st.DrawFn) -> tuple[datetime, datetime]:
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=draw(st.integers(0, 600 * 1440)))
    return start, start + timedelta(minutes=draw(st.integers(1, 20 * 1440)))


def merge(items: list[Shift]) -> list[Shift]:
    out: list[Shift] = []
    for s in items:
        if out and out[-1].same_assignment(s) and out[-1].end == s.start:
            out[-1] = Shift(out[-1].start, s.end, s.who, s.layer, s.source)
        else:
            out.append(s)
    return out


@SETTINGS
@given(schedules(), windows())
def test_shifts_tile_the_window_without_overlap(
    s: Schedule, window: tuple[datetime, datetime]
) -> None:
    start, end = window
    found = shifts(s, start, end)
    assert found[0].start == start and found[-1].end == end
    for a, b in pairwise(found):
        assert a.end == b.start
        assert not a.same_assignment(b)
    assert all(x.start < x.end for x in found)


@SETTINGS
@given(schedules(), windows(), st.lists(st.floats(0, 1), min_size=1, max_size=10))
def test_who_at_every_instant_is_the_shift_containing_it(
    s: Schedule, window: tuple[datetime, datetime], fractions: list[float]
) -> None:
    start, end = window
    found = shifts(s, start, end)
    probes = [start + (end - start) * f for f in fractions] + [x.start for x in found]
    for t in probes:
        if not start <= t < end:
            continue
        holder = next(x for x in found if x.start <= t < x.end)
        assert who_at(s, t) == holder.who
        full = on_call(s, t)
        assert full.same_assignment(holder)
        assert full.start <= holder.start or holder.start == start
        if holder.start > start:
            assert full.start == holder.start
        if holder.end < end:
            assert full.end == holder.end


@SETTINGS
@given(schedules(), windows(), st.floats(0.01, 0.99))
def test_splitting_a_window_gives_the_same_shifts(
    s: Schedule, window: tuple[datetime, datetime], f: float
) -> None:
    start, end = window
    middle = start + (end - start) * f
    if not start < middle < end:
        return
    assert merge(shifts(s, start, middle) + shifts(s, middle, end)) == shifts(s, start, end)
