"""The selection and the summary line of the dashboard's bulk actions, without a database."""

from __future__ import annotations

import pytest

from oncall.web import bulk
from oncall.web.bulk import Outcome, Result

SHOWN = ["14", "12", "9"]


@pytest.mark.parametrize(
    ("selected", "incident", "expected"),
    [
        ([], "12", ["12"]),
        (["12"], "12", []),
        (["9"], "14", ["14", "9"]),  # in the list's order, the order actions run in
        (["9"], "77", ["9"]),  # not on screen: cannot be chosen
        (["77", "9"], "12", ["12", "9"]),  # gone from the list: dropped
    ],
)
def test_toggle(selected: list[str], incident: str, expected: list[str]) -> None:
    assert bulk.toggle(selected, incident, SHOWN) == expected


@pytest.mark.parametrize(
    ("selected", "shown", "all_chosen", "after_toggle_all"),
    [
        ([], SHOWN, False, SHOWN),
        (["12"], SHOWN, False, SHOWN),
        (["9", "12", "14"], SHOWN, True, []),
        ([], [], False, []),  # an empty list is never "all selected"
    ],
)
def test_select_all_shown(
    selected: list[str], shown: list[str], all_chosen: bool, after_toggle_all: list[str]
) -> None:
    assert bulk.all_chosen(selected, shown) is all_chosen
    assert bulk.toggle_all(selected, shown) == after_toggle_all


@pytest.mark.parametrize(
    ("selected", "expected"),
    [(["9", "14"], ["14", "9"]), (["5", "12"], ["12"]), ([], [])],
)
def test_keep_shown(selected: list[str], expected: list[str]) -> None:
    assert bulk.keep_shown(selected, SHOWN) == expected


OBSERVER = "You are an observer of storefront."
OTHER_TEAM = "You are not a responder of payments."


@pytest.mark.parametrize(
    ("verb", "outcomes", "line", "refused"),
    [
        ("acknowledged", [Outcome(12, Result.DONE), Outcome(9, Result.DONE)],
         "2 selected: 2 acknowledged (#12, #9).", False),
        ("acknowledged",
         [Outcome(12, Result.DONE), Outcome(9, Result.UNCHANGED),
          Outcome(14, Result.REFUSED, OTHER_TEAM)],
         "3 selected: 1 acknowledged (#12); 1 already acknowledged (#9); "
         "1 refused: #14 (You are not a responder of payments).", True),
        ("resolved",
         [Outcome(3, Result.REFUSED, OBSERVER), Outcome(4, Result.REFUSED, OTHER_TEAM),
          Outcome(5, Result.REFUSED, OBSERVER)],
         "3 selected: 0 resolved; 3 refused: #3, #5 (You are an observer of storefront); "
         "#4 (You are not a responder of payments).", True),
        ("resolved", [Outcome(3, Result.REFUSED)], "1 selected: 0 resolved; 1 refused: #3 "
         "(refused).", True),
    ],
)
def test_summary(verb: str, outcomes: list[Outcome], line: str, refused: bool) -> None:
    assert bulk.summary(verb, outcomes) == line
    assert bulk.any_refused(outcomes) is refused
