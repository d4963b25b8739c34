"""Subscribers of a status page, on SQLite and PostgreSQL: double opt-in, who hears of which
notice and maintenance window, webhooks with a signing secret, and nothing sent twice."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.db.engine import write_connection, write_session
from oncall.db.models import AuditEventRow, NotificationRow
from oncall.incidents import service
from oncall.incidents.actors import Actor
from oncall.statuspages import notices, subscribers
from oncall.statuspages.subscribers import NotTaken, Subscribed, SubscriptionError
from oncall.statuspages.sync import sync_pages
from oncall.store.status import Subscriber
from oncall.testing.incidents import open_incident

from .conftest import apply_yaml

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
URL = "https://status.shop.example"
ALICE = "alice@example.com"
SHOP = """
kind: Team
name: shop
members:
  - {email: alice@example.com}
---
kind: Service
name: api-a
team: shop
---
kind: Service
name: api-b
team: shop
---
kind: MaintenanceWindow
name: db-upgrade
description: Database upgrade
services: [api-b]
from: 2026-12-05T02:00
to: 2026-12-05T04:00
timezone: UTC
---
kind: MaintenanceWindow
name: old-upgrade
services: [api-b]
from: 2026-12-01T02:00
to: 2026-12-01T04:00
timezone: UTC
---
kind: StatusPage
name: shop-status
title: Shop status
visibility: public
subscribers: {email: true, webhooks: true}
components:
  - {name: Storefront, services: [api-a]}
  - {name: Payments, services: [api-b]}
---
kind: StatusPage
name: quiet
title: Quiet
visibility: public
subscribers: {email: false}
components:
  - {name: Build, services: [api-a]}
"""


@pytest.fixture
def shop(migrated_engine: Engine, tmp_path: Path) -> tuple[Engine, ConfigSet]:
    return migrated_engine, apply_yaml(migrated_engine, tmp_path, SHOP, T0)


def subscribe(engine: Engine, config: ConfigSet, email: str, components: tuple[str, ...] = (),
              at: datetime = T0, page: str = "shop-status") -> Subscribed:
    with write_connection(engine) as conn:
        return subscribers.subscribe_email(conn, config.status_pages[page], email,
                                           components, at, URL)


def confirmed(engine: Engine, config: ConfigSet, email: str,
              components: tuple[str, ...] = ()) -> Subscriber:
    token = subscribe(engine, config, email, components).subscriber.token
    with write_connection(engine) as conn:
        found = subscribers.confirm(conn, "shop-status", token, T0)
    assert found is not None and found.active
    return found


def webhook(engine: Engine, config: ConfigSet, url: str = "https://hooks.example/in",
            components: tuple[str, ...] = ()) -> Subscribed:
    with write_connection(engine) as conn:
        return subscribers.subscribe_webhook(conn, config.status_pages["shop-status"], url,
                                             components, ALICE, T0)


def post(engine: Engine, config: ConfigSet, components: tuple[str, ...] = (),
         at: datetime = T0, title: str = "Slow checkout") -> int:
    with write_session(engine) as session:
        notice_id: int = notices.post_notice(session, config, ALICE, at, "shop-status", title,
                                             "Looking into it.", components=components,
                                             public_url=URL)
    return notice_id


def outbox(engine: Engine) -> list[NotificationRow]:
    with Session(engine) as session:
        return list(session.scalars(select(NotificationRow).order_by(NotificationRow.id)))


def mails(engine: Engine) -> list[tuple[str, str]]:
    """(address, subject) of every mail queued, in order."""
    return [(r.address, (r.provider_data or {})["subject"]) for r in outbox(engine)
            if r.kind == "mail"]


# --- subscribing ------------------------------------------------------------------------------


def test_a_new_address_gets_one_confirmation_and_nothing_else(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    done = subscribe(engine, config, "  Reader@Example.org ")
    assert done.mailed and not done.subscriber.active
    assert done.subscriber.address == "reader@example.org"
    post(engine, config)  # unconfirmed: told nothing
    ((address, subject),) = mails(engine)
    assert (address, subject) == ("reader@example.org", "[Shop status] Confirm your subscription")
    data = outbox(engine)[0].provider_data or {}
    assert f"{URL}/status/shop-status/subscriptions/{done.subscriber.token}/confirm" in data[
        "text"]


@pytest.mark.parametrize(("later", "mailed"), [
    (timedelta(minutes=1), False),
    (timedelta(minutes=9, seconds=59), False),
    (timedelta(minutes=10), True),
])
def test_asking_again_resends_at_most_every_ten_minutes(
        shop: tuple[Engine, ConfigSet], later: timedelta, mailed: bool) -> None:
    engine, config = shop
    first = subscribe(engine, config, "reader@example.org")
    again = subscribe(engine, config, "reader@example.org", at=T0 + later)
    assert again.mailed is mailed
    assert again.subscriber.token == first.subscriber.token  # the first mail's link still works
    assert len(mails(engine)) == 1 + mailed


def test_a_confirmed_address_gets_no_new_mail(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    confirmed(engine, config, "reader@example.org")
    again = subscribe(engine, config, "reader@example.org", ("Payments",),
                      at=T0 + timedelta(hours=1))
    assert not again.mailed and again.subscriber.active
    assert again.subscriber.components == ()  # a stranger cannot change what it follows
    assert len(mails(engine)) == 1


def test_an_ended_subscription_starts_over_with_a_new_token(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    old = confirmed(engine, config, "reader@example.org")
    with write_connection(engine) as conn:
        ended = subscribers.unsubscribe(conn, "shop-status", old.token, T0)
    assert ended is not None and not ended.active
    again = subscribe(engine, config, "reader@example.org", at=T0 + timedelta(minutes=1))
    assert again.mailed and not again.subscriber.active
    assert again.subscriber.token != old.token
    with write_connection(engine) as conn:
        assert subscribers.confirm(conn, "shop-status", old.token, T0) is None


def test_a_token_works_only_on_its_own_page(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    token = subscribe(engine, config, "reader@example.org").subscriber.token
    with write_connection(engine) as conn:
        assert subscribers.confirm(conn, "quiet", token, T0) is None
        assert subscribers.unsubscribe(conn, "quiet", token, T0) is None
        assert subscribers.confirm(conn, "shop-status", "nope", T0) is None


@pytest.mark.parametrize(("email", "components", "page", "error", "words"), [
    ("not-an-address", (), "shop-status", SubscriptionError, "is not an email address"),
    ("a@b", (), "shop-status", SubscriptionError, "is not an email address"),
    ("a b@example.org", (), "shop-status", SubscriptionError, "is not an email address"),
    ("r@example.org", ("Kitchen",), "shop-status", SubscriptionError,
     "has no component 'Kitchen'; its components: Storefront, Payments"),
    ("r@example.org", (), "quiet", NotTaken, "does not take email subscribers"),
])
def test_bad_requests_are_refused_clearly(shop: tuple[Engine, ConfigSet], email: str,
                                          components: tuple[str, ...], page: str,
                                          error: type[Exception], words: str) -> None:
    engine, config = shop
    with pytest.raises(error, match=words.replace("(", r"\(")):
        subscribe(engine, config, email, components, page=page)
    assert outbox(engine) == []


@pytest.mark.parametrize(("url", "ok"), [
    ("https://hooks.example/in", True),
    ("http://10.0.0.7:8080/status?x=1", True),
    ("ftp://hooks.example/in", False),
    ("https:///no-host", False),
    ("javascript:alert(1)", False),
    ("https://hooks.example/a b", False),
    ("https://hooks.example/" + "x" * 2100, False),
])
def test_a_webhook_url_must_be_http_with_a_host(shop: tuple[Engine, ConfigSet], url: str,
                                                ok: bool) -> None:
    engine, config = shop
    if ok:
        done = webhook(engine, config, url)
        assert done.subscriber.active and done.secret and len(done.secret) == 64
    else:
        with pytest.raises(SubscriptionError):
            webhook(engine, config, url)


def test_a_webhook_needs_the_page_to_take_them(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    with write_connection(engine) as conn, pytest.raises(NotTaken, match="webhook"):
        subscribers.subscribe_webhook(conn, config.status_pages["quiet"],
                                      "https://hooks.example/in", (), ALICE, T0)


def test_subscribing_a_webhook_again_rotates_its_secret(shop: tuple[Engine, ConfigSet]
                                                        ) -> None:
    engine, config = shop
    first, second = webhook(engine, config), webhook(engine, config)
    assert first.secret != second.secret
    assert second.subscriber.id == first.subscriber.id
    assert second.subscriber.secret == second.secret


# --- telling --------------------------------------------------------------------------------


def test_a_notice_and_its_updates_reach_confirmed_subscribers_once_each(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    reader = confirmed(engine, config, "reader@example.org")
    notice_id = post(engine, config)
    with write_session(engine) as session:
        notices.update_notice(session, config, ALICE, T0 + timedelta(minutes=5), notice_id,
                              "resolved", "Fixed.", public_url=URL)
    told = [m for m in mails(engine) if "Confirm" not in m[1]]
    assert told == [("reader@example.org", "[Shop status] Investigating: Slow checkout"),
                    ("reader@example.org", "[Shop status] Resolved: Slow checkout")]
    row = outbox(engine)[-1]
    headers = (row.provider_data or {})["headers"]
    assert headers["List-Unsubscribe"] == (
        f"<{URL}/status/shop-status/subscriptions/{reader.token}/unsubscribe>")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with write_connection(engine) as conn:  # telling again queues nothing (idempotency keys)
        assert subscribers.tell_notice(conn, config, notice_id, T0, URL) == 0


@pytest.mark.parametrize(("notice", "told"), [
    ((), {"all@example.org", "pay@example.org", "shop@example.org"}),
    (("Payments",), {"all@example.org", "pay@example.org"}),
    (("Storefront",), {"all@example.org", "shop@example.org"}),
])
def test_a_component_subscriber_hears_only_of_its_components(
        shop: tuple[Engine, ConfigSet], notice: tuple[str, ...], told: set[str]) -> None:
    engine, config = shop
    confirmed(engine, config, "all@example.org")
    confirmed(engine, config, "pay@example.org", ("Payments",))
    confirmed(engine, config, "shop@example.org", ("Storefront",))
    before = len(outbox(engine))
    post(engine, config, notice)
    assert {r.address for r in outbox(engine)[before:]} == told


def test_nobody_hears_after_unsubscribing(shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    reader = confirmed(engine, config, "reader@example.org")
    with write_connection(engine) as conn:
        subscribers.unsubscribe(conn, "shop-status", reader.token, T0)
    before = len(outbox(engine))
    post(engine, config)
    assert len(outbox(engine)) == before


def test_a_webhook_subscriber_gets_a_signed_statuspage_incident(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    hook = webhook(engine, config)
    notice_id = post(engine, config, ("Payments",), title="Payments <down>")
    (row,) = [r for r in outbox(engine) if r.kind == "hook"]
    assert row.address == "https://hooks.example/in"
    data: dict[str, Any] = row.provider_data or {}
    content, headers = data["content"], data["headers"]
    assert hook.secret is not None
    expected = hmac.new(hook.secret.encode(),
                        f"{headers['X-Oncall-Timestamp']}.{content}".encode(),
                        hashlib.sha256).hexdigest()
    assert headers["X-Oncall-Signature"] == f"sha256={expected}"
    payload = json.loads(content)
    assert payload["incident"]["id"] == str(notice_id)
    assert payload["incident"]["name"] == "Payments <down>"
    assert [c["name"] for c in payload["incident"]["components"]] in ([], ["Payments"])
    assert payload["meta"]["unsubscribe"].endswith(
        f"/subscriptions/{hook.subscriber.token}/unsubscribe")


def test_the_sync_tells_of_automatic_notices_and_component_changes(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    confirmed(engine, config, "pay@example.org", ("Payments",))
    confirmed(engine, config, "shop@example.org", ("Storefront",))
    webhook(engine, config, components=("Storefront",))
    sync_pages(engine, config, T0, public_url=URL)
    before = len(outbox(engine))
    with write_session(engine) as session:
        p1 = open_incident(session, service="api-a", title="disk full on db-7", now=T0,
                           priority="P1", page=False)
    sync_pages(engine, config, T0 + timedelta(seconds=1), public_url=URL)
    rows = outbox(engine)[before:]
    assert [(r.kind, r.address) for r in rows if r.kind == "mail"] == [
        ("mail", "shop@example.org")]
    subject = (rows[0].provider_data or {})["subject"]
    assert subject == "[Shop status] Investigating: Storefront: Major outage"
    kinds = sorted(list(json.loads((r.provider_data or {})["content"]))
                   for r in rows if r.kind == "hook")
    assert kinds == [["meta", "page", "component_update", "component"],
                     ["meta", "page", "incident"]]
    assert all("disk full" not in json.dumps(r.provider_data) for r in rows)
    with write_session(engine) as session:
        service.resolve(session, p1, Actor("system", "tests"), T0 + timedelta(minutes=5))
    sync_pages(engine, config, T0 + timedelta(minutes=5, seconds=1), public_url=URL)
    assert mails(engine)[-1] == ("shop@example.org", "[Shop status] Resolved: "
                                 "Storefront: Major outage")


def test_maintenance_is_told_once_when_it_starts_and_once_when_it_ends(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    confirmed(engine, config, "pay@example.org", ("Payments",))
    confirmed(engine, config, "shop@example.org", ("Storefront",))
    start = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    before = len(outbox(engine))
    for at in (start - timedelta(minutes=1), start, start + timedelta(seconds=1),
               start + timedelta(hours=2), start + timedelta(hours=2, minutes=30),
               start + timedelta(hours=4)):
        sync_pages(engine, config, at, public_url=URL)
    assert mails(engine)[before:] == [
        ("pay@example.org", "[Shop status] Maintenance started: db-upgrade"),
        ("pay@example.org", "[Shop status] Maintenance completed: db-upgrade")]
    with Session(engine) as session:  # each stage marked once, so later syncs skip it
        marks = session.scalars(select(AuditEventRow.data).where(
            AuditEventRow.type == subscribers.MAINTENANCE_TOLD).order_by(AuditEventRow.id))
        assert [(m or {})["stage"] for m in marks] == ["started", "completed"]


def test_a_window_that_ended_over_an_hour_ago_is_not_told(
        shop: tuple[Engine, ConfigSet]) -> None:
    engine, config = shop
    confirmed(engine, config, "pay@example.org")
    before = len(outbox(engine))
    # the first sync ever, an hour and a minute after old-upgrade ended
    sync_pages(engine, config, datetime(2026, 12, 1, 5, 1, tzinfo=UTC), public_url=URL)
    assert mails(engine)[before:] == []
    sync_pages(engine, config, datetime(2026, 12, 5, 4, 59, tzinfo=UTC), public_url=URL)
    assert mails(engine)[before:] == [
        ("pay@example.org", "[Shop status] Maintenance completed: db-upgrade")]
