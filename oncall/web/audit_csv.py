"""The audit log as CSV: one line at a time, each cell safe to open in a spreadsheet.

Actors, object names and details come from people and alert senders; a cell starting with
`=`, `+`, `-`, `@`, a tab or a carriage return would be read as a formula by Excel, LibreOffice
or Google Sheets, so it gets a leading apostrophe (OWASP's CSV injection advice).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from oncall.web.audit_filter import AuditFilter
from oncall.web.audit_log import Line

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
HEADER = ("id", "at_utc", "actor", "who", "action", "object_type", "object", "details")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def row(line: Line) -> list[str]:
    return [cell(v) for v in (line.id, line.at.astimezone(UTC).isoformat(), line.actor,
                              line.who, line.action, line.object_type, line.object,
                              line.details)]


def _text(cells: Iterable[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(list(cells))
    return out.getvalue()


def lines(found: Iterable[Line]) -> Iterator[str]:
    """The header, then one CSV line per event, as they come (for a streamed response)."""
    yield _text(HEADER)
    for item in found:
        yield _text(row(item))


def filename(f: AuditFilter, now: datetime) -> str:
    """`audit-20260310-1200.csv`, or with the filtered range `audit-20260301-20260310.csv`."""
    if f.since is not None or f.until is not None:
        lo = f"{f.since:%Y%m%d}" if f.since else "start"
        hi = f"{f.until:%Y%m%d}" if f.until else f"{now:%Y%m%d}"
        return f"audit-{lo}-{hi}.csv"
    return f"audit-{now.astimezone(UTC):%Y%m%d-%H%M}.csv"
