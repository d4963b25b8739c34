"""The running app for browser tests: PostgreSQL + Redis, a local OIDC provider, Chromium.

The app is started with `reflex run --env prod` on a free port against a fresh PostgreSQL
database with the example organisation applied and Reflex's Redis state manager on. The OIDC
provider is a small authorization-code server on 127.0.0.1 that signs ID tokens with an RSA key
made for the run; whoever is in `provider.next_email` is "signed in" at the provider.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psycopg
import pytest
import redis
import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import Engine, make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from oncall.cli import web_build
from oncall.db.engine import make_engine, write_session
from oncall.db.migrate import upgrade_engine
from oncall.reconcile.apply import Origin, apply_config
from oncall.web import auth

REPO = Path(__file__).resolve().parents[2]
REVISION = "4f1c2a9e7b3d5c8a0e6f1b2d3c4a5e6f7a8b9c0d"
"""The git revision the app's config is applied as; the config page names it."""
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-output" / "screenshots"
CLIENT_ID, CLIENT_SECRET = "oncall-web", secrets.token_urlsafe(16)
INGEST_TOKEN = secrets.token_urlsafe(16)
ADMIN_PASSWORD = "break glass in case of fire"
REDIS_URL = "redis://127.0.0.1:6379/7"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Provider:
    """A minimal OpenID Connect provider: discovery, authorize, token (PKCE), JWKS."""

    port: int = field(default_factory=free_port)
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(
            2048, parameters={"kid": "test", "use": "sig", "alg": "RS256"}
        )
    )
    next_email: str = ""
    codes: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        async def discovery(_: Request) -> Response:
            return JSONResponse(
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "email": self.next_email,
                "nonce": q.get("nonce", ""),
                "challenge": q.get("code_challenge", ""),
                "redirect_uri": q["redirect_uri"],
            }
            target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(target, status_code=302)

        async def token(request: Request) -> Response:
            form = await request.form()
            basic = request.headers.get("authorization", "")
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            grant = self.codes.pop(str(form.get("code")), None)
            verifier = str(form.get("code_verifier", ""))
            challenge = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
            )
            if (
                basic != expected
                or grant is None
                or challenge != grant["challenge"]
                or form.get("redirect_uri") != grant["redirect_uri"]
            ):
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "aud": CLIENT_ID,
                "sub": grant["email"],
                "iat": now,
                "exp": now + 300,
                "nonce": grant["nonce"],
                "email": grant["email"],
                "email_verified": True,
            }
            id_token = jwt.encode({"alg": "RS256", "kid": "test"}, claims, self.key)
            return JSONResponse(
                {
                    "access_token": secrets.token_urlsafe(16),
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": id_token,
                }
            )

        async def jwks(_: Request) -> Response:
            return JSONResponse(KeySet([self.key]).as_dict(private=False))

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
                Route("/jwks", jwks),
            ]
        )


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    found = Provider()
    server = uvicorn.Server(
        uvicorn.Config(found.app(), host="127.0.0.1", port=found.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield found
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def app_url(postgres_url: str) -> Iterator[str]:
    """A database of its own, so the running app never sees other tests reset theirs."""
    url = make_url(postgres_url)
    name = f"{url.database}_browser"
    with psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def app_engine(app_url: str) -> Iterator[Engine]:
    from oncall.config.loader import load

    engine = make_engine(app_url)
    upgrade_engine(engine)
    result = load(REPO)
    assert result.ok
    apply_config(
        engine,
        result.config,
        Origin(actor="tests", source=str(REPO), revision=REVISION, now=datetime.now(UTC)),
    )
    with write_session(engine) as session:
        auth.create_local_account(
            session, "lena.fischer@northwind.example", ADMIN_PASSWORD, datetime.now(UTC)
        )
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class App:
    url: str
    engine: Engine

    def post_alert(self, summary: str, dedup_key: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/api/v1/integrations/synthetic-checks/alerts",
            json={"summary": summary, "dedup_key": dedup_key, "severity": "critical"},
            headers={"Authorization": f"Bearer {INGEST_TOKEN}"},
            timeout=10,
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture(scope="module")
def app(app_engine: Engine, provider: Provider, app_url: str) -> Iterator[App]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run tests/browser/install_chromium.sh")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable ({exc}) and CI=true: browser tests must run")
        pytest.skip(f"Redis is not reachable: {exc}")
    port = web_build.recorded_port(REPO) or free_port()  # the last build's port: reused
    bun = REPO / "tools" / "node_modules" / ".bin" / "bun"
    env = {
        **os.environ,
        "ONCALL_DATABASE_URL": app_url,
        "ONCALL_REDIS_URL": REDIS_URL,
        "ONCALL_OIDC_ISSUER": provider.issuer,
        "ONCALL_OIDC_CLIENT_ID": CLIENT_ID,
        "ONCALL_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "SYNTHETICS_WEBHOOK_TOKEN": INGEST_TOKEN,
        "ONCALL_PUBLIC_URL": f"http://127.0.0.1:{port}",  # the one origin allowed on the websocket
        # SMS and calls set up, as in production, so previews of a page show them (no worker
        # runs here: nothing is ever sent to this address)
        "ONCALL_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "ONCALL_TWILIO_AUTH_TOKEN": "browser-tests",
        "ONCALL_TWILIO_FROM": "+15005550006",
        "ONCALL_TWILIO_API_URL": "http://127.0.0.1:9",
        "REFLEX_BUN_PATH": str(bun),
        "REFLEX_TELEMETRY_ENABLED": "false",
        "REFLEX_CHECK_LATEST_VERSION": "false",
    }
    env.pop("PYTEST_CURRENT_TEST", None)
    log = (REPO / "test-output").joinpath("browser-app.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        # `oncall run`'s build, made only when the code changed; modules reuse it on its port
        def note(line: str) -> None:
            out.write(f"{line}\n".encode())

        try:
            web_build.ensure_build(REPO, port, env, say=note, echo=note)
        except web_build.BuildError as exc:
            pytest.fail(f"{exc}; see {log}")
        out.flush()
        process = subprocess.Popen(
            web_build.serve_command(port),
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 300
            while True:
                if process.poll() is not None:
                    pytest.fail(f"the app exited ({process.returncode}); see {log}")
                try:
                    if (
                        httpx.get(f"{url}/ping", timeout=2).status_code == 200
                        and httpx.get(f"{url}/login", timeout=2, follow_redirects=True).status_code
                        == 200
                    ):
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the app did not start within 300 s; see {log}")
                time.sleep(1)
            yield App(url, app_engine)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield found
        found.close()


@pytest.fixture
def shot() -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Any, name: str) -> None:
        page.wait_for_timeout(300)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


AXE = REPO / "tools" / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core from the npm registry (`make setup`), the WCAG checker run on every page."""
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
"""WCAG 2.1 A and AA, which includes AA colour contrast."""


def axe_violations(page: Any, impacts: tuple[str, ...] = ("serious", "critical")) -> list[str]:
    """What axe-core finds on the page as it stands, at the given impacts: one line each,
    naming the rule and the first offending elements."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make setup`")
    # Checked as a person sees the page once it has settled: mid-way through a dialog's
    # fade-in every colour is still half transparent.
    page.wait_for_function(
        "() => document.getAnimations().every(a => a.playState !== 'running'"
        " || a.effect?.getTiming().iterations === Infinity)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol: the app's Content-Security-Policy refuses
        # an injected <script>, and the check must run on the page exactly as served.
        page.evaluate(AXE.read_text())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags},"
        " resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(" ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
                    for n in v["nodes"][:3])
        for v in result["violations"]
        if v.get("impact") in impacts
    ]


def assert_accessible(page: Any) -> None:
    """No serious or critical WCAG 2.1 AA violation on the page (axe-core)."""
    found = axe_violations(page)
    assert not found, "axe-core:\n" + "\n".join(found)


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
"""A phone's viewport (iPhone 12-14), for `browser.new_context(**PHONE)`."""
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
