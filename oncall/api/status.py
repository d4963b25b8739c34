"""The public faces of status pages: the HTML page, its Atom feed and Statuspage's v2 JSON.

Who may read a page is its `visibility`: `public` pages to anyone, from the per-process cache
(oncall/statuspages/cache.py) with `Cache-Control: public`; `private` pages only to a signed-in
session of the web app; `partners` pages the same, and to a partner signed in to that page by
a mailed link (`_partner_may_read`, oncall/api/status_partners.py). Anyone else gets exactly
the 404 of a page that does not exist, so a private page's name is not confirmed to strangers.
Private renderings are built per request and never enter the shared cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext, database_unavailable
from oncall.api.openapi import UNAVAILABLE, problem
from oncall.api.routing import Operation, bind
from oncall.config.models import StatusPage
from oncall.db.engine import write_connection, write_session
from oncall.statuspages import partners, render_atom, render_html, render_json
from oncall.statuspages.cache import Document, PageCache, Rendered
from oncall.statuspages.view import PageView, load_page, page_version
from oncall.web import auth

BASE = "/status/{name}"
HTML = "page"
FEED = "feed"
PUBLIC_CACHE = "public, max-age=5"
PRIVATE_CACHE = "private, no-store"


@dataclass
class StatusPages:
    """The handlers' state: the app's context and this process's rendered public pages."""

    ctx: ApiContext
    cache: PageCache = field(default_factory=PageCache)

    @property
    def base_url(self) -> str:
        """Absolute links in the JSON and the feed. Never the request's Host header: the bytes
        are shared by every reader, and a forged Host must not end up in them."""
        return self.ctx.public_url


# --- rendering ----------------------------------------------------------------------------------


def _maintenance_ids(view: PageView) -> dict[str, str]:
    return {m.maintenance.name: render_json.stable_id("maintenance", view.name,
                                                      m.maintenance.name)
            for m in view.maintenances}


def render(view: PageView, base_url: str, which: str) -> Document:
    """One document of the page: HTML, FEED or a key of render_json.DOCUMENTS."""
    if which == HTML:
        html = render_html.render(view, _maintenance_ids(view),
                                  subscribe=view.email_subscribers)
        return Document.of(html.encode("utf-8"), "text/html; charset=utf-8")
    if which == FEED:
        return Document.of(render_atom.render(view, base_url),
                           "application/atom+xml; charset=utf-8")
    body = render_json.encode(render_json.DOCUMENTS[which](view, base_url))
    return Document.of(body, "application/json")


def render_all(view: PageView, base_url: str) -> dict[str, Document]:
    return {which: render(view, base_url, which)
            for which in (HTML, FEED, *render_json.DOCUMENTS)}


# --- access -------------------------------------------------------------------------------------


def _partner_may_read(request: Request, page: StatusPage) -> bool:
    """Whether a partner (not a signed-in user) may read a `partners` page: a live session of
    this page from a mailed link, its address still listed in the page's config. Its cookie
    is scoped to the page's path and read by nothing else (oncall/statuspages/partners.py)."""
    token = request.cookies.get(partners.COOKIE)
    if not token:
        return False
    ctx: ApiContext = request.app.state.ctx
    with write_connection(ctx.engine) as conn:  # a partner no longer listed is locked out
        return partners.reader(conn, page, token, ctx.clock()) is not None


def _signed_in(pages: StatusPages, request: Request) -> bool:
    token = auth.cookie_token(request.headers.get("cookie", ""))
    if token is None:
        return False
    with write_session(pages.ctx.engine) as session:  # signing in refreshes last_seen_at
        return auth.signed_in(session, token, pages.ctx.clock()) is not None


def _not_found(request: Request) -> Response:
    """The same answer as for any path the API does not serve."""
    path = request.url.path
    return problems.problem(404, f"no such resource: {path}", instance=path)


# --- responses ----------------------------------------------------------------------------------


def _matches(header: str, etag: str) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag in tags or f"W/{etag}" in tags


def _respond(request: Request, doc: Document, public: bool) -> Response:
    headers = {"ETag": doc.etag, "Cache-Control": PUBLIC_CACHE if public else PRIVATE_CACHE}
    if not public:
        headers["Vary"] = "Cookie"
    if doc.media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = render_html.CONTENT_SECURITY_POLICY
    elif public and doc.media_type == "application/json":
        headers["Access-Control-Allow-Origin"] = "*"
    if _matches(request.headers.get("if-none-match", ""), doc.etag):
        return Response(status_code=304, headers=headers)
    return Response(doc.body, media_type=doc.media_type, headers=headers)


# --- serving ------------------------------------------------------------------------------------


def _refresher(pages: StatusPages, name: str) -> Callable[[Rendered | None], Rendered | None]:
    def refresh(held: Rendered | None) -> Rendered | None:
        ctx = pages.ctx
        with Session(ctx.engine) as session:
            config = ctx.config(session)
            page = config.status_pages.get(name)
            if page is None or page.visibility != "public":
                return None
            now = ctx.clock()
            services = {s for c in page.components for s in c.services}
            version = page_version(session, name, services)
            if (held is not None and held.config is config and held.version == version
                    and now < held.stale_at):
                return held
            view = load_page(session, config, name, now)
            if view is None:
                return None
        return Rendered(render_all(view, pages.base_url), version, view.stale_at, config)

    return refresh


def _serve_blocking(pages: StatusPages, request: Request, name: str, which: str) -> Response:
    ctx = pages.ctx
    try:
        with Session(ctx.engine) as session:
            page = ctx.config(session).status_pages.get(name)
    except Exception as exc:
        held = pages.cache.held(name)
        if held is None or not database_unavailable(exc):
            raise
        # The database is away: a page public when last read keeps its last bytes.
        return _respond(request, held.documents[which], public=True)
    if page is None:
        return _not_found(request)
    if page.visibility == "public":
        rendered = pages.cache.get(name, _refresher(pages, name))
        if rendered is None:  # no longer public since the config was read: read it again
            pages.cache.forget(name)
            return _serve_private(pages, request, name, which)
        return _respond(request, rendered.documents[which], public=True)
    return _serve_private(pages, request, name, which)


def _serve_private(pages: StatusPages, request: Request, name: str, which: str) -> Response:
    ctx = pages.ctx
    with Session(ctx.engine) as session:
        config = ctx.config(session)
        page = config.status_pages.get(name)
        if page is None or page.visibility == "public":
            return _not_found(request)
    allowed = _signed_in(pages, request) or (
        page.visibility == "partners" and _partner_may_read(request, page))
    if not allowed:
        return _not_found(request)
    with Session(ctx.engine) as session:
        view = load_page(session, config, name, ctx.clock())
    if view is None:
        return _not_found(request)
    return _respond(request, render(view, pages.base_url, which), public=False)


async def _serve(pages: StatusPages, request: Request, which: str) -> Response:
    """From the cache on the event loop when it is fresh; otherwise in the thread pool."""
    name: str = request.path_params["name"]
    config = pages.ctx.fresh_config()
    if config is not None:
        page = config.status_pages.get(name)
        if page is None:
            return _not_found(request)
        if page.visibility == "public":
            rendered = pages.cache.fresh(name)
            if rendered is not None:
                return _respond(request, rendered.documents[which], public=True)
    try:
        return await anyio.to_thread.run_sync(_serve_blocking, pages, request, name, which)
    except Exception as exc:
        if database_unavailable(exc):
            return problems.unavailable(pages.ctx.retry_after, instance=request.url.path)
        raise


async def page_html(pages: StatusPages, request: Request) -> Response:
    return await _serve(pages, request, HTML)


async def feed(pages: StatusPages, request: Request) -> Response:
    return await _serve(pages, request, FEED)


async def document(pages: StatusPages, request: Request) -> Response:
    which: str = request.path_params["document"]
    if which not in render_json.DOCUMENTS:
        return _not_found(request)
    return await _serve(pages, request, which)


# --- OpenAPI ------------------------------------------------------------------------------------

_NAME = {"name": "name", "in": "path", "required": True,
         "schema": {"type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"}}
_NOT_FOUND = problem("No such page, or one this caller may not read")
_ETAG = {"ETag": {"schema": {"type": "string"}},
         "Cache-Control": {"schema": {"type": "string"}}}


def _operation(op_id: str, summary: str, media: str, extra: list[dict[str, Any]]) -> Operation:
    return {
        "operationId": op_id,
        "summary": summary,
        "tags": ["status pages"],
        "security": [],
        "parameters": [_NAME, *extra],
        "responses": {
            "200": {"description": summary, "headers": _ETAG,
                    "content": {media: {"schema": {"type": "object"}
                                        if media == "application/json"
                                        else {"type": "string"}}}},
            "304": {"description": "Not modified (If-None-Match)", "headers": _ETAG},
            "404": _NOT_FOUND,
            "503": UNAVAILABLE,
        },
    }


_DOCUMENT = {"name": "document", "in": "path", "required": True,
             "schema": {"type": "string", "enum": sorted(render_json.DOCUMENTS)}}


def openapi_paths() -> dict[str, Any]:
    return {
        BASE: {"get": _operation("getStatusPage", "The status page (HTML)", "text/html", [])},
        f"{BASE}/feed.atom": {"get": _operation(
            "getStatusPageFeed", "The page's notices as an Atom feed", "application/atom+xml",
            [])},
        f"{BASE}/api/v2/{{document}}.json": {"get": _operation(
            "getStatusPageDocument", "A Statuspage v2 document (summary, status, components, "
            "incidents, incidents/unresolved, scheduled-maintenances[/upcoming|/active])",
            "application/json", [_DOCUMENT])},
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    pages = StatusPages(ctx)
    return [
        Route(BASE, bind(page_html, pages), methods=["GET"], name="status-page"),
        Route(f"{BASE}/feed.atom", bind(feed, pages), methods=["GET"], name="status-feed"),
        Route(BASE + "/api/v2/{document:path}.json", bind(document, pages), methods=["GET"],
              name="status-document"),
    ]
