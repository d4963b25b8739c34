"""Partners' way into a `partners` status page: the sign-in form, the mailed link, sign-out.

Every route answers any page that is not a `partners` page exactly as an unknown page (the
status pages' own 404). The form says the same whether or not a link was sent. Opening a link
(GET) only shows a button, because mail scanners open links; the button (POST) uses the link
and sets a session cookie scoped to the page's path. Every refused link, whatever the reason
(expired, used, revoked, another page's, unknown, malformed), gets the same 410 page.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api.app import ApiContext
from oncall.api.openapi import UNAVAILABLE
from oncall.api.routing import Operation, bind
from oncall.api.status import StatusPages, _not_found
from oncall.api.threads import offloaded
from oncall.config.models import StatusPage
from oncall.db.engine import write_connection
from oncall.statuspages import partners

BASE = "/status/{name}/partners"
SIGN_IN = f"{BASE}/sign-in"
LINK = f"{BASE}/link/{{token}}"
SIGN_OUT = f"{BASE}/sign-out"

GONE = "This link has expired or was already used."
SENT = ("If this address may read this page, a sign-in link is on its way to it. The link "
        "works once, within {minutes} minutes.")
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'")
_CSS = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
        "input,button{font-size:1.1rem;padding:.6rem;width:100%;box-sizing:border-box;"
        "margin:.3rem 0}button{border:0;border-radius:.4rem;background:#1f6feb;color:#fff}")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A small page that is never cached and never sends its URL (a link's token) on."""
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                 "Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"},
    )


def _partners_page(ctx: ApiContext, name: str) -> StatusPage | None:
    with Session(ctx.engine) as session:
        page = ctx.config(session).status_pages.get(name)
    return page if page is not None and page.visibility == "partners" else None


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


def _form(page: StatusPage, note: str = "") -> str:
    return (f"{note}<p>Sign in to read {html.escape(page.title)}: enter your email address "
            "and we will mail you a sign-in link.</p>"
            "<form method='post'><label for='email'>Email</label>"
            "<input id='email' name='email' type='email' autocomplete='email' required "
            f"maxlength='{partners.MAX_EMAIL}'>"
            "<button type='submit'>Email me a sign-in link</button></form>")


def sign_in_form(ctx: ApiContext, request: Request, _body: bytes) -> Response:
    page = _partners_page(ctx, request.path_params["name"])
    if page is None:
        return _not_found(request)
    return _page(f"Sign in to {page.title}", _form(page))


def request_link(ctx: ApiContext, request: Request, body: bytes) -> Response:
    """Queue a link if the address may read the page; the answer never says whether."""
    page = _partners_page(ctx, request.path_params["name"])
    if page is None:
        return _not_found(request)
    fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
    email = (fields.get("email") or [""])[0].strip()
    if "@" not in email or len(email) > partners.MAX_EMAIL:
        note = "<p role='alert'>Enter your email address.</p>"
        return _page(f"Sign in to {page.title}", _form(page, note), 400)
    with write_connection(ctx.engine) as conn:
        partners.request_link(conn, page, email, base_url=StatusPages(ctx).base_url,
                              now=ctx.clock(), client=_client(request))
    minutes = int(partners.LINK_LIFETIME.total_seconds() // 60)
    return _page("Check your email", f"<p>{html.escape(SENT.format(minutes=minutes))}</p>")


def _gone() -> HTMLResponse:
    return _page("Link no longer valid", f"<p>{GONE}</p>", 410)


def show_link(ctx: ApiContext, request: Request, _body: bytes) -> Response:
    """The button only: opening the link uses nothing."""
    page = _partners_page(ctx, request.path_params["name"])
    if page is None:
        return _not_found(request)
    with ctx.engine.connect() as conn:
        usable = partners.usable_link(conn, page, request.path_params["token"], ctx.clock())
    if not usable:
        return _gone()
    title = f"Continue to {page.title}"
    return _page(title, "<form method='post'>"
                        f"<button type='submit'>{html.escape(title)}</button></form>")


def use_link(ctx: ApiContext, request: Request, _body: bytes) -> Response:
    """Use the link once, set the page's session cookie and go to the page."""
    name = request.path_params["name"]
    page = _partners_page(ctx, name)
    if page is None:
        return _not_found(request)
    with write_connection(ctx.engine) as conn:
        opened = partners.open_session(conn, page, request.path_params["token"],
                                       now=ctx.clock(), client=_client(request))
    if opened is None:
        return _gone()
    response = RedirectResponse(f"/status/{name}", status_code=303,
                                headers={"Cache-Control": "no-store",
                                         "Referrer-Policy": "no-referrer"})
    response.set_cookie(
        partners.COOKIE, opened.token,
        max_age=int(partners.SESSION_LIFETIME.total_seconds()),
        path=f"/status/{name}", httponly=True, samesite="lax",
        secure=StatusPages(ctx).base_url.startswith("https://"))
    return response


def sign_out(ctx: ApiContext, request: Request, _body: bytes) -> Response:
    """End the session and clear its cookie; back to the sign-in form."""
    name = request.path_params["name"]
    page = _partners_page(ctx, name)
    if page is None:
        return _not_found(request)
    with write_connection(ctx.engine) as conn:
        partners.sign_out(conn, page, request.cookies.get(partners.COOKIE), ctx.clock())
    response = RedirectResponse(partners.sign_in_path(name), status_code=303,
                                headers={"Cache-Control": "no-store"})
    response.delete_cookie(partners.COOKIE, path=f"/status/{name}", httponly=True,
                           samesite="lax",
                           secure=StatusPages(ctx).base_url.startswith("https://"))
    return response


# --- OpenAPI ------------------------------------------------------------------------------------

_HTML = {"text/html": {"schema": {"type": "string"}}}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_TOKEN = {"name": "token", "in": "path", "required": True,
          "description": "The link's token, from the mail", "schema": {"type": "string"}}
_NOT_FOUND = {"description": "No such page, or not a partners page", "content": {
    "application/problem+json": {"schema": {"type": "object"}}}}
_GONE = {"description": "Expired, already used, revoked, another page's, or unknown",
         "content": _HTML}


def _op(op_id: str, summary: str, responses: dict[str, Any],
        extra: list[dict[str, Any]] | None = None, form: bool = False) -> Operation:
    op: Operation = {
        "operationId": op_id, "summary": summary, "tags": ["status pages"], "security": [],
        "parameters": [_NAME, *(extra or [])],
        "responses": {**responses, "404": _NOT_FOUND, "503": UNAVAILABLE},
    }
    if form:
        op["requestBody"] = {"required": True, "content": {
            "application/x-www-form-urlencoded": {"schema": {
                "type": "object", "required": ["email"],
                "properties": {"email": {"type": "string", "maxLength": partners.MAX_EMAIL}}}}}}
    return op


def openapi_paths() -> dict[str, Any]:
    redirect = {"description": "Signed in: the session cookie is set; on to the page"}
    return {
        SIGN_IN: {
            "get": _op("showPartnerSignIn", "A partners page's sign-in form",
                       {"200": {"description": "The form", "content": _HTML}}),
            "post": _op("requestPartnerLink", "Mail a sign-in link, if the address may read "
                        "the page (the answer is the same either way)",
                        {"200": {"description": "Check your email", "content": _HTML},
                         "400": {"description": "No email address", "content": _HTML}},
                        form=True),
        },
        LINK: {
            "get": _op("showPartnerLink", "The page of a sign-in link: a button (uses nothing)",
                       {"200": {"description": "A Continue button", "content": _HTML},
                        "410": _GONE}, [_TOKEN]),
            "post": _op("usePartnerLink", "Use a sign-in link once and open a read-only "
                        "session on the page", {"303": redirect, "410": _GONE}, [_TOKEN]),
        },
        SIGN_OUT: {
            "post": _op("partnerSignOut", "End the partner session and clear its cookie",
                        {"303": {"description": "Signed out: on to the sign-in form"}}),
        },
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [
        Route(SIGN_IN, offloaded(bind(sign_in_form, ctx)), methods=["GET"],
              name="status-partner-sign-in"),
        Route(SIGN_IN, offloaded(bind(request_link, ctx)), methods=["POST"],
              name="status-partner-sign-in-post"),
        Route(LINK, offloaded(bind(show_link, ctx)), methods=["GET"],
              name="status-partner-link"),
        Route(LINK, offloaded(bind(use_link, ctx)), methods=["POST"],
              name="status-partner-link-post"),
        Route(SIGN_OUT, offloaded(bind(sign_out, ctx)), methods=["POST"],
              name="status-partner-sign-out"),
    ]
