"""`oncall status-page revoke-partner`: a partner's links and sessions end at once, audited;
a page name that is no partners page is refused rather than revoking nothing quietly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.cli.main import main
from oncall.db.applied import read_applied
from oncall.db.engine import write_connection
from oncall.db.models import AuditEventRow
from oncall.statuspages import partners
from oncall.store import partners as store

PAGE = "payment-partners"
PARTNER = "dana@acmepay.example"


def _reads(engine: Engine, token: str) -> bool:
    with Session(engine) as session:
        page = read_applied(session).status_pages[PAGE]
    with write_connection(engine) as conn:
        return partners.reader(conn, page, token, datetime.now(UTC)) is not None


def _signed_in(engine: Engine) -> str:
    now = datetime.now(UTC)
    with Session(engine) as session:
        page = read_applied(session).status_pages[PAGE]
    # the token of a mailed link is only in the mail: make one the way the store keeps it
    with write_connection(engine) as conn:
        link = "L" * 43
        store.add_link(conn, page=PAGE, email=PARTNER, token_hash=partners.hash_token(link),
                       now=now, expires_at=now + partners.LINK_LIFETIME)
        opened = partners.open_session(conn, page, link, now=now)
    assert opened is not None
    return opened.token


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.mark.parametrize("page", [[], ["--page", PAGE]])
def test_revoke_partner_ends_the_session(applied_engine: Engine, page: list[str],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    token = _signed_in(applied_engine)
    assert _reads(applied_engine, token)
    assert main(["status-page", "revoke-partner", "Dana@AcmePay.example", *page,
                 "--database-url", _url(applied_engine)]) == 0
    assert f"{PARTNER}: revoked on" in capsys.readouterr().out
    assert not _reads(applied_engine, token)
    with applied_engine.connect() as conn:
        event = conn.execute(select(AuditEventRow.actor, AuditEventRow.subject_name,
                                    AuditEventRow.data)
                             .where(AuditEventRow.type == partners.REVOKED)).one()
    assert event.actor == "system:oncall-cli" and event.subject_name == PAGE
    assert event.data == {"email": PARTNER, "revoked": 2}
    assert main(["status-page", "revoke-partner", PARTNER, "--database-url",
                 _url(applied_engine)]) == 0
    assert "no live sign-in link or session" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "code", "message"), [
    ([PARTNER, "--page", "internal"], 1, "'internal' is not a partners status page"),
    ([PARTNER, "--page", "no-such-page"], 1, "partners pages: payment-partners"),
    (["not-an-address"], 2, "is not an email address"),
])
def test_revoke_partner_refusals(applied_engine: Engine, capsys: pytest.CaptureFixture[str],
                                 args: list[str], code: int, message: str) -> None:
    assert main(["status-page", "revoke-partner", *args, "--database-url",
                 _url(applied_engine)]) == code
    assert message in capsys.readouterr().err
