"""`oncall user create-admin`: break-glass passwords from stdin."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import Engine, select

from oncall.cli.main import main
from oncall.db.models import AuditEventRow, LocalAccountRow


def test_create_admin_reads_stdin(
    applied_engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = applied_engine.url.render_as_string(hide_password=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("a very long password\n"))
    assert (
        main(["user", "create-admin", "lena.fischer@northwind.example", "--database-url", url]) == 0
    )
    assert "break-glass account ready" in capsys.readouterr().out
    with applied_engine.connect() as conn:
        assert conn.scalar(select(LocalAccountRow.password_hash)).startswith("$argon2id$")
        assert "auth.local_account_created" in set(conn.scalars(select(AuditEventRow.type)))


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("ruby.chen@northwind.example", "a very long password", "not an admin"),
        ("lena.fischer@northwind.example", "short", "at least 12"),
    ],
)
def test_create_admin_refusals(
    applied_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    email: str,
    password: str,
    message: str,
) -> None:
    url = applied_engine.url.render_as_string(hide_password=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(["user", "create-admin", email, "--database-url", url]) == 1
    assert message in capsys.readouterr().err


def test_unbind_sso(
    applied_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from oncall.db.engine import write_session
    from oncall.db.models import UserRow
    from oncall.web import auth

    email = "lena.fischer@northwind.example"
    now = datetime.now(UTC)
    with write_session(applied_engine) as session:
        auth.oidc_sign_in(session, email, now, issuer="https://idp.example", subject="old")
    url = applied_engine.url.render_as_string(hide_password=False)
    assert main(["user", "unbind-sso", email, "--database-url", url]) == 0
    assert "SSO identity unbound" in capsys.readouterr().out
    with write_session(applied_engine) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == email))
        assert user is not None and user.oidc_subject is None
        # the next sign-in binds the new identity
        auth.oidc_sign_in(session, email, now, issuer="https://idp.example", subject="new")
    assert main(["user", "unbind-sso", "nobody@example.com", "--database-url", url]) == 1
