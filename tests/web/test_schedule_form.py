"""The schedule editor's form: to and from Schedule documents, the live preview (the same
lines `oncall shifts` prints), and the people search."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from oncall.cli.main import main as cli
from oncall.config.loader import load
from oncall.web.editor import schedule_form as sf
from oncall.web.editor.review import read_document

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 12, 0, 30, tzinfo=UTC)
CONFIG = load(ROOT, now=NOW).config
SCHEDULES = sorted(CONFIG.schedules)


@pytest.mark.parametrize("name", SCHEDULES)
def test_every_example_schedule_survives_the_form(name: str) -> None:
    """Loading a schedule into the editor and writing it back changes nothing it means."""
    raw = read_document(ROOT, "Schedule", name)
    assert raw is not None
    back = sf.parse(sf.to_document(sf.from_document(raw)))
    assert back == CONFIG.schedules[name]


@pytest.mark.parametrize(("layer", "rotation"), [
    ({"type": "weekly", "length": "1"}, {"every": "1w", "start": "2026-01-05T09:00"}),
    ({"type": "daily", "length": "2"}, {"every": "2d", "start": "2026-01-05T09:00"}),
    ({"type": "hourly", "length": "12"}, {"every": "12h", "start": "2026-01-05T09:00"}),
    ({"type": "custom", "length": "1h30m"}, {"every": "1h30m", "start": "2026-01-05T09:00"}),
    ({"type": "rrule", "rrule": "FREQ=WEEKLY;BYDAY=MO,TH"},
     {"rrule": "FREQ=WEEKLY;BYDAY=MO,TH", "start": "2026-01-05T09:00"}),
])
def test_rotation_types(layer: dict[str, str], rotation: dict[str, str]) -> None:
    form = sf.blank("payments", "America/New_York", date(2026, 1, 1))
    form.layers[0].update(layer)
    form.members[0] = ["marcus.bell@northwind.example"]
    document = sf.to_document(form)
    assert document["layers"][0]["rotation"] == rotation
    again = sf.from_document(document)
    assert {k: again.layers[0][k] for k in layer} == layer


@pytest.mark.parametrize(("days", "written"), [
    ("mon,tue,wed,thu,fri", ["mon", "tue", "wed", "thu", "fri"]),
    ("fri,mon", ["mon", "fri"]),
    ("mon,tue,wed,thu,fri,sat,sun", None),  # every day: the default, left out
    ("", []),  # no day: written, and the review says why it is wrong
])
def test_restriction_days(days: str, written: list[str] | None) -> None:
    form = sf.blank("payments", "Etc/UTC", date(2026, 1, 1))
    form.restrictions[0] = [{"days": days, "from": "09:00", "to": "17:00"}]
    window = sf.to_document(form)["layers"][0]["restrictions"][0]
    assert window.get("days") == written and (window["from"], window["to"]) == ("09:00", "17:00")


def test_a_new_layer_hands_off_next_monday() -> None:
    assert sf.new_layer("x", date(2026, 3, 10))["start_date"] == "2026-03-16"  # a Tuesday
    assert sf.new_layer("x", date(2026, 3, 16))["start_date"] == "2026-03-23"  # a Monday


def test_fields_the_editor_does_not_edit_are_kept() -> None:
    raw = read_document(ROOT, "Schedule", "payments-primary")
    assert raw is not None
    document = sf.to_document(sf.from_document(raw))
    assert document["overrides"] == raw["overrides"]
    data = read_document(ROOT, "Schedule", "data-primary")
    assert data is not None
    assert sf.to_document(sf.from_document(data))["handoff_notices"] == {"enabled": False}


def test_an_incomplete_schedule_has_no_preview() -> None:
    form = sf.blank("payments", "Etc/UTC", date(2026, 1, 1))
    assert sf.parse(sf.to_document(form)) is None  # no members yet


@pytest.mark.parametrize("name", ["payments-primary", "data-primary", "platform-follow-the-sun"])
def test_the_preview_is_what_oncall_shifts_prints(
    name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONCALL_DATABASE_URL", raising=False)
    start, end = sf.preview_window(NOW)
    assert (start.second, (end - start).days) == (0, 14)
    rows = sf.preview(CONFIG.schedules[name], start, end)
    assert cli(["shifts", name, "--config", str(ROOT), "--from", start.isoformat(),
                "--to", end.isoformat()]) == 0
    assert [r["line"] for r in rows] == capsys.readouterr().out.splitlines()


PEOPLE = {
    "marcus.bell@northwind.example": "Marcus Bell",
    "sofia.alvarez@northwind.example": "Sofia Alvarez",
    "samuel.osei@northwind.example": "Samuel Osei",
    "noah.petit@northwind.example": "Noah Petit",
}


@pytest.mark.parametrize(("query", "exclude", "found"), [
    ("", (), []),
    ("sam", (), ["samuel.osei@northwind.example"]),
    ("SOFIA", (), ["sofia.alvarez@northwind.example"]),
    ("s", (), ["samuel.osei@northwind.example", "sofia.alvarez@northwind.example",
               "marcus.bell@northwind.example"]),
    ("northwind petit", (), ["noah.petit@northwind.example"]),
    ("sam", ("samuel.osei@northwind.example",), []),
    ("zzz", (), []),
])
def test_search_people(query: str, exclude: tuple[str, ...], found: list[str]) -> None:
    assert [p["email"] for p in sf.search_people(PEOPLE, query, exclude)] == found


def test_search_is_limited() -> None:
    many: dict[str, Any] = {f"p{i}@x.example": f"Person {i}" for i in range(20)}
    assert len(sf.search_people(many, "person")) == sf.SEARCH_LIMIT


def test_the_form_is_not_shared() -> None:
    form = sf.blank("payments", "Etc/UTC", date(2026, 1, 1))
    before = copy.deepcopy(form)
    sf.to_document(form)
    assert form == before
