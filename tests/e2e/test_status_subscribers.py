"""Status page subscribers, end to end on SQLite and PostgreSQL: the API's form and links, a
worker runtime sending through the local SMTP stand-in and posting to a local webhook peer.

A reader subscribes, confirms through the link in the mail, hears of a notice with RFC 8058's
headers, unsubscribes in one click and hears nothing more; a reader following one component
hears only of it; an address never confirmed gets the confirmation and nothing else; a webhook
subscriber gets a payload whose signature verifies with the secret it was given.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from oncall.api.app import create_api
from oncall.config.configset import ConfigSet
from oncall.core.delivery import Backoff, BreakerPolicy
from oncall.db.engine import write_session
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.statuspages import notices
from oncall.testing.incidents import open_incident
from oncall.testing.peers import WebhookPeer
from oncall.testing.peers.smtp import ReceivedMail, SmtpPeer
from oncall.web import auth
from oncall.worker.dispatcher import DispatchPolicy
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
BASE_URL = "https://status.northwind.example"
PAGE = "/status/northwind-status"
TITLE = "Northwind Commerce status"
RESPONDER = "marcus.bell@northwind.example"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    client: TestClient
    runtime: Runtime
    smtp: SmtpPeer
    hooks: WebhookPeer
    engine: Engine
    config: ConfigSet
    clock: Clock

    def run_worker(self) -> None:
        """What a worker does each second: sync the pages, then send what is due."""
        self.clock.now += timedelta(seconds=1)
        self.runtime.sync_status_pages()
        for _ in range(10):
            due = self.runtime.due_notifications()
            for notification_id in due:
                self.runtime.dispatch(notification_id)
            if not due:
                return

    def inbox(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.smtp.mails if address in m.rcpt_tos]

    def subscribe(self, email: str, *components: str) -> None:
        body = "&".join([f"email={email.replace('@', '%40')}",
                         *(f"component={c.replace(' ', '+')}" for c in components)])
        assert self.client.post(f"{PAGE}/subscribe", content=body,
                                headers=FORM).status_code == 202

    def confirm_from_mail(self, email: str) -> None:
        (mail,) = self.inbox(email)
        assert mail.message["Subject"] == f"[{TITLE}] Confirm your subscription"
        link = re.search(r"https://\S+/confirm", mail.part("plain"))
        assert link is not None
        path = urlsplit(link.group(0)).path
        assert "Confirm subscription" in self.client.get(path).text  # a button only
        assert self.client.post(path).status_code == 200

    def post_notice(self, title: str, *components: str) -> int:
        with write_session(self.engine) as session:
            notice_id: int = notices.post_notice(
                session, self.config, RESPONDER, self.clock(), "northwind-status", title,
                "We are looking into it.", components=components, public_url=BASE_URL)
        return notice_id


@pytest.fixture
def world(applied_engine: Engine, example_config: ConfigSet) -> Iterator[World]:
    # The worker and the responders' services root mail links at their settings' public URL.
    clock = Clock(T0)
    with SmtpPeer() as smtp, WebhookPeer() as hooks:
        env = {**smtp.env(), "ONCALL_PUBLIC_URL": BASE_URL}
        providers = ProviderSettings.from_env(env)
        runtime = Runtime(
            settings=Settings(database_url=str(applied_engine.url)), providers=providers,
            engine=applied_engine, chains=build_chains(providers), worker_id="test-worker",
            clock=clock,
            policy=DispatchPolicy(backoff=Backoff(base=timedelta(seconds=1), max_attempts=3),
                                  breaker=BreakerPolicy(threshold=10)))
        app = create_api(Settings(database_url=str(applied_engine.url)), applied_engine,
                         clock=clock, environ=env, config_recheck=0.0)
        with TestClient(app, raise_server_exceptions=False) as client:
            world = World(client, runtime, smtp, hooks, applied_engine, example_config, clock)
            world.run_worker()  # the first sync: every component operational
            yield world


def test_subscribe_confirm_hear_unsubscribe_and_hear_nothing_more(world: World) -> None:
    world.subscribe("reader@example.org")
    world.subscribe("search@example.org", "Search")
    world.subscribe("lurker@example.org")
    world.run_worker()
    world.confirm_from_mail("reader@example.org")
    world.confirm_from_mail("search@example.org")

    world.post_notice("Payments failing", "Checkout and payments")
    world.run_worker()
    (_, told) = world.inbox("reader@example.org")
    message = told.message
    assert message["Subject"] == f"[{TITLE}] Investigating: Payments failing"
    unsubscribe = message["List-Unsubscribe"]
    assert re.fullmatch(rf"<{BASE_URL}{PAGE}/subscriptions/[\w-]+/unsubscribe>", unsubscribe)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "We are looking into it." in told.part("plain")
    assert f"{BASE_URL}{PAGE}#incident-" in told.part("plain")
    assert len(world.inbox("search@example.org")) == 1  # not its component: the confirmation
    assert len(world.inbox("lurker@example.org")) == 1  # never confirmed: the confirmation only

    # The mail client's one-click unsubscribe: a POST, no further step.
    path = urlsplit(unsubscribe.strip("<>")).path
    response = world.client.post(path, content="List-Unsubscribe=One-Click", headers=FORM)
    assert response.status_code == 200 and "Unsubscribed" in response.text

    world.post_notice("Everything is slow")  # no component: the whole page
    world.run_worker()
    assert len(world.inbox("reader@example.org")) == 2  # nothing new
    (_, search_told) = world.inbox("search@example.org")
    assert search_told.message["Subject"] == f"[{TITLE}] Investigating: Everything is slow"
    assert len(world.inbox("lurker@example.org")) == 1


def test_an_incident_tells_the_components_followers_through_the_worker(world: World) -> None:
    world.subscribe("search@example.org", "Search")
    world.subscribe("web@example.org", "Website")
    world.run_worker()
    world.confirm_from_mail("search@example.org")
    world.confirm_from_mail("web@example.org")
    with write_session(world.engine) as session:
        open_incident(session, service="search-api", title="Shard 7 of es-prod-3 is red",
                      now=world.clock(), priority="P1", page=False)
    world.run_worker()
    (_, told) = world.inbox("search@example.org")
    assert told.message["Subject"].startswith(f"[{TITLE}] Investigating: ")
    assert "Search" in told.message["Subject"]
    assert "es-prod-3" not in told.data.decode("utf-8", "replace")  # nothing of the incident
    assert len(world.inbox("web@example.org")) == 1


def test_a_webhook_subscriber_gets_a_payload_whose_signature_verifies(world: World) -> None:
    with write_session(world.engine) as session:
        user = auth.find_user(session, RESPONDER)
        assert user is not None
        token = auth.start_session(session, user, "local", world.clock(), hours=12)
    answer = world.client.post(
        f"{PAGE}/subscribe", json={"url": world.hooks.url + "/status"},
        headers={"Cookie": f"{auth.SESSION_COOKIE}={token}"})
    assert answer.status_code == 201, answer.text
    secret = answer.json()["secret"]

    notice_id = world.post_notice("Payments failing", "Checkout and payments")
    world.run_worker()
    (request,) = world.hooks.requests
    assert request.method == "POST" and request.path == "/status"
    timestamp = request.headers["X-Oncall-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + request.body,
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Oncall-Signature"], f"sha256={expected}")
    payload = json.loads(request.body)
    assert payload["incident"]["id"] == str(notice_id)
    assert payload["incident"]["name"] == "Payments failing"
    assert payload["page"]["status_indicator"] == "none"
    assert payload["meta"]["unsubscribe"] == answer.json()["unsubscribe"]
