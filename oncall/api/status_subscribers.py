"""Subscribing to a status page: the form and JSON endpoint, and the links mailed to subscribers.

Who may subscribe follows the page's own visibility, with the page's own 404 for everyone
else. An email address gets a confirmation mail (double opt-in) and the same answer whether or
not it was subscribed already; a webhook URL needs a signed-in session and a JSON body (a form
from another site cannot send one), and its signing secret is in the answer, once.
Subscription requests are throttled per client address and per page, in each process, so the
form cannot be used to flood someone's mailbox.

The links in a mail carry the subscription's token. Opening one (GET) only shows a button,
because mail scanners open links; the button (POST) acts. The unsubscribe POST is also RFC
8058's one-click unsubscribe: a mail client posts `List-Unsubscribe=One-Click` and needs no
further step. An unknown token, or another page's, gets the page's 404.
"""

from __future__ import annotations

import html
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.api.openapi import UNAVAILABLE, problem
from oncall.api.routing import Operation, bind
from oncall.api.status import StatusPages, _not_found, _partner_may_read, _signed_in
from oncall.api.threads import offloaded
from oncall.config.models import StatusPage
from oncall.db.engine import write_connection, write_session
from oncall.statuspages import subscribers
from oncall.statuspages.subscribers import NotTaken, SubscriptionError
from oncall.store.status import Subscriber
from oncall.web import auth

BASE = "/status/{name}"
SUBSCRIBE = f"{BASE}/subscribe"
CONFIRM = f"{BASE}/subscriptions/{{token}}/confirm"
UNSUBSCRIBE = f"{BASE}/subscriptions/{{token}}/unsubscribe"

PER_CLIENT = 5
"""Subscription requests a client address may make per minute (per process)."""
PER_PAGE = 60
"""Subscription requests a page takes per minute from everyone together (per process)."""
WINDOW_SECONDS = 60.0
MAX_COMPONENTS = 100

PENDING = ("If this address is not subscribed yet, a mail with a confirmation link is on its "
           "way to it. Nothing else is sent until the link is followed.")
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'")
_CSS = ("body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}"
        "button{font-size:1.1rem;padding:.6rem;width:100%;border:0;border-radius:.4rem;"
        "background:#1f6feb;color:#fff}")


# --- throttle -----------------------------------------------------------------------------------


@dataclass
class Throttle:
    """At most `limit` requests per key within `window` seconds (a sliding window)."""

    limit: int
    window: float = WINDOW_SECONDS
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str) -> bool:
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:  # forget keys gone quiet, so memory stays bounded
                self._seen = {k: q for k, q in self._seen.items()
                              if q and q[-1] > now - self.window}
            seen = self._seen.setdefault(key, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.limit:
                return False
            seen.append(now)
            return True


@dataclass
class Subscriptions:
    """The handlers' state: the app's context and this process's throttles."""

    ctx: ApiContext
    per_client: Throttle = field(default_factory=lambda: Throttle(PER_CLIENT))
    per_page: Throttle = field(default_factory=lambda: Throttle(PER_PAGE))

    @property
    def pages(self) -> StatusPages:
        return StatusPages(self.ctx)


# --- answers ------------------------------------------------------------------------------------


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A small page that is never cached and never sends its URL (a token) on."""
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                 "Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff"},
    )


def _back(name: str) -> str:
    return f"<p><a href='/status/{html.escape(name)}'>Back to the status page</a></p>"


@dataclass(frozen=True)
class _Ask:
    """A subscription request, read from a form or a JSON body."""

    email: str | None
    url: str | None
    components: list[str]
    form: bool


def _parse(request: Request, body: bytes) -> _Ask | str:
    """The request, or what is wrong with it."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return "the body is not JSON"
        if not isinstance(data, dict):
            return "the body must be a JSON object"
        parts = data.get("components", [])
        if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
            return "components: must be a list of component names"
        email, url = data.get("email"), data.get("url")
        if (email is None) == (url is None):
            return "give either email or url"
        if not isinstance(email or url, str):
            return "email or url must be a string"
        return _Ask(email, url, parts[:MAX_COMPONENTS + 1], form=False)
    if media in ("application/x-www-form-urlencoded", ""):
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=MAX_COMPONENTS + 5)
        email = (fields.get("email") or [""])[0]
        if not email.strip():
            return "enter an email address"
        return _Ask(email, None, fields.get("component", []), form=True)
    return f"unsupported content type {media!r}: send a form or JSON"


def _readable(subs: Subscriptions, request: Request, page: StatusPage) -> bool:
    """The page's own visibility rule, as the page's routes apply it."""
    if page.visibility == "public":
        return True
    return _signed_in(subs.pages, request) or (
        page.visibility == "partners" and _partner_may_read(request, page))


def _who(ctx: ApiContext, request: Request) -> str | None:
    """The signed-in person's email, or None."""
    token = auth.cookie_token(request.headers.get("cookie", ""))
    if token is None:
        return None
    with write_session(ctx.engine) as session:
        found = auth.signed_in(session, token, ctx.clock())
        return None if found is None else found.email


def _refused(ask: _Ask | None, request: Request, status: int, detail: str,
             name: str) -> Response:
    if ask is not None and ask.form:
        return _page("Could not subscribe", f"<p role='alert'>{html.escape(detail)}</p>"
                     + _back(name), status)
    return problems.problem(status, detail, instance=request.url.path)


def subscribe(subs: Subscriptions, request: Request, body: bytes) -> Response:
    """Subscribe an email address (double opt-in) or, signed in, a webhook URL."""
    ctx = subs.ctx
    name: str = request.path_params["name"]
    with Session(ctx.engine) as session:
        config = ctx.config(session)
    page = config.status_pages.get(name)
    if page is None or not _readable(subs, request, page):
        return _not_found(request)
    ask = _parse(request, body)
    if isinstance(ask, str):
        form = request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded")
        return _refused(_Ask(None, None, [], form), request, 422, ask, name)
    client = request.client.host if request.client else "unknown"
    if not subs.per_client.allow(client) or not subs.per_page.allow(name):
        return _refused(ask, request, 429, "too many subscription requests; try again in a "
                        "minute", name)
    if len(ask.components) > MAX_COMPONENTS:
        return _refused(ask, request, 422, "components: too many", name)
    now = ctx.clock()
    try:
        if ask.url is not None:
            who = _who(ctx, request)
            if who is None:
                return problems.problem(401, "subscribing a webhook needs a signed-in session",
                                        instance=request.url.path)
            with write_connection(ctx.engine) as conn:
                done = subscribers.subscribe_webhook(conn, page, ask.url, ask.components,
                                                     who, now)
            return JSONResponse({"status": "subscribed", "url": done.subscriber.address,
                                 "components": list(done.subscriber.components),
                                 "secret": done.secret,
                                 "unsubscribe": _link(subs, page, done.subscriber)},
                                status_code=201, headers={"Cache-Control": "no-store"})
        assert ask.email is not None
        with write_connection(ctx.engine) as conn:
            subscribers.subscribe_email(conn, page, ask.email, ask.components, now,
                                        subs.pages.base_url)
    except NotTaken as exc:
        return _refused(ask, request, 403, str(exc), name)
    except SubscriptionError as exc:
        return _refused(ask, request, 422, str(exc), name)
    if ask.form:
        return _page("Check your email", f"<p>{html.escape(PENDING)}</p>" + _back(name), 202)
    return JSONResponse({"status": "pending", "detail": PENDING}, status_code=202,
                        headers={"Cache-Control": "no-store"})


def _link(subs: Subscriptions, page: StatusPage, sub: Subscriber) -> str:
    return subscribers.page_ref(page, subs.pages.base_url).subscription(sub.token,
                                                                        "unsubscribe")


# --- token links --------------------------------------------------------------------------------


def _title(ctx: ApiContext, name: str) -> str:
    with Session(ctx.engine) as session:
        page = ctx.config(session).status_pages.get(name)
    return page.title if page is not None else name


def show_confirm(subs: Subscriptions, request: Request, _body: bytes) -> Response:
    """The button only: opening the link confirms nothing."""
    name, token = request.path_params["name"], request.path_params["token"]
    with subs.ctx.engine.connect() as conn:
        found = subscribers.lookup(conn, name, token)
    if found is None:
        return _not_found(request)
    title = _title(subs.ctx, name)
    if found.unsubscribed_at is not None:
        return _page("Subscription ended", "<p>This subscription was ended. Subscribe again "
                     "on the status page.</p>" + _back(name))
    return _page(f"Subscribe to {title}",
                 f"<p>Receive updates of {html.escape(title)} at "
                 f"{html.escape(found.address)}.</p><form method='post'>"
                 "<button type='submit'>Confirm subscription</button></form>")


def do_confirm(subs: Subscriptions, request: Request, _body: bytes) -> Response:
    name, token = request.path_params["name"], request.path_params["token"]
    with write_connection(subs.ctx.engine) as conn:
        found = subscribers.confirm(conn, name, token, subs.ctx.clock())
    if found is None:
        return _not_found(request)
    if found.unsubscribed_at is not None:
        return _page("Subscription ended", "<p>This subscription was ended. Subscribe again "
                     "on the status page.</p>" + _back(name))
    return _page("Subscribed", f"<p>{html.escape(found.address)} will receive updates of "
                 f"{html.escape(_title(subs.ctx, name))}. Every mail has a link to "
                 "unsubscribe.</p>" + _back(name))


def show_unsubscribe(subs: Subscriptions, request: Request, _body: bytes) -> Response:
    """The button only: opening the link ends nothing."""
    name, token = request.path_params["name"], request.path_params["token"]
    with subs.ctx.engine.connect() as conn:
        found = subscribers.lookup(conn, name, token)
    if found is None:
        return _not_found(request)
    title = _title(subs.ctx, name)
    if found.unsubscribed_at is not None:
        return _page("Unsubscribed", f"<p>{html.escape(found.address)} receives no more "
                     f"updates of {html.escape(title)}.</p>")
    return _page(f"Unsubscribe from {title}",
                 f"<p>Stop sending updates of {html.escape(title)} to "
                 f"{html.escape(found.address)}?</p><form method='post'>"
                 "<button type='submit'>Unsubscribe</button></form>")


def do_unsubscribe(subs: Subscriptions, request: Request, _body: bytes) -> Response:
    """The button, or a mail client's RFC 8058 one-click POST: ends it, no further step."""
    name, token = request.path_params["name"], request.path_params["token"]
    with write_connection(subs.ctx.engine) as conn:
        found = subscribers.unsubscribe(conn, name, token, subs.ctx.clock())
    if found is None:
        return _not_found(request)
    return _page("Unsubscribed", f"<p>{html.escape(found.address)} receives no more updates "
                 f"of {html.escape(_title(subs.ctx, name))}.</p>")


# --- OpenAPI ------------------------------------------------------------------------------------

_HTML = {"text/html": {"schema": {"type": "string"}}}
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_TOKEN = {"name": "token", "in": "path", "required": True,
          "description": "The subscription's token, from the mail", "schema": {"type": "string"}}
_NOT_FOUND = problem("No such page or subscription, or one this caller may not read")


def _op(op_id: str, summary: str, responses: dict[str, Any], token: bool = True) -> Operation:
    return {"operationId": op_id, "summary": summary, "tags": ["status pages"], "security": [],
            "parameters": [_NAME, _TOKEN] if token else [_NAME],
            "responses": {**responses, "404": _NOT_FOUND, "503": UNAVAILABLE}}


def openapi_paths() -> dict[str, Any]:
    page = {"description": "A page", "content": _HTML}
    subscribe_op = _op(
        "subscribeToStatusPage",
        "Subscribe an email address (a confirmation mail is sent; the answer is the same "
        "whether or not it was subscribed already) or, with a signed-in session and JSON, a "
        "webhook URL (its signing secret is in the answer, once)",
        {"201": {"description": "Webhook subscribed", "content": {"application/json": {
            "schema": {"type": "object", "properties": {
                "secret": {"type": "string"}, "unsubscribe": {"type": "string"}}}}}},
         "202": {"description": "Confirmation pending (JSON, or a page for the form)"},
         "401": problem("A webhook without a signed-in session"),
         "403": problem("The page does not take subscribers of this kind"),
         "422": problem("Not an email address or http(s) URL, or an unknown component"),
         "429": problem("Too many subscription requests from this address or to this page")},
        token=False)
    subscribe_op["requestBody"] = {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["email"], "properties": {
                "email": {"type": "string"},
                "component": {"type": "array", "items": {"type": "string"}}}}},
        "application/json": {"schema": {"type": "object", "properties": {
            "email": {"type": "string"}, "url": {"type": "string", "format": "uri"},
            "components": {"type": "array", "items": {"type": "string"}}}}}}}
    return {
        SUBSCRIBE: {"post": subscribe_op},
        CONFIRM: {
            "get": _op("showSubscriptionConfirm", "A Confirm button (confirms nothing)",
                       {"200": page}),
            "post": _op("confirmSubscription", "Confirm the subscription", {"200": page}),
        },
        UNSUBSCRIBE: {
            "get": _op("showUnsubscribe", "An Unsubscribe button (ends nothing)",
                       {"200": page}),
            "post": _op("unsubscribe", "End the subscription: the button, or RFC 8058 "
                        "one-click (body `List-Unsubscribe=One-Click`)", {"200": page}),
        },
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    subs = Subscriptions(ctx)
    return [
        Route(SUBSCRIBE, offloaded(bind(subscribe, subs)), methods=["POST"],
              name="status-subscribe"),
        Route(CONFIRM, offloaded(bind(show_confirm, subs)), methods=["GET"],
              name="status-confirm"),
        Route(CONFIRM, offloaded(bind(do_confirm, subs)), methods=["POST"],
              name="status-confirm-post"),
        Route(UNSUBSCRIBE, offloaded(bind(show_unsubscribe, subs)), methods=["GET"],
              name="status-unsubscribe"),
        Route(UNSUBSCRIBE, offloaded(bind(do_unsubscribe, subs)), methods=["POST"],
              name="status-unsubscribe-post"),
    ]
