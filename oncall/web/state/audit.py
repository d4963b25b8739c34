"""The audit log for platform admins: filters, newest first, keyset pages, a CSV of the rows.

Every handler that reads rows checks the person again (`audit_log.may_read`) on that event, so
someone removed from `Organization.admins` sees no more rows on their next click; anyone else
gets the refusal and an empty page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import reflex as rx

from oncall.web import audit_log, context, format
from oncall.web.audit_filter import FIELDS, BadFilter, Cursor, parse
from oncall.web.state.session import NotSignedIn, SessionState

REFUSED = "Not allowed: the audit log is for platform admins only."
EXPORT = "/audit/export.csv"


def when(at: datetime, tz: str) -> str:
    return at.astimezone(format.zone(tz)).strftime("%Y-%m-%d %H:%M:%S")


class AuditState(SessionState):
    allowed: bool = False
    refused: str = ""
    # the filter fields as typed; `_applied` is what the rows shown were read with
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_name: str = ""
    since: str = ""
    until: str = ""
    rows: list[dict[str, str]] = []  # noqa: RUF012
    page_number: int = 1
    has_older: bool = False
    export_url: str = EXPORT
    _applied: dict[str, str] = {}  # noqa: RUF012
    _cursors: list[str] = []  # noqa: RUF012 - where each page shown so far started
    _older: str = ""

    def _clear(self) -> None:
        self.rows, self.has_older, self.page_number = [], False, 1
        self._cursors, self._older = [], ""

    def _may_read(self) -> bool:
        """This event's person, checked now; a refusal clears every row."""
        try:
            allowed = audit_log.may_read(self._actor())
        except NotSignedIn:
            allowed = False
        self.allowed = allowed
        self.refused = "" if allowed else REFUSED
        if not allowed:
            self._clear()
            self._applied = {}
        return allowed

    def _typed(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in FIELDS}

    def _show(self, start: str) -> None:
        """The page of rows starting below cursor `start` ('' for the newest)."""
        self.error = ""
        try:
            found = parse(self._applied, format.zone(self.tz))
            after = Cursor.decode(start) if start else None
        except BadFilter as exc:
            self.error = str(exc)
            self._clear()
            return
        with context.read_session() as session:
            names = {email: u.name for email, u in context.config(session).users.items()}
            got = audit_log.page(session, found, after)
        self.rows = [self._row(audit_log.line(r, names)) for r in got.rows]
        self.has_older = got.next is not None
        self._older = got.next.encode() if got.next else ""
        query = {k: v for k, v in self._applied.items() if v}
        if any(query.get(k) for k in ("since", "until")):
            query["tz"] = self.tz
        self.export_url = EXPORT + ("?" + urlencode(query) if query else "")

    def _row(self, line: audit_log.Line) -> dict[str, str]:
        return {
            "id": str(line.id),
            "at": when(line.at, self.tz),
            "who": line.who,
            "actor": line.actor,
            "action": line.action,
            "object": f"{line.object_type} {line.object}".strip() or "—",
            "link": line.link,
            "details": audit_log.shorten(line.details),
        }

    def _first_page(self) -> None:
        self._clear()
        self._cursors = [""]
        self._show("")

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        if not self._may_read():
            return None
        self._applied = self._typed()
        self._first_page()
        return self._ask_tz(AuditState.apply_tz)

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        if self._may_read():
            self._first_page()

    @rx.event
    def set_field(self, field: str, value: str) -> None:
        if field in FIELDS:
            setattr(self, field, str(value)[:200])

    @rx.event
    def apply_filters(self) -> None:
        if not self._may_read():
            return
        self._applied = self._typed()
        self._first_page()

    @rx.event
    def clear_filters(self) -> None:
        for name in FIELDS:
            setattr(self, name, "")
        if not self._may_read():
            return
        self._applied = self._typed()
        self._first_page()

    @rx.event
    def older(self) -> None:
        if not self._may_read() or not self._older:
            return
        start = self._older
        self._cursors = [*self._cursors, start]
        self.page_number = len(self._cursors)
        self._show(start)

    @rx.event
    def newer(self) -> None:
        if not self._may_read() or len(self._cursors) < 2:
            return
        self._cursors = self._cursors[:-1]
        self.page_number = len(self._cursors)
        self._show(self._cursors[-1])
