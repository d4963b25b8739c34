"""Sessions, break-glass accounts and ID token checks."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import Engine, select

from oncall.db.engine import write_session
from oncall.db.models import LocalAccountRow, UserRow
from oncall.web import auth
from oncall.web.oidc import OIDCError, Pending, safe_next, verify_id_token
from oncall.web.settings import WebSettings

from .conftest import ADMIN, NOW, OBSERVER, RESPONDER

PASSWORD = "a long enough password"


def test_session_lifecycle(web: Engine) -> None:
    with write_session(web) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == RESPONDER))
        assert user is not None
        token = auth.start_session(session, user, "oidc", NOW, 1)
    with write_session(web) as session:
        who = auth.signed_in(session, token, NOW + timedelta(minutes=59))
        assert who is not None and who.roles == {"storefront": "responder"} and who.can_respond
        assert auth.signed_in(session, token, NOW + timedelta(hours=1)) is None  # expired
        assert auth.signed_in(session, "forged", NOW) is None
        assert auth.check_csrf(session, token, auth.csrf_token(token))
        assert not auth.check_csrf(session, token, "x")
        assert auth.end_session(session, token, NOW)
        assert auth.signed_in(session, token, NOW) is None


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("oncall_session=abc; other=1", "abc"),
        ("a=1;  oncall_session=xyz", "xyz"),
        ("", None),
        ("oncall_session=", None),
    ],
)
def test_cookie_token(header: str, token: str | None) -> None:
    assert auth.cookie_token(header) == token


def test_break_glass_accounts(web: Engine) -> None:
    with write_session(web) as session:
        with pytest.raises(ValueError, match="not an admin"):
            auth.create_local_account(session, OBSERVER, PASSWORD, NOW)
        with pytest.raises(ValueError, match="not a user"):
            auth.create_local_account(session, "nobody@example.com", PASSWORD, NOW)
        with pytest.raises(ValueError, match="at least 12"):
            auth.create_local_account(session, ADMIN, "short", NOW)
        auth.create_local_account(session, ADMIN, PASSWORD, NOW)
    with write_session(web) as session:
        assert (
            auth.local_sign_in(session, ADMIN.upper(), PASSWORD, NOW, client="1.2.3.4").email
            == ADMIN
        )
        with pytest.raises(auth.SignInError):
            auth.local_sign_in(session, "nobody@example.com", PASSWORD, NOW, client=None)


def test_account_is_disabled_after_repeated_failures(web: Engine) -> None:
    with write_session(web) as session:
        auth.create_local_account(session, ADMIN, PASSWORD, NOW)
    for _ in range(auth.MAX_FAILED_ATTEMPTS):
        with write_session(web) as session, pytest.raises(auth.SignInError):
            auth.local_sign_in(session, ADMIN, "wrong password", NOW, client=None)
    with write_session(web) as session:
        with pytest.raises(auth.SignInError):
            auth.local_sign_in(session, ADMIN, PASSWORD, NOW, client=None)
        account = session.scalar(select(LocalAccountRow))
        assert account is not None and account.disabled_at is not None
        auth.create_local_account(session, ADMIN, PASSWORD, NOW)  # an admin resets it
    with write_session(web) as session:
        auth.local_sign_in(session, ADMIN, PASSWORD, NOW, client=None)


SETTINGS = WebSettings(oidc_issuer="https://idp.example", oidc_client_id="oncall")
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


def _token(**overrides: object) -> str:
    now = int(time.time())
    claims = {
        "iss": "https://idp.example",
        "aud": "oncall",
        "sub": "u1",
        "iat": now,
        "exp": now + 300,
        "nonce": "n1",
        "email": "Ann@Example.com",
    }
    claims.update(overrides)
    return jwt.encode(
        {"alg": "RS256", "kid": "k1"}, {k: v for k, v in claims.items() if v is not None}, KEY
    )


def test_id_token_accepted() -> None:
    identity = verify_id_token(_token(name="Ann"), KeySet([KEY]), SETTINGS, "n1")
    assert (identity.email, identity.subject, identity.name) == ("ann@example.com", "u1", "Ann")


@pytest.mark.parametrize(
    ("overrides", "nonce", "message"),
    [
        ({"aud": "other"}, "n1", "refused"),
        ({"iss": "https://evil.example"}, "n1", "refused"),
        ({"exp": int(time.time()) - 600}, "n1", "refused"),
        ({}, "other-nonce", "refused"),
        ({"email": None}, "n1", "no email"),
        ({"email_verified": False}, "n1", "not verified"),
    ],
)
def test_id_token_refused(overrides: dict[str, object], nonce: str, message: str) -> None:
    with pytest.raises(OIDCError, match=message):
        verify_id_token(_token(**overrides), KeySet([KEY]), SETTINGS, nonce)


def test_id_token_signed_by_another_key() -> None:
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(OIDCError):
        verify_id_token(_token(), KeySet([other]), SETTINGS, "n1")


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("/incidents/4", "/incidents/4"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        (None, "/"),
        ("/\\evil", "/"),
    ],
)
def test_safe_next(path: str | None, safe: str) -> None:
    assert safe_next(path) == safe


def test_pending_round_trip() -> None:
    pending = Pending("s", "n", "v", "/a.b?c=d")
    assert Pending.decode(pending.encode()) == pending
    assert Pending.decode("garbage") is None
