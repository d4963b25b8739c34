"""`GET /audit/export.csv`: the audit log page's filtered rows as a CSV download.

A download, not a Reflex event, so a route of `routes.router()`. The person is the session of
the cookie, looked up as the postmortem downloads do: without one the answer is 403, and so it
is for anyone who is not a platform admin, before any filter is read or any row touched. The
rows are streamed a batch at a time, so a large log is never held in memory.
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


def _reader(cookie_header: str) -> str | None:
    """None when the cookie's person may read the audit log, else why not."""
    token = auth.cookie_token(cookie_header)
    with write_session(context.engine()) as session:  # signing in refreshes last_seen_at
        who = auth.signed_in(session, token, context.now())
    if who is None:
        return "sign in to read the audit log"
    if not audit_log.may_read(who.actor()):
        return "only platform admins may read the audit log"
    return None


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
    refused = await asyncio.to_thread(_reader, request.headers.get("cookie", ""))
    if refused is not None:
        return PlainTextResponse(refused, status_code=403, headers={"Cache-Control": "no-store"})
    params = request.query_params
    try:
        found = parse({k: params.get(k) for k in FIELDS}, zone(params.get("tz")))
    except BadFilter as exc:
        return PlainTextResponse(str(exc), status_code=400)
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
