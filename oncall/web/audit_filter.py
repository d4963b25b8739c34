"""What the audit log page and its CSV export are asked for: filters and the keyset cursor.

Pure: text in (from the page's fields or the export's query string), values out, or `BadFilter`
with a message fit for the page. Times typed without a zone are read in the viewer's zone.
The cursor is the (time, id) of the last row shown; the next page is the rows strictly older,
so a page costs the same however deep into the log it is (no OFFSET).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MAX_TEXT = 200
"""The longest text a filter field takes."""
FIELDS = ("actor", "action", "object_type", "object_name", "since", "until")
"""The filters, by the names the export's query string uses."""


class BadFilter(ValueError):
    """A filter that cannot be read; the message says which and why."""


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    """Part of the actor (`user:alice@…`, `integration:…`, `system:…`), any case."""
    action: str = ""
    """The start of the event type: `incident.` for every incident event, or a whole type."""
    object_type: str = ""
    """The object's kind (`incident`, `schedule`, `user`, a config kind), any case."""
    object_name: str = ""
    """The object's id or name, exactly (`#42` is incident 42)."""
    since: datetime | None = None
    until: datetime | None = None
    """[since, until) in UTC."""

    @property
    def empty(self) -> bool:
        return self == AuditFilter()


def _text(name: str, value: str | None) -> str:
    text = (value or "").strip()
    if len(text) > MAX_TEXT:
        raise BadFilter(f"{name}: at most {MAX_TEXT} characters")
    if "\x00" in text:
        raise BadFilter(f"{name}: not a valid text")
    return text


def parse_time(name: str, value: str | None, zone: ZoneInfo) -> datetime | None:
    """`2026-03-10`, `2026-03-10T09:30` (in `zone`) or with an offset; empty is None."""
    text = _text(name, value)
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise BadFilter(f"{name}: expected a date or date and time, like 2026-03-10T09:30") \
            from None
    if found.tzinfo is None:
        found = found.replace(tzinfo=zone)
    return found.astimezone(UTC)


def parse(fields: Mapping[str, str | None], zone: ZoneInfo) -> AuditFilter:
    """The filter of the page's fields or the export's query string (names of `FIELDS`)."""
    found = AuditFilter(
        actor=_text("actor", fields.get("actor")),
        action=_text("action", fields.get("action")),
        object_type=_text("object type", fields.get("object_type")),
        object_name=_text("object", fields.get("object_name")).removeprefix("#"),
        since=parse_time("from", fields.get("since"), zone),
        until=parse_time("until", fields.get("until"), zone),
    )
    if found.since is not None and found.until is not None and found.until <= found.since:
        raise BadFilter("until must be after from")
    return found


@dataclass(frozen=True)
class Cursor:
    """The (time, id) of the last row of a page: the next page starts strictly below it."""

    at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.at.astimezone(UTC).isoformat()}~{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        at, sep, ident = text.partition("~")
        try:
            if not sep or not ident.isdigit():
                raise ValueError(text)
            when = datetime.fromisoformat(at)
        except ValueError:
            raise BadFilter("the page position is not valid: start from the first page") \
                from None
        if when.tzinfo is None:
            raise BadFilter("the page position is not valid: start from the first page")
        return cls(when.astimezone(UTC), int(ident))
