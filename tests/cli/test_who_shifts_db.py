"""`oncall who` and `oncall shifts` with the app's overrides read from the database (on SQLite
and PostgreSQL), the config still read from the repo.

In the example repo's payments-primary, Daniel Whitaker holds Thursday 2026-11-26 09:00-17:00
New York time (office hours); an override made in the app gives it to Marcus Bell.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from oncall.cli.main import main
from oncall.db.applied import read_applied
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor
from oncall.schedules_service import create_override

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
START = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
END = datetime(2026, 11, 26, 22, 0, tzinfo=UTC)
MARCUS = "marcus.bell@northwind.example"
ADMIN = Actor("user", "priya.raman@northwind.example", {"payments": "admin"}, via="api",
              platform_admin=True)
WHO = ["who", "payments-primary", "--at", "2026-11-26T10:00", "--config", str(REPO)]
SHIFTS = ["shifts", "payments-primary", "--from", "2026-11-26T08:00", "--to",
          "2026-11-26T18:00", "--config", str(REPO)]


@pytest.fixture
def url(applied_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> str:
    """The database's URL, with Marcus covering Daniel's Thursday in it."""
    monkeypatch.delenv("ONCALL_DATABASE_URL", raising=False)
    with write_session(applied_engine) as session:
        config = read_applied(session)
        create_override(session, config, ADMIN, schedule_name="payments-primary", who=MARCUS,
                        start=START, end=END, reason=None, now=NOW)
    return applied_engine.url.render_as_string(hide_password=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_who_takes_the_overrides_from_the_named_database(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, *WHO, "--database-url", url) == (
        0, f"{MARCUS} is on call for payments-primary until 2026-11-26 17:00 EST (override)\n",
        "")


def test_who_takes_the_database_from_the_environment(
    url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONCALL_DATABASE_URL", url)
    assert run(capsys, *WHO) == (
        0, f"{MARCUS} is on call for payments-primary until 2026-11-26 17:00 EST (override)\n",
        "")


def test_without_a_database_the_config_alone_answers(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, *WHO) == (
        0, "daniel.whitaker@northwind.example is on call for payments-primary until "
        "2026-11-26 17:00 EST (layer office-hours)\n", "")


def test_shifts_lay_the_database_overrides_over_the_config(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *SHIFTS, "--format", "json", "--database-url", url)
    assert (code, err) == (0, "")
    assert json.loads(out) == [
        {"start": "2026-11-26T13:00:00Z", "end": "2026-11-26T14:00:00Z",
         "local_start": "2026-11-26T08:00:00-05:00", "local_end": "2026-11-26T09:00:00-05:00",
         "who": "sofia.alvarez@northwind.example", "layer": "weekly", "source": "layer"},
        {"start": "2026-11-26T14:00:00Z", "end": "2026-11-26T22:00:00Z",
         "local_start": "2026-11-26T09:00:00-05:00", "local_end": "2026-11-26T17:00:00-05:00",
         "who": MARCUS, "layer": None, "source": "override"},
        {"start": "2026-11-26T22:00:00Z", "end": "2026-11-26T23:00:00Z",
         "local_start": "2026-11-26T17:00:00-05:00", "local_end": "2026-11-26T18:00:00-05:00",
         "who": "sofia.alvarez@northwind.example", "layer": "weekly", "source": "layer"},
    ]
    code, out, _ = run(capsys, *SHIFTS)
    assert (code, out.splitlines()[1].split()) == (
        0, ["2026-11-26", "09:00", "EST", "2026-11-26", "17:00", "EST",
            "daniel.whitaker@northwind.example", "office-hours"])


def test_an_unmigrated_database_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ONCALL_DATABASE_URL", raising=False)
    code, out, err = run(capsys, *WHO, "--database-url", f"sqlite:///{tmp_path / 'empty.db'}")
    assert (code, out) == (1, "")
    assert err.startswith("oncall: error: ") and "oncall db upgrade" in err
