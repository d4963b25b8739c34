"""Partners on a `partners` status page, on SQLite and PostgreSQL: who gets a sign-in link, what
the mail says, that a link opens one session on its own page only, and that removing an
address from the page's YAML or revoking it locks the partner out; all of it audited."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from oncall.config.models import StatusPage
from oncall.db.engine import write_connection
from oncall.db.models import AuditEventRow, NotificationRow
from oncall.statuspages import partners

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
BASE_URL = "https://status.northwind.example"
LISTED = "Dana@Acme.example"
OF_DOMAIN = "lee@partner.example"


def _page(name: str = "partners-a", listed: list[str] | None = None,
          visibility: str = "partners") -> StatusPage:
    spec: dict[str, Any] = {
        "kind": "StatusPage", "name": name, "title": f"Status of {name}",
        "visibility": visibility,
        "components": [{"name": "API", "services": ["checkout-api"]}]}
    if visibility == "partners":
        spec["partners"] = ["dana@acme.example", "@partner.example"] if listed is None else listed
    return StatusPage.model_validate(spec)


PAGE = _page()
OTHER = _page("partners-b")


@pytest.mark.parametrize(("page", "email", "may"), [
    (PAGE, "dana@acme.example", True),
    (PAGE, " DANA@ACME.EXAMPLE ", True),
    (PAGE, "lee@partner.example", True),
    (PAGE, "Lee@Partner.Example", True),
    (PAGE, "other@acme.example", False),  # the address is listed, not its domain
    (PAGE, "lee@eu.partner.example", False),  # a domain is not its subdomains
    (PAGE, "lee@partner.example.evil", False),
    (PAGE, "partner.example", False),
    (PAGE, "@partner.example", False),
    (_page(visibility="private"), "dana@acme.example", False),
])
def test_who_may_read_a_partners_page(page: StatusPage, email: str, may: bool) -> None:
    assert partners.may_partner(page, email) is may


def _data(data: dict[str, Any] | None) -> dict[str, Any]:
    assert data is not None
    return data


def _sent(mail: NotificationRow, field: str) -> str:
    """A field of the queued mail (subject, text, html)."""
    value = (mail.provider_data or {}).get(field)
    assert isinstance(value, str), mail.provider_data
    return value


def _mails(engine: Engine) -> list[NotificationRow]:
    with engine.connect() as conn:
        return [NotificationRow(**r._mapping) for r in conn.execute(
            select(NotificationRow.__table__).where(NotificationRow.channel == "email")
            .order_by(NotificationRow.id))]


def _events(engine: Engine, type: str | None = None) -> list[AuditEventRow]:
    with engine.connect() as conn:
        query = select(AuditEventRow.__table__).order_by(AuditEventRow.id)
        if type is not None:
            query = query.where(AuditEventRow.type == type)
        return [AuditEventRow(**r._mapping) for r in conn.execute(query)]


def _request(engine: Engine, email: str, page: StatusPage = PAGE, now: datetime = T0) -> bool:
    with write_connection(engine) as conn:
        return partners.request_link(conn, page, email, base_url=BASE_URL, now=now,
                                     client="203.0.113.9")


def _token(mail: NotificationRow, page: str = "partners-a") -> str:
    text = _sent(mail, "text")
    found = re.search(re.escape(f"{BASE_URL}/status/{page}/partners/link/") + r"(\S+)", text)
    assert found, text
    return found.group(1)


def _open(engine: Engine, token: str, page: StatusPage = PAGE,
          now: datetime = T0) -> partners.Opened | None:
    with write_connection(engine) as conn:
        return partners.open_session(conn, page, token, now=now, client="203.0.113.9")


def _reader(engine: Engine, page: StatusPage, token: str | None,
            now: datetime = T0) -> str | None:
    with write_connection(engine) as conn:
        return partners.reader(conn, page, token, now)


@pytest.mark.parametrize("email", [LISTED, OF_DOMAIN])
def test_a_listed_address_gets_a_link_by_mail(migrated_engine: Engine, email: str) -> None:
    assert _request(migrated_engine, email) is True
    [mail] = _mails(migrated_engine)
    assert mail.address == email.lower()
    assert _sent(mail, "subject") == "Sign in to Status of partners-a"
    token = _token(mail)
    assert len(token) == 43 and token in _sent(mail, "html")
    [event] = _events(migrated_engine)
    assert (event.type, event.subject_kind, event.subject_name, event.actor) == (
        partners.LINK_SENT, "status_page", "partners-a", f"partner:{email.lower()}")
    assert token not in str(event.data)


@pytest.mark.parametrize("email", ["stranger@evil.example", "lee@eu.partner.example"])
def test_anyone_else_gets_no_mail_and_the_refusal_is_audited(
        migrated_engine: Engine, email: str) -> None:
    assert _request(migrated_engine, email) is False
    assert _mails(migrated_engine) == []
    [event] = _events(migrated_engine)
    assert event.type == partners.LINK_REFUSED and _data(event.data)["reason"] == "not listed"


def test_at_most_three_links_per_address_in_ten_minutes(migrated_engine: Engine) -> None:
    sent = [_request(migrated_engine, LISTED, now=T0 + timedelta(minutes=m))
            for m in (0, 1, 2, 3, 9)]
    assert sent == [True, True, True, False, False]
    assert _request(migrated_engine, LISTED, OTHER, T0 + timedelta(minutes=5)) is False
    assert _request(migrated_engine, LISTED, now=T0 + timedelta(minutes=10, seconds=1))
    assert len(_mails(migrated_engine)) == 4
    assert [_data(e.data)["reason"] for e in _events(migrated_engine, partners.LINK_REFUSED)] == [
        "throttled"] * 3


def test_a_link_opens_one_session_on_its_page(migrated_engine: Engine) -> None:
    _request(migrated_engine, LISTED)
    token = _token(_mails(migrated_engine)[0])
    with migrated_engine.connect() as conn:
        assert partners.usable_link(conn, PAGE, token, T0)
        assert not partners.usable_link(conn, OTHER, token, T0)
    assert _open(migrated_engine, token, OTHER) is None  # page B's door does not take it
    opened = _open(migrated_engine, token)
    assert opened is not None and opened.email == "dana@acme.example"
    assert opened.expires_at == T0 + timedelta(hours=12)
    assert _open(migrated_engine, token) is None  # used
    assert _reader(migrated_engine, PAGE, opened.token) == "dana@acme.example"
    assert _reader(migrated_engine, OTHER, opened.token) is None
    assert _reader(migrated_engine, PAGE, token) is None  # the link is no session
    assert _reader(migrated_engine, PAGE, opened.token, T0 + timedelta(hours=12)) is None
    [signed_in] = _events(migrated_engine, partners.SIGNED_IN)
    assert signed_in.actor == "partner:dana@acme.example"
    assert _data(signed_in.data)["client"] == "203.0.113.9"
    refused = _events(migrated_engine, partners.SIGN_IN_REFUSED)
    assert [_data(e.data)["reason"] for e in refused] == ["another page's link", "already used"]


@pytest.mark.parametrize(("token", "minutes", "reason"), [
    ("mailed", 15, "expired"),
    ("A" * 43, 0, "unknown"),
    ("not a token", 0, "malformed"),
])
def test_a_bad_link_is_refused_and_audited(migrated_engine: Engine, token: str, minutes: int,
                                           reason: str) -> None:
    _request(migrated_engine, LISTED)
    if token == "mailed":
        token = _token(_mails(migrated_engine)[0])
    assert _open(migrated_engine, token, now=T0 + timedelta(minutes=minutes)) is None
    [event] = _events(migrated_engine, partners.SIGN_IN_REFUSED)
    assert _data(event.data)["reason"] == reason


def _signed_in(engine: Engine) -> str:
    _request(engine, LISTED)
    opened = _open(engine, _token(_mails(engine)[-1]))
    assert opened is not None
    return opened.token


def test_removing_the_address_from_the_config_locks_the_session_out(
        migrated_engine: Engine) -> None:
    session = _signed_in(migrated_engine)
    edited = _page(listed=["@partner.example"])
    assert _reader(migrated_engine, edited, session) is None
    assert _reader(migrated_engine, PAGE, session) is None  # ended, even if listed again
    [event] = _events(migrated_engine, partners.LOCKED_OUT)
    assert _data(event.data)["email"] == "dana@acme.example"


def test_a_link_whose_address_was_removed_opens_nothing(migrated_engine: Engine) -> None:
    _request(migrated_engine, LISTED)
    token = _token(_mails(migrated_engine)[0])
    edited = _page(listed=["@partner.example"])
    with migrated_engine.connect() as conn:
        assert not partners.usable_link(conn, edited, token, T0)
    assert _open(migrated_engine, token, edited) is None


@pytest.mark.parametrize(("page", "revoked"), [(None, {"partners-a": 2}),
                                                ("partners-a", {"partners-a": 2}),
                                                ("partners-b", {})])
def test_revocation_locks_the_session_out(migrated_engine: Engine, page: str | None,
                                          revoked: dict[str, int]) -> None:
    session = _signed_in(migrated_engine)
    with write_connection(migrated_engine) as conn:
        assert partners.revoke(conn, LISTED, now=T0, page=page) == revoked
    assert (_reader(migrated_engine, PAGE, session) is None) == bool(revoked)
    [event] = _events(migrated_engine, partners.REVOKED)
    assert event.actor == partners.CLI_ACTOR
    assert event.subject_name == (page or ("partners-a" if revoked else partners.ALL_PAGES))


def test_sign_out_ends_the_session(migrated_engine: Engine) -> None:
    session = _signed_in(migrated_engine)
    with write_connection(migrated_engine) as conn:
        assert partners.sign_out(conn, PAGE, session, T0)
        assert not partners.sign_out(conn, PAGE, session, T0)
    assert _reader(migrated_engine, PAGE, session) is None
    assert len(_events(migrated_engine, partners.SIGNED_OUT)) == 1
