"""`oncall report`: readable tables and one table's CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from oncall.cli.main import main
from oncall.db.engine import write_session
from oncall.db.models import IncidentRow
from oncall.testing.incidents import open_incident

START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def seed(engine: Engine) -> str:
    with write_session(engine) as session:
        for title, priority, ack, resolve in (("one", "P1", 2, 30), ("two", "P1", 4, 90),
                                              ("three", "P4", None, 10)):
            incident_id = open_incident(session, service="checkout-api", title=title,
                                        now=START, priority=priority, page=False)
            row = session.get(IncidentRow, incident_id)
            assert row is not None
            if ack is not None:
                row.acknowledged_at = START + timedelta(minutes=ack)
            row.resolved_at, row.status = START + timedelta(minutes=resolve), "resolved"
    return engine.url.render_as_string(hide_password=False)


def test_report_prints_the_figures(applied_engine: Engine,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    url = seed(applied_engine)
    args = ["report", "--team", "payments", "--since", "2026-11-01", "--until", "2026-11-07",
            "--database-url", url]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "On-call report: team payments" in out
    assert "period 2026-11-01 00:00 to 2026-11-08 00:00 UTC" in out
    assert "incidents  3" in out
    assert "MTTA       median 3m 0s, p90 3m 48s (over 2 acknowledged)" in out
    assert "MTTR       median 30m 0s, p90 1h 18m (over 3 resolved)" in out
    assert "hours on call per person (payments-primary, payments-secondary):" in out
    priorities = out.split("incidents by priority:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split() for line in priorities] == [
        ["priority", "incidents"], ["P1", "2"], ["P2", "0"], ["P3", "0"], ["P4", "1"],
        ["P5", "0"], ["none", "0"]]


def test_report_csv_of_one_table(applied_engine: Engine,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    url = seed(applied_engine)
    assert main(["report", "--service", "checkout-api", "--since", "2026-11-01",
                 "--until", "2026-11-07", "--csv", "summary", "--database-url", url]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["service"], r["incidents"], r["mttr_median_s"]) for r in rows] == [
        ("checkout-api", "3", "1800.0")]


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--since", "soon"], "--since: 'soon' is not an ISO date", 2),
        (["--team", "nobody"], "--team: no team 'nobody'", 1),
    ],
)
def test_report_errors_are_one_line(applied_engine: Engine,
                                    capsys: pytest.CaptureFixture[str], args: list[str],
                                    message: str, code: int) -> None:
    url = applied_engine.url.render_as_string(hide_password=False)
    assert main(["report", *args, "--database-url", url]) == code
    err = capsys.readouterr().err
    assert err.startswith(f"oncall: error: {message}") and err.count("\n") == 1


def test_an_unknown_csv_table_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["report", "--csv", "everything"])
    assert caught.value.code == 2
