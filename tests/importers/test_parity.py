"""Parity: the vendor's final schedule against ours, difference by difference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from oncall.config.models import Schedule, Team
from oncall.importers import parity, writer
from oncall.importers.base import Imported, ImportFailed, RenderedShift

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def h(n: float) -> datetime:
    return T0 + timedelta(hours=n)


@pytest.mark.parametrize(("expected", "actual", "differences"), [
    ([(0, 24, "a")], [(0, 24, "a")], []),
    ([(0, 10, "a"), (10, 24, "b")], [(0, 12, "a"), (12, 24, "b")], [(10, 12, "b", "a")]),
    ([(0, 24, None)], [(0, 6, "a"), (6, 24, None)], [(0, 6, None, "a")]),
    # A difference that stays the same across a cut on one side is reported once.
    ([(0, 5, "a"), (5, 24, "a")], [(0, 2, "b"), (2, 8, "b"), (8, 24, "a")], [(0, 8, "a", "b")]),
    ([(0, 4, "a"), (4, 24, "b")], [(0, 24, "c")], [(0, 4, "a", "c"), (4, 24, "b", "c")]),
])
def test_compare(expected: list[tuple[int, int, str | None]],
                 actual: list[tuple[int, int, str | None]],
                 differences: list[tuple[int, int, str | None, str | None]]) -> None:
    found = parity.compare("s", [(h(a), h(b), w) for a, b, w in expected],
                           [(h(a), h(b), w) for a, b, w in actual])
    assert [(d.at, d.until, d.expected, d.actual) for d in found] == [
        (h(a), h(b), e, g) for a, b, e, g in differences]


def config(tmp_path: Path) -> Imported:
    team = Team.model_validate({"kind": "Team", "name": "ops", "members": [
        {"email": "ana@acme.example"}, {"email": "ben@acme.example"}]})
    schedule = Schedule.model_validate({
        "kind": "Schedule", "name": "ops", "team": "ops", "timezone": "Etc/UTC",
        "layers": [{"name": "daily", "members": ["ana@acme.example", "ben@acme.example"],
                    "rotation": {"start": "2026-03-02T00:00", "every": "1d"}}]})
    imported = Imported("test", objects=[team, schedule], window=(T0, h(48)))
    writer.write(imported, tmp_path)
    return imported


def test_check_reads_the_written_files_and_names_the_instant(tmp_path: Path) -> None:
    imported = config(tmp_path)
    plus_one = timezone(timedelta(hours=1))
    imported.rendered["ops"] = [
        RenderedShift(T0.astimezone(plus_one), h(24).astimezone(plus_one), "ANA@acme.example"),
        RenderedShift(h(24), h(48), "ben@acme.example")]
    assert parity.check(imported, tmp_path) == []
    imported.rendered["ops"] = [RenderedShift(h(0), h(30), "ana@acme.example")]
    found = parity.check(imported, tmp_path)
    assert [str(d) for d in found] == [
        "ops: at 2026-03-03T00:00Z until 2026-03-03T06:00Z ana@acme.example is on call in the "
        "source, ben@acme.example here",
        "ops: at 2026-03-03T06:00Z until 2026-03-04T00:00Z (no one) is on call in the source, "
        "ben@acme.example here"]


def test_check_refuses_what_it_cannot_compare(tmp_path: Path) -> None:
    imported = config(tmp_path)
    imported.rendered["gone"] = []
    with pytest.raises(ImportFailed, match="schedule 'gone' is not in"):
        parity.check(imported, tmp_path)
    imported.window = None
    with pytest.raises(ImportFailed, match="no parity window"):
        parity.check(imported, tmp_path)
