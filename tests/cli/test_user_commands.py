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
