"""Services, config provenance, profile, sign-in page and session handlers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select, update

from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    ConfigObjectRow,
    ContactMethodRow,
    NotificationRow,
    SessionRow,
    UserRow,
)
from oncall.web.pages.login import LoginState
from oncall.web.state.profile import ProfileState
from oncall.web.state.services import ConfigState, ServicesState
from oncall.web.state.session import SessionState

from .conftest import NOW, OBSERVER, RESPONDER, call


def test_services_catalog(state: Callable[..., Any], incident: Callable[..., int]) -> None:
    incident("Catalog down", "catalog-api")
    s: ServicesState = state(ServicesState, OBSERVER, "/services")
    chained = call(s, "load")
    assert ServicesState.show_cards in (chained if isinstance(chained, list) else [chained])
    assert s.cards == []
    call(s, "show_cards")
    catalog = next(c for c in s.cards if c["name"] == "catalog-api")
    assert catalog["team"] == "storefront" and catalog["open"] == "1"
    assert catalog["status"] == "critical"
    assert [n["name"] for n in catalog["upstream"]] == ["kubernetes-prod"]
    assert "storefront-web" in [n["name"] for n in catalog["downstream"]]
    k8s = next(c for c in s.cards if c["name"] == "kubernetes-prod")
    assert {"name": "catalog-api", "indent": "0.0em", "open": "1"} in k8s["downstream"]
    call(s, "select", "catalog-api")
    assert s.selected == "catalog-api"
    call(s, "select", "catalog-api")
    assert s.selected == ""


def test_config_provenance_and_drift(state: Callable[..., Any], web: Engine) -> None:
    s: ConfigState = state(ConfigState, OBSERVER, "/config")
    call(s, "load")
    assert s.run["result"] == "applied" and s.drift_count == 0
    team = next(o for o in s.objects if o["kind"] == "Team" and o["name"] == "storefront")
    assert team["source"] == "rules/storefront.yaml:2" or team["source"].endswith(
        "storefront.yaml:2"
    )
    with write_session(web) as session:
        session.execute(
            update(ConfigObjectRow)
            .where(ConfigObjectRow.name == "storefront", ConfigObjectRow.kind == "Team")
            .values(spec={"members": []})
        )
    call(s, "set_kind_filter", "Team")
    assert s.drift_count == 1 and {o["kind"] for o in s.objects} == {"Team"}
    assert next(o for o in s.objects if o["name"] == "storefront")["drift"] == "drift"
    call(s, "apply_tz", "UTC")


def test_profile_and_test_page(state: Callable[..., Any], web: Engine) -> None:
    s: ProfileState = state(ProfileState, RESPONDER, "/profile")
    call(s, "load")
    assert s.contacts == [] and "responder of storefront" in s.roles_text
    call(s, "test_page")
    assert "no verified contact method" in s.error
    with write_session(web) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == RESPONDER))
        assert user is not None
        session.add(
            ContactMethodRow(
                user_id=user.id, type="sms", address="+15550100", verified_at=NOW, created_at=NOW
            )
        )
    call(s, "load")
    assert s.contacts[0]["verified"] == "verified"
    call(s, "test_page")
    assert "queued" in s.notice
    with web.connect() as conn:
        assert conn.scalar(select(NotificationRow.kind)) == "test"
        assert (
            conn.scalar(select(AuditEventRow.type).where(AuditEventRow.type == "user.test_page"))
            is not None
        )


def test_login_page(state: Callable[..., Any]) -> None:
    s: LoginState = state(LoginState, None, "/login", {"next": "//evil.example", "error": "x"})
    assert call(s, "load") is None
    assert s.next_path == "/" and s.message == "x" and not s.oidc_enabled
    signed: LoginState = state(LoginState, RESPONDER, "/login", {"next": "/oncall"})
    assert "/oncall" in str(call(signed, "load"))


def test_session_handlers(state: Callable[..., Any], web: Engine) -> None:
    s: SessionState = state(SessionState, RESPONDER, "/")
    assert call(s, "check_login") is None and s.user_email == RESPONDER
    s.error, s.notice = "a", "b"
    call(s, "dismiss")
    assert (s.error, s.notice) == ("", "")
    assert "/login" in str(call(s, "sign_out"))
    with web.connect() as conn:
        assert conn.scalar(select(SessionRow.revoked_at)) is not None
    assert "/login" in str(call(s, "check_login"))


def test_login_leaves_for_server_routes_only(state: Callable[..., Any]) -> None:
    s: LoginState = state(LoginState, None, "/login", {"next": "/incidents/4"})
    call(s, "load")
    assert "/auth/oidc/start?next=/incidents/4" in str(call(s, "leave", "/auth/oidc/start"))
    assert "/auth/local?next=" in str(call(s, "leave", "/auth/local"))
    assert call(s, "leave", "https://evil.example/") is None


def test_profile_contact_methods(state: Callable[..., Any], web: Engine) -> None:
    s: ProfileState = state(ProfileState, RESPONDER, "/profile")
    call(s, "load")
    call(s, "set_new_kind", "phone")
    call(s, "set_new_address", "+44 20 7946 0018")
    call(s, "add_contact")
    assert s.error == "" and "verification code" in s.notice and s.new_address == ""
    assert {c["type"] for c in s.contacts} == {"sms", "voice"}
    assert all(c["verified"] == "not verified" for c in s.contacts)
    sms = next(c for c in s.contacts if c["type"] == "sms")
    call(s, "set_code", sms["id"], "000000x")
    call(s, "confirm", sms["id"])
    assert s.error != "" and s.contacts[0]["verified"] == "not verified"
    with web.connect() as conn:
        data = conn.scalar(
            select(NotificationRow.provider_data)
            .where(NotificationRow.kind == "verification")
            .order_by(NotificationRow.id.desc())
        )
    call(s, "set_code", sms["id"], data["code"])
    call(s, "confirm", sms["id"])
    assert s.error == "" and all(c["verified"] == "verified" for c in s.contacts)
    call(s, "send_code", sms["id"])
    assert "verified already" in s.error
    call(s, "set_new_kind", "email")
    call(s, "set_new_address", "not an address")
    call(s, "add_contact")
    assert s.error != ""
    call(s, "remove", sms["id"])
    assert [c["type"] for c in s.contacts] == ["voice"] and "removed" in s.notice
    call(s, "set_new_kind", "fax")
    assert s.new_kind == "phone"
