"""The web app's own HTTP routes: sign-in and sign-out, and the secret iCal feeds.

These are plain HTTP (not Reflex events) because an identity provider redirects to them and
calendar apps fetch them. State-changing POSTs carry a CSRF token: the break-glass form uses a
double-submit cookie (the form's hidden value must equal an HttpOnly cookie set with it), sign-out
uses the session's own CSRF token; both also refuse a foreign Origin. Cookies are SameSite=Lax.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import secrets
from datetime import timedelta
from urllib.parse import quote, urlsplit

from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from oncall.api import access
from oncall.core.schedule.ical import person_feed, schedule_feed
from oncall.db.engine import write_session
from oncall.schedules_service import effective_schedule, feed_subject
from oncall.web import audit_routes, auth, context, oidc, postmortem_routes
from oncall.web.oidc import OIDCError, Pending, safe_next

OIDC_COOKIE = "oncall_oidc"
CSRF_COOKIE = "oncall_csrf"
FEED_PAST = timedelta(days=7)
FEED_FUTURE = timedelta(days=90)


def _secure(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    public = context.web_settings().public_url or ""
    return request.url.scheme == "https" or forwarded == "https" or public.startswith("https:")


def _base_url(request: Request) -> str:
    public = context.web_settings().public_url
    return public or str(request.base_url).rstrip("/")


def _same_origin(request: Request) -> bool:
    """A browser POST from another site carries its Origin (or Referer): refuse it."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin is None
    allowed = {urlsplit(_base_url(request)).netloc, request.headers.get("host", "")}
    return urlsplit(origin).netloc in allowed


def _to_login(error: str, next_path: str = "/") -> RedirectResponse:
    return RedirectResponse(
        f"/login?error={quote(error)}&next={quote(safe_next(next_path))}", status_code=303
    )


def _signed_in_response(request: Request, token: str, next_path: str) -> RedirectResponse:
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        token,
        max_age=context.web_settings().session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


# --- OpenID Connect ------------------------------------------------------------------------------


async def oidc_start(request: Request) -> Response:
    settings = context.web_settings()
    next_path = safe_next(request.query_params.get("next"))
    if not settings.oidc_enabled:
        return _to_login("single sign-on is not configured", next_path)
    redirect_uri = f"{_base_url(request)}/auth/oidc/callback"
    try:
        url, pending = await oidc.authorization_url(settings, redirect_uri, next_path)
    except OIDCError as exc:
        return _to_login(str(exc), next_path)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        OIDC_COOKIE,
        quote(pending.encode(), safe=""),
        max_age=600,
        path="/auth/oidc",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


async def oidc_callback(request: Request) -> Response:
    settings = context.web_settings()
    from urllib.parse import unquote

    pending = Pending.decode(unquote(request.cookies.get(OIDC_COOKIE, "")))
    if pending is None or not settings.oidc_enabled:
        return _to_login("the sign-in attempt expired: start again")
    redirect_uri = f"{_base_url(request)}/auth/oidc/callback"
    try:
        identity = await oidc.complete(settings, redirect_uri, pending, dict(request.query_params))
        assert settings.oidc_issuer is not None
        token = await asyncio.to_thread(_oidc_session, identity, settings.oidc_issuer)
    except (OIDCError, auth.SignInError) as exc:
        response: Response = _to_login(str(exc), pending.next)
    else:
        response = _signed_in_response(request, token, pending.next)
    response.delete_cookie(OIDC_COOKIE, path="/auth/oidc")
    return response


def _oidc_session(identity: oidc.Identity, issuer: str) -> str:
    now = context.now()
    # A refused identity is in the audit log even though sign-in fails: commit it first.
    with write_session(context.engine()) as session:
        try:
            user = auth.oidc_sign_in(
                session, identity.email, now, issuer=issuer, subject=identity.subject
            )
        except auth.SignInError as exc:
            error: auth.SignInError | None = exc
        else:
            error = None
            return auth.start_session(
                session, user, "oidc", now, context.web_settings().session_hours
            )
    assert error is not None
    raise error


# --- break-glass local accounts ------------------------------------------------------------------

_FORM = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Break-glass sign-in · oncall</title>
<style>
:root{{color-scheme:light dark;--bg:#f9f9fb;--card:#fff;--text:#1c2024;--muted:#60646c;
--line:#8b8d98;--focus:#3e63dd;--link:#3a5bc7;--warn-bg:#fff7c2;--warn:#713f12;
--danger:#ce2c31;--error:#ce2c31}}
@media (prefers-color-scheme:dark){{:root{{--bg:#111113;--card:#18191b;--text:#edeef0;
--line:#777b84;--focus:#9eb1ff;--link:#9eb1ff;--warn-bg:#302008;--warn:#ffe7b3;
--error:#ff9592}}}}
body{{font-family:system-ui,sans-serif;background:var(--bg);color:var(--text);margin:0;
display:flex;justify-content:center;padding:2rem 1rem}}
main{{width:100%;max-width:360px}}
form{{background:var(--card);padding:1.5rem;border-radius:10px;border:1px solid var(--line)}}
h1{{font-size:1.3rem;margin:0 0 .75rem}}
label{{display:block;margin:.75rem 0 .25rem;font-size:.9rem}}
input{{width:100%;padding:.7rem;font-size:1rem;box-sizing:border-box;color:var(--text);
background:var(--card);border:1px solid var(--line);border-radius:6px}}
button{{margin-top:1rem;width:100%;padding:.8rem;font-size:1rem;background:var(--danger);
color:#fff;border:0;border-radius:6px;cursor:pointer}}
:focus-visible{{outline:2px solid var(--focus);outline-offset:2px}}
a{{color:var(--link)}}
.warn{{font-size:.85rem;color:var(--warn);background:var(--warn-bg);padding:.6rem;
border-radius:6px}}
.err{{color:var(--error);font-weight:600}}
</style></head><body><main>
<form method="post" action="/auth/local">
<h1>Break-glass sign-in</h1>
<p class="warn">For when single sign-on is down. Every use is recorded in the audit log.</p>
{error}
<input type="hidden" name="csrf" value="{csrf}">
<input type="hidden" name="next" value="{next}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
<p><a href="/login">Back to sign-in</a></p>
</form></main></body></html>
"""
"""The one page served outside the app (it must work when the app's sign-in cannot): the
app's colours in light and dark, by the system's setting."""


def _form(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
    csrf = secrets.token_urlsafe(24)
    body = _FORM.format(
        csrf=csrf,
        next=html.escape(safe_next(next_path)),
        error=f'<p class="err" role="alert">{html.escape(error)}</p>' if error else "",
    )
    response = HTMLResponse(
        body,
        status_code=status,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'",
        },
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=1800,
        path="/auth",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


async def local_form(request: Request) -> Response:
    return _form(request, request.query_params.get("next", "/"))


async def local_submit(request: Request) -> Response:
    form = await request.form()
    next_path = safe_next(str(form.get("next") or "/"))
    presented = str(form.get("csrf") or "")
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not _same_origin(request) or not expected or not hmac.compare_digest(presented, expected):
        return _form(request, next_path, "The form expired: try again.", status=403)
    email, password = str(form.get("email") or ""), str(form.get("password") or "")
    client = client_address(request)
    try:
        token = await asyncio.to_thread(_local_session, email, password, client)
    except auth.Throttled as exc:
        response = _form(request, next_path, str(exc).capitalize() + ".", status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except auth.SignInError as exc:
        return _form(request, next_path, str(exc).capitalize() + ".", status=401)
    response = _signed_in_response(request, token, next_path)
    response.delete_cookie(CSRF_COOKIE, path="/auth")
    return response


def client_address(request: Request) -> str | None:
    """The address sign-in throttling counts by: the ASGI client. Behind a reverse proxy, run
    the server with its proxy-headers support (uvicorn `--proxy-headers` with
    `--forwarded-allow-ips` naming the proxy) so that this is the real client, not the proxy."""
    return request.client.host if request.client else None


def _local_session(email: str, password: str, client: str | None) -> str:
    now = context.now()
    # A throttled attempt is refused on one read, before the write lock and any hashing.
    with Session(context.engine()) as session:
        retry = auth.throttled(session, email, client, now)
    if retry is not None:
        raise auth.Throttled(retry)
    # The failed attempt must be recorded even though sign-in is refused: commit it first.
    with write_session(context.engine()) as session:
        try:
            user = auth.local_sign_in(session, email, password, now, client=client)
        except auth.SignInError as exc:
            error: auth.SignInError | None = exc
        else:
            error = None
            return auth.start_session(
                session, user, "local", now, context.web_settings().session_hours
            )
    assert error is not None
    raise error


# --- sign-out ------------------------------------------------------------------------------------


async def logout(request: Request) -> Response:
    form = await request.form()
    token = request.cookies.get(auth.SESSION_COOKIE)
    presented = str(form.get("csrf") or "")

    def run() -> bool:
        with write_session(context.engine()) as session:
            if not token or not auth.check_csrf(session, token, presented):
                return False
            auth.end_session(session, token, context.now())
            return True

    if not _same_origin(request) or not await asyncio.to_thread(run):
        return PlainTextResponse("sign-out refused: stale or missing CSRF token", status_code=403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


# --- iCal feeds ----------------------------------------------------------------------------------


def _feed(token: str) -> bytes | None:
    now = context.now().replace(microsecond=0)
    start, end = now - FEED_PAST, now + FEED_FUTURE
    with context.read_session() as session:
        subject = feed_subject(session, token, now)
        if subject is None:
            return None
        config = context.config(session)
        kind, _, name = subject.partition(":")
        if kind == "schedule":
            schedule = config.schedules.get(name)
            if schedule is None:
                return None
            return schedule_feed(
                effective_schedule(session, schedule, start, end), start, end, stamp=now
            )
        schedules = [effective_schedule(session, s, start, end) for s in config.schedules.values()]
        return person_feed(schedules, name, start, end, stamp=now)


async def ical(request: Request) -> Response:
    token = str(request.path_params["token"])
    body = await asyncio.to_thread(_feed, token)
    if body is None:
        return PlainTextResponse("unknown or revoked feed", status_code=404)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300"},
    )


def router() -> Starlette:
    """A fresh router (Reflex mounts its own app inside the one it is given); it refuses to
    build with a route that oncall/api/access.py does not list."""
    routes = [
        Route("/auth/oidc/start", oidc_start, methods=["GET"]),
        Route("/auth/oidc/callback", oidc_callback, methods=["GET"]),
        Route("/auth/local", local_form, methods=["GET"]),
        Route("/auth/local", local_submit, methods=["POST"]),
        Route("/auth/logout", logout, methods=["POST"]),
        Route("/ical/{token}.ics", ical, methods=["GET"]),
        Route("/postmortems/{postmortem_id:int}/print", postmortem_routes.printable,
              methods=["GET"]),
        Route("/postmortems/{postmortem_id:int}/export.md", postmortem_routes.markdown,
              methods=["GET"]),
        Route("/audit/export.csv", audit_routes.export, methods=["GET"]),
    ]
    access.require_listed(routes, access.WEB, "the web app")
    return Starlette(routes=routes)
