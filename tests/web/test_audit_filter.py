"""The audit log's filters, its keyset cursor, each event as a line, and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from oncall.web import audit_csv
from oncall.web.audit_filter import AuditFilter, BadFilter, Cursor, parse, parse_time
from oncall.web.audit_log import Line, details_of, line_of

BERLIN = ZoneInfo("Europe/Berlin")
AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("fields", "expected"), [
    ({}, AuditFilter()),
    ({"actor": "  lena ", "action": "incident."},
     AuditFilter(actor="lena", action="incident.")),
    ({"object_type": "incident", "object_name": "#42"},
     AuditFilter(object_type="incident", object_name="42")),
    ({"since": "2026-03-10", "until": "2026-03-11T09:30"},
     AuditFilter(since=datetime(2026, 3, 9, 23, 0, tzinfo=UTC),
                 until=datetime(2026, 3, 11, 8, 30, tzinfo=UTC))),
    ({"since": "2026-03-10T09:00+00:00"}, AuditFilter(since=datetime(2026, 3, 10, 9, tzinfo=UTC))),
    ({"actor": None, "since": ""}, AuditFilter()),
])
def test_parse(fields: dict[str, str | None], expected: AuditFilter) -> None:
    assert parse(fields, BERLIN) == expected


@pytest.mark.parametrize(("fields", "message"), [
    ({"since": "yesterday"}, "from: expected a date"),
    ({"until": "2026-13-01"}, "until: expected a date"),
    ({"since": "2026-03-11", "until": "2026-03-10"}, "until must be after from"),
    ({"since": "2026-03-10", "until": "2026-03-10"}, "until must be after from"),
    ({"actor": "x" * 201}, "actor: at most 200"),
    ({"object_name": "a\x00b"}, "object: not a valid text"),
])
def test_bad_filters(fields: dict[str, str], message: str) -> None:
    with pytest.raises(BadFilter, match=message):
        parse(fields, BERLIN)


def test_a_time_in_summer_is_read_in_summer_time() -> None:
    assert parse_time("from", "2026-07-01T12:00", BERLIN) == datetime(2026, 7, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("cursor", [Cursor(AT, 1), Cursor(AT.replace(microsecond=123456), 99)])
def test_cursor_round_trip(cursor: Cursor) -> None:
    assert Cursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("text", ["", "12", "2026-03-10T12:00:00+00:00", "nonsense~1",
                                  "2026-03-10T12:00:00+00:00~x", "2026-03-10T12:00:00~5",
                                  "2026-03-10T12:00:00+00:00~-5"])
def test_bad_cursor(text: str) -> None:
    with pytest.raises(BadFilter, match="page position"):
        Cursor.decode(text)


NAMES = {"lena.fischer@northwind.example": "Lena Fischer"}


def line(**fields: Any) -> Line:
    base: dict[str, Any] = {"id": 7, "at": AT, "actor": "system:oncall", "type": "x.y",
                            "incident_id": None, "subject_kind": None, "subject_name": None,
                            "data": None, "before": None, "after": None}
    return line_of(**{**base, **fields}, names=NAMES)


@pytest.mark.parametrize(("fields", "who", "obj", "link", "details"), [
    ({"actor": "user:lena.fischer@northwind.example", "incident_id": 42,
      "subject_kind": "incident", "subject_name": "42", "data": {"via": "web"}},
     "Lena Fischer", ("incident", "42"), "/incidents/42", "via=web"),
    ({"actor": "user:ghost@northwind.example", "subject_kind": "schedule",
      "subject_name": "storefront-primary", "data": {"id": 3, "who": "a@b"}},
     "ghost@northwind.example", ("schedule", "storefront-primary"),
     "/schedules/storefront-primary", "id=3, who=a@b"),
    ({"actor": "integration:synthetic-checks", "subject_kind": "Service",
      "subject_name": "checkout-api", "before": {"urgency": "low"}, "after": {"urgency": "high"}},
     "integration:synthetic-checks", ("Service", "checkout-api"), "",
     '{"urgency": "low"} → {"urgency": "high"}'),
    ({}, "system:oncall", ("", ""), "", ""),
])
def test_line_of(fields: dict[str, Any], who: str, obj: tuple[str, str], link: str,
                 details: str) -> None:
    found = line(**fields)
    assert (found.who, (found.object_type, found.object), found.link, found.details) == (
        who, obj, link, details)


def test_details_keep_lists_and_nesting_readable() -> None:
    assert details_of({"ids": [1, 2], "first": {"who": "a"}}, None, None) == \
        'first={"who": "a"}, ids=[1, 2]'


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("a=b", "a=b"), ("", ""), (None, ""), (42, "42"), ("user:lena", "user:lena"),
])
def test_formula_escaping(value: object, cell: str) -> None:
    assert audit_csv.cell(value) == cell


def test_csv_lines() -> None:
    evil = line(actor="user:=cmd|' /C calc'!A0", data={"note": "-2+3"})
    text = "".join(audit_csv.lines([line(), evil]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(audit_csv.HEADER)
    assert rows[1] == ["7", "2026-03-10T12:00:00+00:00", "system:oncall", "system:oncall", "x.y",
                       "", "", ""]
    assert rows[2][2] == "user:=cmd|' /C calc'!A0"  # the label starts harmlessly
    assert rows[2][3] == "'=cmd|' /C calc'!A0"  # the name read from it does not
    assert rows[2][7] == "note=-2+3"


@pytest.mark.parametrize(("f", "name"), [
    (AuditFilter(), "audit-20260310-1200.csv"),
    (AuditFilter(since=datetime(2026, 3, 1, tzinfo=UTC)), "audit-20260301-20260310.csv"),
    (AuditFilter(since=datetime(2026, 3, 1, tzinfo=UTC), until=datetime(2026, 3, 5, tzinfo=UTC)),
     "audit-20260301-20260305.csv"),
    (AuditFilter(until=datetime(2026, 3, 5, tzinfo=UTC)), "audit-start-20260305.csv"),
])
def test_filename(f: AuditFilter, name: str) -> None:
    assert audit_csv.filename(f, AT) == name
