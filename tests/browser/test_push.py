"""The installable app and push on this device, in Chromium.

The manifest, icons and service worker load from the site root and every page links them.
Chromium's own push service is out of reach offline, so the page's PushManager hands out a
subscription whose endpoint is the local push service (oncall.testing.peers.push) and whose
keys the test holds; everything else is real: the section registers /sw.js, subscribes with the
server's VAPID key, the server stores the subscription and pushes it a code through pywebpush,
the test decrypts what the push service received and delivers it to the service worker
(DevTools' ServiceWorker.deliverPushMessage), which shows it and passes the code to the page,
which confirms it. A pushed page then shows as a notification with an Acknowledge action.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.cli.vapid_commands import generate_keys
from oncall.context import Context
from oncall.db.engine import write_session
from oncall.db.models import ContactMethodRow, IncidentRow, NotificationRow, UserRow
from oncall.notify.message import Notice, NoticeKind, Status, render_push
from oncall.notify.settings import ProviderSettings
from oncall.paging.notices import new_ack_link
from oncall.settings import Settings
from oncall.testing.peers import PushServicePeer
from oncall.worker.runtime import Runtime

from .conftest import App, Provider
from .test_web_app import sso

pytestmark = pytest.mark.browser

RESPONDER = "marcus.bell@northwind.example"
PUBLIC_KEY, PRIVATE_KEY = generate_keys()
SUBJECT = "mailto:oncall@northwind.example"


@pytest.fixture(scope="module", autouse=True)
def vapid_keys() -> Iterator[None]:
    """The app of this module starts with a VAPID key pair (set before `app` starts it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONCALL_VAPID_PUBLIC_KEY", PUBLIC_KEY)
        patch.setenv("ONCALL_VAPID_PRIVATE_KEY", PRIVATE_KEY)
        patch.setenv("ONCALL_VAPID_SUBJECT", SUBJECT)
        yield


@pytest.fixture
def push() -> Iterator[PushServicePeer]:
    with PushServicePeer() as peer:
        yield peer


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Device:
    """The subscription the page's PushManager hands out: our endpoint, our keys."""

    def __init__(self, endpoint: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.subscription = {"endpoint": endpoint, "expirationTime": None,
                             "keys": {"p256dh": _b64(public), "auth": _b64(self.auth)}}

    def init_script(self) -> str:
        return """(() => {
  const SUB = __SUBSCRIPTION__;
  const STORE = "oncall-test-subscription";
  const made = () => ({
    endpoint: SUB.endpoint, expirationTime: null,
    options: {userVisibleOnly: true, applicationServerKey: null},
    toJSON: () => SUB,
    unsubscribe: async () => { localStorage.removeItem(STORE); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    localStorage.setItem("oncall-test-key", btoa(String.fromCharCode(...key)));
    localStorage.setItem(STORE, "1");
    return made();
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem(STORE) ? made() : null;
  };
})();""".replace("__SUBSCRIPTION__", json.dumps(self.subscription))

    def read(self, body: bytes) -> str:
        plain: bytes = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                        version="aes128gcm")
        return plain.decode()


def worker(app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The dispatcher a worker runs, on the app's database, with the app's VAPID keys."""
    monkeypatch.chdir(tmp_path)
    providers = ProviderSettings.from_env({
        "ONCALL_VAPID_PUBLIC_KEY": PUBLIC_KEY, "ONCALL_VAPID_PRIVATE_KEY": PRIVATE_KEY,
        "ONCALL_VAPID_SUBJECT": SUBJECT, "ONCALL_PUBLIC_URL": app.url})
    url = app.engine.url.render_as_string(hide_password=False)
    settings = Settings(database_url=url, providers=providers)
    return Runtime.from_context(Context(settings, app.engine))


def registration_id(page: Any, cdp: Any, scope: str) -> str:
    found: dict[str, str] = {}

    def seen(event: dict[str, Any]) -> None:
        for registration in event.get("registrations", []):
            if registration.get("scopeURL") == scope and not registration.get("isDeleted"):
                found["id"] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while "id" not in found and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # lets Playwright deliver the DevTools events
    assert "id" in found, f"no service worker registration for {scope}"
    return found["id"]


NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({title: n.title, body: n.body, tag: n.tag,
    requireInteraction: n.requireInteraction, actions: n.actions.map((a) => a.action),
    ack_url: (n.data || {}).ack_url || null, url: (n.data || {}).url || null}));
}"""


def notifications(page: Any, tag: str) -> list[dict[str, Any]]:
    """The service worker's notifications with `tag`, once there is one (or after 10 s)."""
    deadline = time.monotonic() + 10
    shown: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        shown = [n for n in page.evaluate(NOTIFICATIONS) if n["tag"] == tag]
        if shown:
            break
        page.wait_for_timeout(200)
    return shown


def test_the_app_is_installable(browser: Any, app: App, provider: Provider) -> None:
    page = sso(browser, app, provider, RESPONDER)
    head = page.locator("head")
    assert head.locator("link[rel=manifest]").get_attribute("href") == "/manifest.webmanifest"
    assert (head.locator("link[rel=apple-touch-icon]").get_attribute("href")
            == "/icons/apple-touch-icon.png")
    assert head.locator("meta[name=theme-color]").count() == 1
    manifest = httpx.get(f"{app.url}/manifest.webmanifest", timeout=10)
    assert manifest.status_code == 200
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    assert manifest.json()["display"] == "standalone"
    for icon in manifest.json()["icons"]:
        got = httpx.get(f"{app.url}{icon['src']}", timeout=10)
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    worker_script = httpx.get(f"{app.url}/sw.js", timeout=10)
    assert worker_script.status_code == 200
    assert "javascript" in worker_script.headers["content-type"]
    assert "worker-src 'self'" in worker_script.headers["content-security-policy"]


def test_enable_push_verify_by_the_pushed_code_and_show_a_page(
    browser: Any, app: App, provider: Provider, push: PushServicePeer, shot: Any,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    device = Device(push.endpoint("marcus-phone"))
    page = sso(browser, app, provider, RESPONDER, permissions=["notifications"])
    page.context.add_init_script(device.init_script())
    page.goto(f"{app.url}/push")
    page.wait_for_selector("#push-enable")
    assert page.locator("#push-status").inner_text() == "off"

    page.click("#push-enable")
    page.locator("#push-status", has_text="waiting").wait_for()
    # the service worker at the root controls every page
    scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == f"{app.url}/"
    sent_key = page.evaluate("() => localStorage.getItem('oncall-test-key')")
    assert _b64(base64.b64decode(sent_key)) == PUBLIC_KEY  # applicationServerKey
    with Session(app.engine) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == RESPONDER))
        assert user is not None
        (method,) = session.scalars(select(ContactMethodRow).where(
            ContactMethodRow.user_id == user.id, ContactMethodRow.type == "push"))
        assert json.loads(method.address)["endpoint"] == device.subscription["endpoint"]
        assert method.verified_at is None

    # a worker sends the code through pywebpush to the push service, which hands it on
    dispatcher = worker(app, tmp_path, monkeypatch)
    for notification_id in dispatcher.due_notifications():
        dispatcher.dispatch(notification_id)
    (request,) = push.requests
    assert (request.header("Authorization") or "").startswith("vapid t=")
    cdp = page.context.new_cdp_session(page)
    rid = registration_id(page, cdp, f"{app.url}/")
    cdp.send("ServiceWorker.deliverPushMessage",
             {"origin": app.url, "registrationId": rid, "data": device.read(request.body)})
    page.locator("#push-status", has_text="on for this device").wait_for(timeout=15_000)
    with Session(app.engine) as session:
        verified = session.get(ContactMethodRow, method.id)
        assert verified is not None and verified.verified_at is not None
    shot(page, "push-enabled")

    # a page pushed to the device: a notification that stays, with Acknowledge
    title = f"Checkout journey failing {uuid.uuid4().hex[:6]}"
    iid = app.post_alert(title, title)["incidents"][0]
    with write_session(app.engine) as session:
        ack_url = new_ack_link(session, NotificationRow(user_id=user.id, incident_id=iid),
                               app.url, datetime.now(UTC))
    notice = Notice(kind=NoticeKind.PAGE, incident_id=str(iid), number=iid, title=title,
                    url=f"{app.url}/incidents/{iid}", service="storefront-web", priority="P1",
                    urgency="high", status=Status.TRIGGERED, ack_url=ack_url)
    cdp.send("ServiceWorker.deliverPushMessage",
             {"origin": app.url, "registrationId": rid, "data": render_push(notice)})
    tag = f"incident-{iid}"
    shown = notifications(page, tag)
    assert shown == [{"title": f"#{iid} Triggered: {title}", "body": "P1 · storefront-web",
                      "tag": tag, "requireInteraction": True, "actions": ["acknowledge"],
                      "ack_url": ack_url, "url": f"{app.url}/incidents/{iid}"}]

    # its Acknowledge button: the worker posts the signed link, and says so in its place
    (sw,) = [w for w in page.context.service_workers if w.url.endswith("/sw.js")]
    sw.evaluate("(data) => acknowledge(data)",
                {"ack_url": ack_url, "number": iid, "incident_id": str(iid),
                 "url": f"{app.url}/incidents/{iid}"})
    with Session(app.engine) as session:
        assert session.scalar(select(IncidentRow.status).where(IncidentRow.id == iid)) == (
            "acknowledged")
    assert [n["title"] for n in notifications(page, tag)] == [f"#{iid} acknowledged"]

    # disabling on the device removes the subscription and its contact method
    page.click("#push-disable")
    page.locator("#push-status", has_text="off").wait_for()
    with Session(app.engine) as session:
        assert session.get(ContactMethodRow, method.id) is None
