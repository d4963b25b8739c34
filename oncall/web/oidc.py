"""OpenID Connect sign-in (authorization code flow with PKCE) against any provider.

The provider is found by discovery (`/.well-known/openid-configuration`); the ID token's
signature is checked against the provider's JWKS, and its issuer, audience, expiry and nonce are
checked before its `email` claim is trusted, and the provider must vouch for the email
(`email_verified: true`; a token without it is refused). The email must belong to a user the
applied config lists on a team: an identity the provider knows but the config does not is refused.
The first sign-in binds the token's (issuer, subject) to that user; later sign-ins must present
the same pair (`oncall.web.auth.oidc_sign_in`), so an account at the provider that merely claims
a user's email cannot become them.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from oncall.web.settings import WebSettings

SCOPE = "openid email profile"
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
DISCOVERY_TTL = 3600.0
HTTP_TIMEOUT = 10.0


class OIDCError(Exception):
    """Sign-in through the provider failed; the message is fit to show."""


@dataclass(frozen=True)
class Pending:
    """What the browser carries (in an HttpOnly cookie) between the redirect and the callback."""

    state: str
    nonce: str
    verifier: str
    next: str

    def encode(self) -> str:
        return ".".join((self.state, self.nonce, self.verifier, self.next))

    @classmethod
    def decode(cls, text: str) -> Pending | None:
        parts = text.split(".", 3)
        if len(parts) != 4:
            return None
        return cls(*parts)


@dataclass(frozen=True)
class Identity:
    email: str
    subject: str
    name: str | None


_discovery: dict[str, tuple[float, dict[str, Any]]] = {}


async def discover(issuer: str) -> dict[str, Any]:
    cached = _discovery.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < DISCOVERY_TTL:
        return cached[1]
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            response = await client.get(url)
            response.raise_for_status()
            document: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OIDCError(f"the sign-in provider cannot be reached ({type(exc).__name__})") from exc
    if document.get("issuer", "").rstrip("/") != issuer:
        raise OIDCError("the sign-in provider's discovery document names another issuer")
    _discovery[issuer] = (time.monotonic(), document)
    return document


def _client(settings: WebSettings, redirect_uri: str) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        redirect_uri=redirect_uri,
        scope=SCOPE,
        code_challenge_method="S256",
        token_endpoint_auth_method=(
            "client_secret_basic" if settings.oidc_client_secret else "none"
        ),
        timeout=HTTP_TIMEOUT,
    )


async def authorization_url(
    settings: WebSettings, redirect_uri: str, next_path: str
) -> tuple[str, Pending]:
    assert settings.oidc_issuer is not None
    document = await discover(settings.oidc_issuer)
    pending = Pending(
        state=secrets.token_urlsafe(24),
        nonce=secrets.token_urlsafe(24),
        verifier=secrets.token_urlsafe(48),
        next=safe_next(next_path),
    )
    async with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"],
            state=pending.state,
            code_verifier=pending.verifier,
            nonce=pending.nonce,
        )
    return str(url), pending


async def complete(
    settings: WebSettings, redirect_uri: str, pending: Pending, params: dict[str, str]
) -> Identity:
    """Exchange the code from the callback for a checked identity."""
    assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
    if "error" in params:
        raise OIDCError(f"the sign-in provider refused: {params['error'][:100]}")
    if not secrets.compare_digest(params.get("state", ""), pending.state):
        raise OIDCError("the sign-in attempt does not match this browser: start again")
    code = params.get("code")
    if not code:
        raise OIDCError("the sign-in provider sent no code")
    document = await discover(settings.oidc_issuer)
    try:
        async with _client(settings, redirect_uri) as client:
            token = await client.fetch_token(
                document["token_endpoint"], code=code, code_verifier=pending.verifier
            )
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
            response = await http.get(document["jwks_uri"])
            response.raise_for_status()
            keys = KeySet.import_key_set(response.json())
    except (httpx.HTTPError, ValueError, KeyError) as exc:
        raise OIDCError(f"the code exchange failed ({type(exc).__name__})") from exc
    except Exception as exc:
        raise OIDCError(f"the code exchange failed: {exc}") from exc
    id_token = token.get("id_token")
    if not id_token:
        raise OIDCError("the sign-in provider sent no ID token")
    return verify_id_token(id_token, keys, settings, pending.nonce)


def verify_id_token(id_token: str, keys: KeySet, settings: WebSettings, nonce: str) -> Identity:
    if settings.oidc_issuer is None or settings.oidc_client_id is None:
        raise OIDCError("single sign-on is not configured")
    try:
        decoded = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        jwt.JWTClaimsRegistry(
            leeway=60,
            iss={"essential": True, "value": settings.oidc_issuer},
            aud={"essential": True, "value": settings.oidc_client_id},
            exp={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
    except (JoseError, ValueError) as exc:
        raise OIDCError(f"the ID token was refused ({type(exc).__name__})") from exc
    claims = decoded.claims
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise OIDCError("the ID token has no email: allow the 'email' scope for this client")
    if claims.get("email_verified") not in (True, "true"):
        # Absent counts as unverified: the email is what first ties an identity to a user.
        raise OIDCError(
            "the sign-in provider does not say this email address is verified "
            "(the ID token needs email_verified: true)"
        )
    name = claims.get("name")
    return Identity(email.lower(), str(claims["sub"]), name if isinstance(name, str) else None)


def safe_next(path: str | None) -> str:
    """Only a path on this site: never `//evil.example` or an absolute URL."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path.replace(".", "%2E") if ".." in path else path
