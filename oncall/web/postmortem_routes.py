"""A postmortem to take away over plain HTTP: the printable page and the Markdown file.

Links and downloads, not Reflex events, so they are routes of `routes.router()`. The person is
the session of the cookie, looked up like the sign-in pages and private status pages do; without
one the answer is 403, and a postmortem the person may not read gets the same 404 as an unknown
one, so a draft's existence is not confirmed to other teams.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from oncall.db.engine import write_session
from oncall.postmortems import export, service
from oncall.postmortems.queries import NotFound
from oncall.web import auth, context

PRINT_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                "form-action 'none'; frame-ancestors 'none'")
"""The printable page runs nothing and loads nothing: its own inline style only."""


class NotSignedIn(Exception):
    pass


def _view(cookie_header: str, postmortem_id: int) -> service.View | None:
    """The postmortem as the signed-in person reads it; None when they may not (or it is
    not there)."""
    token = auth.cookie_token(cookie_header)
    now = context.now()
    with write_session(context.engine()) as session:  # signing in refreshes last_seen_at
        who = auth.signed_in(session, token, now)
        if who is None:
            raise NotSignedIn()
        try:
            return service.view(session.connection(), context.config(session), who.actor(),
                                postmortem_id, now)
        except NotFound:
            return None


async def _answer(request: Request, render: Callable[[service.View], Response]) -> Response:
    postmortem_id = int(request.path_params["postmortem_id"])
    try:
        found = await asyncio.to_thread(_view, request.headers.get("cookie", ""), postmortem_id)
    except NotSignedIn:
        return PlainTextResponse("sign in to read postmortems", status_code=403)
    if found is None:
        return PlainTextResponse("no such postmortem", status_code=404)
    response = render(found)
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _printable(view: service.View) -> Response:
    return HTMLResponse(export.printable(view),
                        headers={"Content-Security-Policy": PRINT_POLICY})


def _markdown(view: service.View) -> Response:
    name = export.filename(view)
    plain = name.encode("ascii", "ignore").decode() or "postmortem.md"
    return Response(
        export.markdown(view), media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition":
                 f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(name)}"})


async def printable(request: Request) -> Response:
    return await _answer(request, _printable)


async def markdown(request: Request) -> Response:
    return await _answer(request, _markdown)
