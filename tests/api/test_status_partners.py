"""Partners over HTTP: the sign-in form, the mailed link, the session cookie and what it reads.

The example organisation's `payment-partners` page lists `@acmepay.example`; a second partners
page for the same domain is added here, to show a link and a session stay on their own page.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from oncall.cli.main import main
from oncall.config.configset import ConfigSet, Source
from oncall.config.diagnostics import Position
from oncall.config.models import StatusPage
from oncall.config.yamlsource import Document
from oncall.db.models import AuditEventRow, NotificationRow
from oncall.reconcile.apply import Origin, apply_config
from oncall.statuspages import partners
from oncall.web import auth

from .conftest import NOW, Api, with_integrations

PUBLIC_URL = "https://status.northwind.example"
PAGE = "payment-partners"
TITLE = "Northwind payments, partner status"
OTHER = "partners-b"
PARTNER = "dana@acmepay.example"
STRANGER = "eve@evil.example"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _config(example_config: ConfigSet, partners_of_page: list[str] | None = None) -> ConfigSet:
    config: ConfigSet = with_integrations(example_config)
    other = StatusPage.model_validate({
        "kind": "StatusPage", "name": OTHER, "title": "Second partner page",
        "visibility": "partners", "partners": ["@acmepay.example"],
        "components": [{"name": "Partner API", "services": ["checkout-api"]}]})
    config.add(other, Source(Document("rules/partners.yaml", None, Position(1, 1))))
    if partners_of_page is not None:
        spec = config.status_pages[PAGE].model_dump(exclude_defaults=False)
        edited = StatusPage.model_validate({**spec, "partners": partners_of_page})
        config.objects["StatusPage"][PAGE] = edited
    return config


def _apply(engine: Engine, config: ConfigSet, minutes: int) -> None:
    apply_config(engine, config, Origin(actor="tests", source="tests", revision=None,
                                        now=NOW - timedelta(minutes=minutes)))


@pytest.fixture
def partner_engine(api_engine: Engine, example_config: ConfigSet) -> Engine:
    _apply(api_engine, _config(example_config), 60)
    return api_engine


@pytest.fixture
def app(partner_engine: Engine, make_api: Callable[..., Api]) -> Api:
    return make_api(environ={"ONCALL_PUBLIC_URL": PUBLIC_URL})


def _path(page: str, rest: str = "") -> str:
    return f"/status/{page}{rest}"


def _sign_in(page: str = PAGE) -> str:
    return _path(page, "/partners/sign-in")


def _ask(app: Api, email: str, page: str = PAGE) -> httpx.Response:
    response: httpx.Response = app.client.post(_sign_in(page), content=f"email={email}",
                                               headers=FORM)
    return response


def _data(data: dict[str, Any] | None) -> dict[str, Any]:
    assert data is not None
    return data


def _sent(mail: NotificationRow, field: str) -> str:
    """A field of the queued mail (subject, text, html)."""
    value = (mail.provider_data or {}).get(field)
    assert isinstance(value, str), mail.provider_data
    return value


def _mails(app: Api) -> list[NotificationRow]:
    with app.engine.connect() as conn:
        return [NotificationRow(**r._mapping) for r in conn.execute(
            select(NotificationRow.__table__).where(NotificationRow.channel == "email")
            .order_by(NotificationRow.id))]


def _link(app: Api, email: str = PARTNER) -> str:
    """The path of the sign-in link mailed to `email` (the latest)."""
    assert _ask(app, email).status_code == 200
    text = _sent([m for m in _mails(app) if m.address == email][-1], "text")
    found = re.search(r"https?://[^/\s]+(/status/\S+/partners/link/\S+)", text)
    assert found, text
    return found.group(1)


def _post(app: Api, path: str) -> httpx.Response:
    app.client.cookies.clear()
    response: httpx.Response = app.client.post(path, follow_redirects=False)
    return response


def _session_cookie(response: httpx.Response) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


def _signed_in(app: Api) -> str:
    """A partner's Cookie header for the page, after using a fresh link."""
    response = _post(app, _link(app))
    assert response.status_code == 303, response.text
    return f"{partners.COOKIE}={_session_cookie(response)[partners.COOKIE].value}"


def _get(app: Api, path: str, cookie: str | None = None) -> httpx.Response:
    app.client.cookies.clear()
    response: httpx.Response = app.client.get(path, headers={"Cookie": cookie} if cookie else {})
    return response


def _unknown_page_answer(app: Api, path: str) -> tuple[int, str, str]:
    response = _get(app, path)
    return (response.status_code, response.headers["content-type"],
            response.text.replace(path, "<path>"))


# --- the form ---------------------------------------------------------------------------------


def test_the_form_is_served_on_a_partners_page_only(app: Api) -> None:
    form = _get(app, _sign_in())
    assert form.status_code == 200
    assert "<form method='post'>" in form.text and "name='email'" in form.text
    assert form.headers["cache-control"] == "no-store"
    unknown = _unknown_page_answer(app, _sign_in("no-such-page"))
    assert unknown[0] == 404
    for page in ("northwind-status", "internal"):
        assert _unknown_page_answer(app, _sign_in(page)) == unknown
        refused = _ask(app, PARTNER, page)
        assert refused.status_code == 404
        link = _path(page, "/partners/link/" + "A" * 43)
        assert _get(app, link).status_code == 404
        assert _post(app, link).status_code == 404
        assert _post(app, _path(page, "/partners/sign-out")).status_code == 404
    assert _mails(app) == []


def test_a_listed_address_and_a_stranger_get_the_same_answer(app: Api) -> None:
    listed = _ask(app, "Dana@AcmePay.example")
    stranger = _ask(app, STRANGER)
    assert (listed.status_code, listed.text) == (stranger.status_code, stranger.text) == (
        200, listed.text)
    assert "sign-in link is on its way" in listed.text
    [mail] = _mails(app)
    assert mail.address == PARTNER
    assert _sent(mail, "subject") == f"Sign in to {TITLE}"
    assert f"{PUBLIC_URL}/status/{PAGE}/partners/link/" in _sent(mail, "text")


@pytest.mark.parametrize("body", ["", "email=", "email=not-an-address", "other=x@y.example"])
def test_a_form_without_an_address_is_asked_again(app: Api, body: str) -> None:
    response = app.client.post(_sign_in(), content=body, headers=FORM)
    assert response.status_code == 400 and "Enter your email address" in response.text
    assert _mails(app) == []


# --- the link ---------------------------------------------------------------------------------


def test_opening_the_link_shows_a_button_and_uses_nothing(app: Api) -> None:
    link = _link(app)
    for _ in range(2):
        shown = _get(app, link)
        assert shown.status_code == 200
        assert f"Continue to {TITLE}" in shown.text and "method='post'" in shown.text
        assert shown.headers["referrer-policy"] == "no-referrer"
    assert _post(app, link).status_code == 303


def test_the_link_signs_in_once_with_a_cookie_for_that_page(app: Api) -> None:
    link = _link(app)
    response = _post(app, link)
    assert response.status_code == 303
    assert response.headers["location"] == f"/status/{PAGE}"
    cookie = _session_cookie(response)[partners.COOKIE]
    assert cookie["path"] == f"/status/{PAGE}"
    assert cookie["httponly"] and cookie["secure"]
    assert cookie["samesite"].lower() == "lax"
    assert cookie["max-age"] == str(12 * 3600)
    again = _post(app, link)
    assert again.status_code == 410
    assert "This link has expired or was already used" in again.text
    assert _get(app, link).status_code == 410
    types = [e.type for e in _events(app)]
    assert types.count(partners.SIGNED_IN) == 1 and types.count(partners.SIGN_IN_REFUSED) == 1


def test_the_cookie_is_not_secure_on_a_plain_http_address(
        partner_engine: Engine, make_api: Callable[..., Api]) -> None:
    app = make_api(environ={"ONCALL_PUBLIC_URL": "http://localhost:3000"})
    response = _post(app, _link(app))
    assert not _session_cookie(response)[partners.COOKIE]["secure"]


def test_an_expired_link_is_refused(app: Api) -> None:
    link = _link(app)
    app.clock[0] = NOW + timedelta(minutes=15)
    assert _get(app, link).status_code == 410
    assert _post(app, link).status_code == 410


@pytest.mark.parametrize("token", ["A" * 43, "short", "x" * 200])
def test_an_unknown_or_malformed_link_is_refused(app: Api, token: str) -> None:
    path = _path(PAGE, f"/partners/link/{token}")
    assert _get(app, path).status_code == 410
    assert _post(app, path).status_code == 410


def test_a_link_for_one_page_does_not_open_another(app: Api) -> None:
    link = _link(app)
    elsewhere = link.replace(f"/status/{PAGE}/", f"/status/{OTHER}/")
    assert _get(app, elsewhere).status_code == 410
    assert _post(app, elsewhere).status_code == 410
    assert _post(app, link).status_code == 303  # still good on its own page


# --- what a session reads ---------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", "/feed.atom", "/api/v2/summary.json",
                                    "/api/v2/components.json"])
def test_a_partner_reads_the_page_privately(app: Api, suffix: str) -> None:
    cookie = _signed_in(app)
    response = _get(app, _path(PAGE, suffix), cookie)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-store"
    assert response.headers["vary"] == "Cookie"
    assert "access-control-allow-origin" not in response.headers
    if not suffix:
        assert "Payment API" in response.text


def test_a_stranger_without_a_session_gets_the_unknown_page_404(app: Api) -> None:
    unknown = _unknown_page_answer(app, "/status/no-such-page")
    assert _unknown_page_answer(app, _path(PAGE)) == unknown
    bogus = f"{partners.COOKIE}={'A' * 43}"
    assert _get(app, _path(PAGE), bogus).status_code == 404


def test_a_partner_session_reads_nothing_else(app: Api) -> None:
    cookie = _signed_in(app)
    for page in (OTHER, "internal"):
        for suffix in ("", "/feed.atom", "/api/v2/summary.json"):
            assert _get(app, _path(page, suffix), cookie).status_code == 404
    assert _get(app, "/api/v1/incidents", cookie).status_code == 401
    assert auth.cookie_token(cookie) is None  # the web app's session cookie it is not


def test_removing_the_partner_from_the_config_locks_them_out(
        app: Api, example_config: ConfigSet) -> None:
    cookie = _signed_in(app)
    assert _get(app, _path(PAGE), cookie).status_code == 200
    _apply(app.engine, _config(example_config, ["ops@acmepay.example"]), 30)
    assert _get(app, _path(PAGE), cookie).status_code == 404
    assert partners.LOCKED_OUT in {e.type for e in _events(app)}


def test_revoking_the_partner_on_the_command_line_locks_them_out(
        app: Api, capsys: pytest.CaptureFixture[str]) -> None:
    app.clock[0] = datetime.now(UTC)  # the command runs on the real clock
    cookie = _signed_in(app)
    url = app.engine.url.render_as_string(hide_password=False)
    assert main(["status-page", "revoke-partner", PARTNER, "--page", PAGE,
                 "--database-url", url]) == 0
    assert "revoked" in capsys.readouterr().out
    assert _get(app, _path(PAGE), cookie).status_code == 404


def test_sign_out_ends_the_session_and_clears_the_cookie(app: Api) -> None:
    cookie = _signed_in(app)
    app.client.cookies.clear()
    response = app.client.post(_path(PAGE, "/partners/sign-out"), headers={"Cookie": cookie},
                               follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == _sign_in()
    cleared = _session_cookie(response)[partners.COOKIE]
    assert cleared.value == "" and cleared["path"] == f"/status/{PAGE}"
    assert _get(app, _path(PAGE), cookie).status_code == 404
    assert partners.SIGNED_OUT in {e.type for e in _events(app)}


def test_every_sign_in_is_audited(app: Api) -> None:
    for _ in range(2):
        _signed_in(app)
    signed_in = [e for e in _events(app) if e.type == partners.SIGNED_IN]
    assert len(signed_in) == 2
    assert {(e.subject_kind, e.subject_name, e.actor) for e in signed_in} == {
        ("status_page", PAGE, f"partner:{PARTNER}")}


def _events(app: Api) -> list[AuditEventRow]:
    with app.engine.connect() as conn:
        return [AuditEventRow(**r._mapping) for r in conn.execute(
            select(AuditEventRow.__table__).where(AuditEventRow.subject_kind == "status_page")
            .order_by(AuditEventRow.id))]
