"""`GET /audit/export.csv`: the audit log page's filtered rows as a CSV download.

A download, not a Reflex event, so a route of `routes.router()`. The person is the session of
the cookie, looked up as the postmortem downloads do: without one the answer is 403, and so it
is for anyone who is not a platform admin, before any filter is read or any row touched. The
export itself is an audit event (who, and with which filter), committed before the first row
is sent. The rows are streamed a batch at a time, so a large log is never held in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from oncall.db.engine import write_session
from oncall.web import audit_csv, audit_log, auth, context
from oncall.web.audit_filter import FIELDS, AuditFilter, BadFilter, parse
from oncall.web.format import zone

LINES_PER_CHUNK = 200


def _authorized(cookie_header: str, fields: dict[str, str | None], tz: str | None
                ) -> tuple[int, str] | AuditFilter:
    """The filter to export, the export audited; or (status, why not). The person is checked
    before the filter is read."""
    token = auth.cookie_token(cookie_header)
    now = context.now()
    with write_session(context.engine()) as session:  # signing in refreshes last_seen_at
        who = auth.signed_in(session, token, now)
        if who is None:
            return 403, "sign in to read the audit log"
        actor = who.actor()
        if not audit_log.may_read(actor):
            return 403, "only platform admins may read the audit log"
        try:
            found = parse(fields, zone(tz))
        except BadFilter as exc:
            return 400, str(exc)
        audit_log.record_export(session, actor, found, now)
    return found


def _chunks(f: AuditFilter) -> Iterator[str]:
    with context.read_session() as session:
        names = {email: user.name for email, user in context.config(session).users.items()}
        pending: list[str] = []
        for text in audit_csv.lines(audit_log.line(r, names) for r in audit_log.every(session, f)):
            pending.append(text)
            if len(pending) >= LINES_PER_CHUNK:
                yield "".join(pending)
                pending = []
        if pending:
            yield "".join(pending)


async def export(request: Request) -> Response:
    params = request.query_params
    found = await asyncio.to_thread(_authorized, request.headers.get("cookie", ""),
                                    {k: params.get(k) for k in FIELDS}, params.get("tz"))
    if not isinstance(found, AuditFilter):
        status, why = found
        return PlainTextResponse(why, status_code=status, headers={"Cache-Control": "no-store"})
    name = audit_csv.filename(found, context.now())
    return StreamingResponse(
        _chunks(found),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=\"{name}\"; "
                                   f"filename*=UTF-8''{quote(name)}",
            "Cache-Control": "private, no-store",
        },
    )
