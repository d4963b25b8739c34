"""Sessions, break-glass accounts and ID token checks."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, LocalAccountRow, SignInThrottleRow, UserRow
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


ATTACKER, OFFICE = "203.0.113.9", "198.51.100.7"


def _wrong(web: Engine, email: str = ADMIN, client: str = ATTACKER, at: datetime = NOW) -> None:
    with write_session(web) as session, pytest.raises(auth.SignInError):
        auth.local_sign_in(session, email, "wrong password", at, client=client)


def test_wrong_passwords_never_lock_out_the_right_one_from_elsewhere(web: Engine) -> None:
    """Issue 15 row 6: ten anonymous wrong passwords disabled the break-glass account."""
    with write_session(web) as session:
        auth.create_local_account(session, ADMIN, PASSWORD, NOW)
    for _ in range(10):
        _wrong(web)
    with write_session(web) as session:
        # the hammering address is throttled, even with the right password ...
        with pytest.raises(auth.Throttled) as refused:
            auth.local_sign_in(session, ADMIN, PASSWORD, NOW, client=ATTACKER)
        assert 0 < refused.value.retry_after <= auth.LOCK_BASE.total_seconds()
        # ... the right password from another address signs in, and nothing was disabled
        assert auth.local_sign_in(session, ADMIN, PASSWORD, NOW, client=OFFICE).email == ADMIN
        account = session.scalar(select(LocalAccountRow))
        assert account is not None and account.disabled_at is None
    # the lock is temporary: once it is over, the right password works from there too
    later = NOW + auth.LOCK_BASE + timedelta(seconds=1)
    with write_session(web) as session:
        assert auth.local_sign_in(session, ADMIN, PASSWORD, later, client=ATTACKER).email == ADMIN


def test_throttled_attempts_compute_no_password_hash(
    web: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with write_session(web) as session:
        auth.create_local_account(session, ADMIN, PASSWORD, NOW)
    hashed: list[str] = []
    real = auth._verify

    def counting(password_hash: str, password: str) -> bool:
        hashed.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "_verify", counting)
    for _ in range(auth.ACCOUNT_ADDRESS_FREE + 20):
        _wrong(web)
    assert len(hashed) == auth.ACCOUNT_ADDRESS_FREE
    with web.connect() as conn:
        failed = conn.scalar(
            select(func.count()).where(AuditEventRow.type == auth.LOCAL_SIGN_IN_FAILED)
        )
    assert failed == auth.ACCOUNT_ADDRESS_FREE  # throttled attempts write nothing either


def test_lock_doubles_with_each_failure_after_it(web: Engine) -> None:
    for _ in range(auth.ACCOUNT_ADDRESS_FREE):
        _wrong(web)
    with Session(web) as session:
        assert auth.throttled(session, ADMIN, ATTACKER, NOW) == 60
    at = NOW + timedelta(seconds=61)
    _wrong(web, at=at)
    with Session(web) as session:
        assert auth.throttled(session, ADMIN, ATTACKER, at) == 120
        assert auth.throttled(session, ADMIN, OFFICE, at) is None
    row_failures = 0
    for i in range(30):  # never longer than LOCK_MAX
        at = at + auth.LOCK_MAX + timedelta(seconds=1)
        _wrong(web, at=at)
        row_failures = i
    with Session(web) as session:
        assert auth.throttled(session, ADMIN, ATTACKER, at) == auth.LOCK_MAX.total_seconds()
    assert row_failures == 29


def test_one_address_trying_many_accounts_is_throttled(web: Engine) -> None:
    for i in range(auth.ADDRESS_FREE):
        _wrong(web, email=f"guess{i}@example.com")
    with write_session(web) as session:
        with pytest.raises(auth.Throttled):
            auth.local_sign_in(session, "another@example.com", "x" * 12, NOW, client=ATTACKER)
        assert auth.throttled(session, "another@example.com", OFFICE, NOW) is None


def test_counters_are_shared_through_the_database(web: Engine) -> None:
    """Every web process reads the same `sign_in_throttle` rows."""
    for _ in range(auth.ACCOUNT_ADDRESS_FREE):
        _wrong(web)
    with Session(web) as session:
        keys = set(session.scalars(select(SignInThrottleRow.key)))
    assert keys == set(auth.throttle_keys(ADMIN, ATTACKER))


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
        "email_verified": True,
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
        ({"email_verified": False}, "n1", "not say this email address is verified"),
        ({"email_verified": None}, "n1", "not say this email address is verified"),
        ({"email_verified": "false"}, "n1", "not say this email address is verified"),
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


def test_id_token_without_email_verified_is_refused() -> None:
    """Issue 15 row 13: such a token signed in as the admin."""
    token = _token(email=ADMIN, email_verified=None)
    with pytest.raises(OIDCError, match="verified"):
        verify_id_token(token, KeySet([KEY]), SETTINGS, "n1")


ISSUER = "https://idp.example"


def test_first_oidc_sign_in_binds_issuer_and_subject(web: Engine) -> None:
    with write_session(web) as session:
        user = auth.oidc_sign_in(session, ADMIN, NOW, issuer=ISSUER, subject="lena-1")
        assert (user.oidc_issuer, user.oidc_subject) == (ISSUER, "lena-1")
    with write_session(web) as session:
        again = auth.oidc_sign_in(session, ADMIN, NOW, issuer=ISSUER, subject="lena-1")
        assert again.email == ADMIN
        bound = session.scalars(
            select(AuditEventRow.type).where(AuditEventRow.type == auth.OIDC_BOUND)
        ).all()
        assert len(bound) == 1


def test_a_token_with_a_bound_email_and_another_subject_is_refused(web: Engine) -> None:
    with write_session(web) as session:
        auth.oidc_sign_in(session, ADMIN, NOW, issuer=ISSUER, subject="lena-1")
    with write_session(web) as session, pytest.raises(auth.SignInError, match="another identity"):
        auth.oidc_sign_in(session, ADMIN, NOW, issuer=ISSUER, subject="mallory")
    with write_session(web) as session, pytest.raises(auth.SignInError, match="another identity"):
        auth.oidc_sign_in(session, ADMIN, NOW, issuer="https://other-idp.example", subject="lena-1")
    with write_session(web) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == ADMIN))
        assert user is not None and user.oidc_subject == "lena-1"


def test_a_bound_subject_signs_in_as_its_user_whatever_email_it_shows(web: Engine) -> None:
    with write_session(web) as session:
        auth.oidc_sign_in(session, RESPONDER, NOW, issuer=ISSUER, subject="sam-1")
    with write_session(web) as session:
        # the provider now shows another member's email for this subject: still Sam, not Lena
        user = auth.oidc_sign_in(session, ADMIN, NOW, issuer=ISSUER, subject="sam-1")
        assert user.email == RESPONDER
