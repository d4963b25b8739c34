"""Security headers on the app's responses, and the websocket refusing other origins."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

import oncall.web.app as web_app
from oncall.web import routes
from oncall.web.headers import SecurityHeaders, allowed_origins, content_security_policy


def _page(_: Request) -> Response:
    return HTMLResponse("<!doctype html><title>oncall</title><div id=root></div>")


def _own_policy(_: Request) -> Response:
    return HTMLResponse("x", headers={"Content-Security-Policy": "default-src 'none'"})


NO_BUILD = Path("/nonexistent/build/client")


def client(pages: Path = NO_BUILD) -> TestClient:
    inner = Starlette(routes=[Route("/", _page), Route("/own", _own_policy)])
    return TestClient(SecurityHeaders(inner, pages), base_url="http://oncall.example")


def directives(policy: str) -> dict[str, list[str]]:
    found = {}
    for part in policy.split(";"):
        name, *values = part.split()
        found[name] = values
    return found


def test_pages_carry_the_security_headers() -> None:
    response = client().get("/")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["connect-src"] == ["'self'", "ws://oncall.example", "wss://oncall.example"]
    # no remote script origin, no wildcard, no inline script (none was built here)
    assert all("*" not in v and "http" not in v for v in policy["script-src"])
    assert "'unsafe-inline'" not in policy["script-src"]


def test_inline_scripts_of_the_built_pages_are_allowed_by_hash(tmp_path: Path) -> None:
    (tmp_path / "login").mkdir()
    (tmp_path / "login" / "index.html").write_text(
        '<script>window.__boot = 1;</script><script type="module" src="/a.js"></script>'
    )
    (tmp_path / "index.html").write_text("<script>\nimport('/x.js');</script>")
    expected = {
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in ("window.__boot = 1;", "\nimport('/x.js');")
    }
    policy = directives(client(tmp_path).get("/").headers["content-security-policy"])
    assert expected <= set(policy["script-src"]) and len(policy["script-src"]) == 4


def test_a_route_that_sets_its_own_policy_keeps_it() -> None:
    assert client().get("/own").headers["content-security-policy"] == "default-src 'none'"


def test_a_forged_host_header_is_not_copied_into_the_policy() -> None:
    response = client().get("/", headers={"host": "x; script-src *"})
    assert "script-src *" not in response.headers["content-security-policy"]


def test_the_app_wraps_everything_it_serves() -> None:
    transformers = web_app.app.api_transformer
    assert isinstance(transformers, list) and transformers[-1] is SecurityHeaders
    # the sign-in pages served by the routes, wrapped the same way
    response = TestClient(SecurityHeaders(routes.router())).get("/auth/local?next=/")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_backend_url_is_allowed_to_connect() -> None:
    policy = directives(content_security_policy("a.example", ["https://api.example:8443"]))
    assert "https://api.example:8443" in policy["connect-src"]
    assert "wss://api.example:8443" in policy["connect-src"]


@pytest.mark.parametrize(
    ("environ", "origins"),
    [
        ({}, ["http://localhost:3000", "http://127.0.0.1:3000"]),
        ({"REFLEX_FRONTEND_PORT": "8080"}, ["http://localhost:8080", "http://127.0.0.1:8080"]),
        ({"ONCALL_PUBLIC_URL": "https://OnCall.example.com/base/"}, ["https://oncall.example.com"]),
        (
            {
                "ONCALL_PUBLIC_URL": "https://oncall.example.com",
                "ONCALL_ALLOWED_ORIGINS": "https://a.example, https://b.example:8443, junk",
            },
            ["https://a.example", "https://b.example:8443"],
        ),
    ],
)
def test_allowed_origins(environ: dict[str, str], origins: list[str]) -> None:
    assert allowed_origins(environ) == origins


def test_the_websocket_refuses_a_foreign_origin() -> None:
    """Engine.IO checks the Origin before anything else: the app's own origin gets past that
    check (and is then refused for asking for polling); a foreign origin is refused for its
    origin. The test process loads rxconfig.py without ONCALL_PUBLIC_URL: localhost:3000."""
    api = TestClient(web_app.app._api)
    path = "/_event/?EIO=4&transport=polling"
    own = api.get(path, headers={"Origin": "http://localhost:3000"})
    foreign = api.get(path, headers={"Origin": "https://evil.example"})
    assert "accepted origin" not in own.text
    assert foreign.status_code == 400 and "not an accepted origin" in foreign.text
