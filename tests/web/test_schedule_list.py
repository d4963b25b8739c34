"""The schedule list's logic: who holds each schedule now, the next handoff, what uses it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from oncall.config.configset import ConfigSet
from oncall.core.schedule import Shift, who_at
from oncall.core.schedule.overrides import laid_over
from oncall.web import schedule_list
from oncall.web.schedule_list import Handoff, display_name, matches, next_handoff, users_of

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # a Tuesday; London is on UTC until the 29th
H = timedelta(hours=1)
A, B = "a@example.com", "b@example.com"


def shift(start: int, end: int, who: str | None, layer: str | None = "l",
          source: str = "layer") -> Shift:
    return Shift(NOW + start * H, NOW + end * H, who, layer, source)  # type: ignore[arg-type]


@pytest.mark.parametrize(("tiled", "expected"), [
    ([], None),
    ([shift(0, 5, A)], None),
    ([shift(0, 5, A), shift(5, 9, B)], Handoff(NOW + 5 * H, A, B)),
    # another layer or an override of the same person is no handoff
    ([shift(0, 2, A, "day"), shift(2, 4, A, "week"), shift(4, 6, B)], Handoff(NOW + 4 * H, A, B)),
    ([shift(0, 2, A), shift(2, 3, A, None, "override"), shift(3, 4, B)],
     Handoff(NOW + 3 * H, A, B)),
    # into and out of a coverage gap
    ([shift(0, 2, A), shift(2, 3, None, None)], Handoff(NOW + 2 * H, A, None)),
    ([shift(0, 2, None, None), shift(2, 3, B)], Handoff(NOW + 2 * H, None, B)),
    # given out of order: read in order of time
    ([shift(5, 9, B), shift(0, 5, A)], Handoff(NOW + 5 * H, A, B)),
])
def test_next_handoff(tiled: list[Shift], expected: Handoff | None) -> None:
    assert next_handoff(tiled) == expected


@pytest.mark.parametrize(("name", "query", "found"), [
    ("storefront-primary", "", True),
    ("storefront-primary", "front", True),
    ("storefront-primary", "FRONT prim", True),
    ("storefront-primary", "payments", False),
    ("storefront-primary", "primary  storefront", True),
    ("storefront-primary", "secondary", False),
])
def test_search_by_name(name: str, query: str, found: bool) -> None:
    assert matches(name, query) is found


@pytest.mark.parametrize(("email", "names", "shown"), [
    (A, {A: "Ann Smith"}, "Ann Smith"),
    (A, {A: None}, A),
    (A, {}, A),
    (None, {A: "Ann"}, "no one"),
])
def test_display_name(email: str | None, names: dict[str, str | None], shown: str) -> None:
    assert display_name(email, names) == shown


def test_users_of_a_schedule(example_config: ConfigSet) -> None:
    policies, services = users_of(example_config, "storefront-primary")
    assert policies == ("storefront",)
    assert {"storefront-web", "catalog-api", "search-api"} <= set(services)
    assert all(example_config.services[s].escalation_policy == "storefront" for s in services)
    assert users_of(example_config, "no-such-schedule") == ((), ())


def test_summaries_agree_with_the_engine(example_config: ConfigSet) -> None:
    effective = dict(example_config.schedules)
    found = schedule_list.summarize(example_config, effective, NOW)
    assert [s.name for s in found] == sorted(example_config.schedules)
    for s in found:
        assert s.on_call == who_at(effective[s.name], NOW), s.name
        if s.handoff is not None:
            assert s.handoff.at > NOW
            assert who_at(effective[s.name], s.handoff.at) == s.handoff.after
            assert who_at(effective[s.name], s.handoff.at - timedelta(seconds=1)) == s.on_call
    primary = next(s for s in found if s.name == "storefront-primary")
    # Tuesday 12:00: Grace's weekly shift and her shopping-hours day; Noah's day starts at 08:00
    assert primary.on_call == "grace.mwangi@northwind.example"
    assert primary.handoff == Handoff(datetime(2026, 3, 11, 8, 0, tzinfo=UTC),
                                      "grace.mwangi@northwind.example",
                                      "noah.petit@northwind.example")
    assert (primary.team, primary.timezone) == ("storefront", "Europe/London")


def test_overrides_count(example_config: ConfigSet) -> None:
    schedule = example_config.schedules["storefront-primary"]
    covered = laid_over(schedule, [("isla.mcleod@northwind.example", NOW - H, NOW + 2 * H)])
    (found,) = schedule_list.summarize(example_config, {schedule.name: covered}, NOW)
    assert found.on_call == "isla.mcleod@northwind.example"
    assert found.handoff == Handoff(NOW + 2 * H, "isla.mcleod@northwind.example",
                                    "grace.mwangi@northwind.example")
