"""Security headers on every HTTP response of the web app, pages above all.

`reflex run --env prod` serves the built frontend (the HTML and its scripts) from the backend
process, through the same ASGI app as the API and the sign-in routes; `app.py` wraps that whole
app in `SecurityHeaders`. (`reflex run` in development serves pages from Vite's dev server, which
this does not reach.) A header a route set itself is kept.

What the Content-Security-Policy allows, and why:
- scripts: this origin; the inline scripts of the built pages by their SHA-256 (React Router and
  the theme boot from inline scripts in each prerendered `.html`; the hashes are read from the
  build directory when the first response goes out, so no other inline script or event-handler
  attribute runs); and 'unsafe-eval', because Reflex runs `rx.call_script` payloads with `eval`
  (the browser's time zone and the sign-in buttons use it). Script injection is prevented where
  text reaches the page: React escapes text, and Markdown is rendered without raw HTML
  (`sanitize`, `components.text`); the policy limits what an injected script could do.
- styles: this origin and inline styles (Radix Themes and Emotion set style attributes and tags).
- connections: this origin over HTTP and its websocket (Reflex's Socket.IO), nothing else: no
  exfiltration by fetch or websocket to another host.
- images and fonts: this origin and data: URIs; no third-party images (tracking pixels in notes).
- the service worker (/sw.js) and the web app manifest: this origin only (`worker-src`,
  `manifest-src`), so the app installs and receives push; no worker from another origin or a
  blob: URL.
- no plugins (object-src), no frames in the page (frame-src: an `<iframe srcdoc>` cannot load),
  the page cannot be framed (frame-ancestors, X-Frame-Options: clickjacking), base-uri and
  form-action stay on this origin (an injected form cannot post a password elsewhere).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def websocket_origin(url: str) -> str | None:
    """`wss://host` for an https URL (`ws://` for http), or None if `url` has no host."""
    parts = urlsplit(url)
    if not parts.netloc or parts.scheme not in ("http", "https", "ws", "wss"):
        return None
    scheme = "wss" if parts.scheme in ("https", "wss") else "ws"
    return f"{scheme}://{parts.netloc}"


_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.DOTALL | re.I)


def inline_script_hashes(build_dir: Path) -> list[str]:
    """CSP sources (`'sha256-…'`) of every inline script in the HTML files under `build_dir`."""
    found: set[str] = set()
    if build_dir.is_dir():
        for page in build_dir.rglob("*.html"):
            for body in _INLINE_SCRIPT.findall(page.read_text(encoding="utf-8", errors="replace")):
                digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
                found.add(f"'sha256-{digest}'")
    return sorted(found)


def build_dir() -> Path:
    """Where `reflex run --env prod` serves the built frontend from."""
    from reflex.utils import prerequisites
    from reflex_base import constants

    return Path(prerequisites.get_web_dir()) / constants.Dirs.STATIC


def content_security_policy(
    host: str | None,
    extra_origins: list[str] | None = None,
    script_hashes: list[str] | None = None,
) -> str:
    """The policy for a page served as `host` (the request's Host header)."""
    connect = ["'self'"]
    if host:
        connect += [f"ws://{host}", f"wss://{host}"]
    for origin in extra_origins or []:
        parts = urlsplit(origin)
        if parts.scheme in ("http", "https") and parts.netloc:
            connect.append(f"{parts.scheme}://{parts.netloc}")
            ws = websocket_origin(origin)
            if ws:
                connect.append(ws)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *(script_hashes or []), "'unsafe-eval'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'", "data:"],
        "connect-src": list(dict.fromkeys(connect)),
        "worker-src": ["'self'"],
        "manifest-src": ["'self'"],
        "object-src": ["'none'"],
        "frame-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def backend_origins() -> list[str]:
    """Where the frontend may reach the backend when it is not the page's own origin."""
    found = [(os.environ.get(name) or "").strip() for name in ("REFLEX_API_URL",)]
    return [f for f in found if f]


class SecurityHeaders:
    """ASGI middleware: the headers above on every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp, pages: Path | None = None) -> None:
        self.app = app
        self.extra_origins = backend_origins()
        self.pages = pages
        self._hashes: list[str] | None = None

    def script_hashes(self) -> list[str]:
        if self._hashes is None:
            self._hashes = inline_script_hashes(self.pages or build_dir())
        return self._hashes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = None
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1").strip() or None
                break
        if host and any(c in host for c in " ;,'\""):
            host = None  # not a host name: never copied into the policy

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in STATIC_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = content_security_policy(
                        host, self.extra_origins, self.script_hashes()
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


def allowed_origins(environ: Mapping[str, str]) -> list[str]:
    """Origins whose pages may open the Reflex websocket (and make credentialed CORS requests):
    `ONCALL_ALLOWED_ORIGINS` (comma-separated) if set, else the origin of `ONCALL_PUBLIC_URL`,
    else the local development addresses of the frontend port."""

    def origin(url: str) -> str | None:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        return f"{parts.scheme}://{parts.netloc}".lower()

    listed = (environ.get("ONCALL_ALLOWED_ORIGINS") or "").split(",")
    found = [o for o in (origin(u) for u in listed) if o]
    if not found and (public := origin(environ.get("ONCALL_PUBLIC_URL") or "")):
        found = [public]
    if not found:
        port = (environ.get("REFLEX_FRONTEND_PORT") or "").strip() or "3000"
        found = [f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
    return list(dict.fromkeys(found))
