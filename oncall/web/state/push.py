"""Push on this device: subscribe the browser with the server's VAPID key, store the subscription
as the signed-in person's contact method, and verify it with the code pushed to it.

The browser side runs through `rx.call_script` (the Push API lives only in the page and the
service worker, /sw.js); what it returns comes back to a handler here, like any event, behind
the session guard. The subscription is stored and verified by `oncall.contacts.methods`
(`subscribe_push`: one method per endpoint, a code pushed through the outbox). The service
worker passes that code to the open page, which confirms it without typing; if the page missed
it, the person types the code the notification shows.
"""

from __future__ import annotations

import json
from typing import Any

import reflex as rx

from oncall.contacts import methods
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor
from oncall.web import context
from oncall.web.state.session import SessionState

CODE_WAIT_MS = 120_000
"""How long the page listens for the pushed code before asking for it to be typed."""

UNSUPPORTED = (
    "This browser cannot receive push notifications here. On an iPhone or iPad, add oncall "
    "to the home screen (Share, Add to Home Screen) and enable push from the app icon."
)

BLOCKED = (
    "Notifications are blocked for this site: allow them in the browser's site settings, "
    "then try again."
)

_SUPPORT = (
    '("serviceWorker" in navigator) && ("PushManager" in window) && ("Notification" in window)'
)

STATUS_SCRIPT = f"""(async () => {{
  if (!({_SUPPORT})) return {{supported: false, endpoint: ""}};
  const registration = await navigator.serviceWorker.getRegistration("/");
  const subscription = registration ? await registration.pushManager.getSubscription() : null;
  return {{supported: true, endpoint: subscription ? subscription.endpoint : ""}};
}})().catch(() => ({{supported: false, endpoint: ""}}))"""
"""This browser's current subscription, if it has one."""

_LISTEN = """
  if (!window.__oncallPushListening) {
    window.__oncallPushListening = true;
    window.__oncallPushWaiters = [];
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "oncall-verification-code") {
        window.__oncallPushCode = String(event.data.code);
        window.__oncallPushWaiters.splice(0).forEach((wake) => wake());
      }
    });
  }
  window.__oncallPushCode = "";"""


def subscribe_script(vapid_public_key: str) -> str:
    """Ask for permission, register /sw.js, subscribe with `vapid_public_key` (a subscription
    made for another key is replaced) and return `{subscription, label}` or `{error}`."""
    key = json.dumps(vapid_public_key)
    return f"""(async () => {{
  if (!({_SUPPORT})) return {{error: {json.dumps(UNSUPPORTED)}}};
  const permission = await Notification.requestPermission();
  if (permission !== "granted") {{
    return {{error: {json.dumps(BLOCKED)}}};
  }}
  const registration = await navigator.serviceWorker.register("/sw.js", {{scope: "/"}});
  await navigator.serviceWorker.ready;{_LISTEN}
  const text = {key}.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(text + "=".repeat((4 - text.length % 4) % 4));
  const key = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  let subscription = await registration.pushManager.getSubscription();
  const current = subscription && subscription.options && subscription.options.applicationServerKey;
  if (subscription && current && new Uint8Array(current).join() !== key.join()) {{
    await subscription.unsubscribe();
    subscription = null;
  }}
  if (!subscription) {{
    subscription = await registration.pushManager.subscribe(
      {{userVisibleOnly: true, applicationServerKey: key}});
  }}
  const platform = (navigator.userAgentData && navigator.userAgentData.platform)
    || navigator.platform || "";
  return {{subscription: subscription.toJSON(), label: String(platform).slice(0, 60)}};
}})().catch((error) => ({{
  error: "Push could not be enabled: " + String((error && error.message) || error)
}}))"""


WAIT_SCRIPT = f"""new Promise((resolve) => {{
  const take = () => {{
    const code = window.__oncallPushCode || "";
    window.__oncallPushCode = "";
    resolve(code);
  }};
  if (window.__oncallPushCode) return take();
  const waiters = window.__oncallPushWaiters || (window.__oncallPushWaiters = []);
  waiters.push(take);
  setTimeout(() => {{
    const at = waiters.indexOf(take);
    if (at >= 0) waiters.splice(at, 1);
    resolve("");
  }}, {CODE_WAIT_MS});
}})"""
"""The verification code the service worker passes on, or "" when none came in time."""

UNSUBSCRIBE_SCRIPT = """(async () => {
  const registration = await navigator.serviceWorker.getRegistration("/");
  const subscription = registration ? await registration.pushManager.getSubscription() : null;
  if (!subscription) return {endpoint: ""};
  const endpoint = subscription.endpoint;
  await subscription.unsubscribe();
  return {endpoint: endpoint};
})().catch((error) => ({endpoint: "", error: String((error && error.message) || error)}))"""


def _text(value: Any, limit: int = 2048) -> str:
    return value[:limit] if isinstance(value, str) else ""


class PushState(SessionState):
    configured: bool = False
    """The server has a VAPID key pair: without it no push can be sent."""
    supported: bool = True
    checked: bool = False
    endpoint: str = ""
    """This browser's subscription endpoint ("" when it has none)."""
    device: str = ""
    """This device's method: "" (none), "pending", "verified" or "off"."""
    method_id: str = ""
    push_code: str = ""
    busy: bool = False

    def _vapid_key(self) -> str:
        return context.current().settings.providers.vapid_public_key or ""

    def _show(self, actor: Actor) -> None:
        """This device's method, read back from the contacts service."""
        assert actor.user_id is not None
        found = None
        if self.endpoint:
            with context.read_session() as session:
                found = methods.push_device(
                    session, actor, actor.user_id, self.endpoint, context.now()
                )
        self.method_id = str(found.id) if found else ""
        if found is None:
            self.device = ""
        elif not found.enabled:
            self.device = "off"
        else:
            self.device = "verified" if found.verified else "pending"

    @rx.event
    def load(self) -> Any:
        """On mount of the section: is push set up here and on the server?"""
        self.configured = bool(self._vapid_key())
        self.busy = False
        return rx.call_script(STATUS_SCRIPT, callback=PushState.found)

    @rx.event
    def found(self, info: dict[str, Any]) -> None:
        info = info if isinstance(info, dict) else {}
        self.checked = True
        self.supported = bool(info.get("supported"))
        self.endpoint = _text(info.get("endpoint"))
        self._act(self._show)

    @rx.event
    def enable(self) -> Any:
        key = self._vapid_key()
        if not key:
            self.error = "Push is not set up on this server (ONCALL_VAPID_PUBLIC_KEY)."
            return None
        self.error = self.notice = ""
        self.busy = True
        return rx.call_script(subscribe_script(key), callback=PushState.subscribed)

    @rx.event
    def subscribed(self, result: dict[str, Any]) -> Any:
        """The browser's subscription: stored (or updated) and pushed a code to verify."""
        self.busy = False
        result = result if isinstance(result, dict) else {}
        if "subscription" not in result:
            self.error = _text(result.get("error"), 500) or "Push could not be enabled."
            return None
        subscription, label = result.get("subscription"), _text(result.get("label"), 60)
        if not isinstance(subscription, dict):
            self.error = "The browser gave no push subscription."
            return None

        def store(actor: Actor) -> methods.ContactMethod:
            assert actor.user_id is not None
            with write_session(context.engine()) as session:
                return methods.subscribe_push(
                    session, actor, actor.user_id, subscription, context.now(),
                    label=label or None,
                )

        method = self._act(store)
        if method is None:
            return None
        self.endpoint = _text(subscription.get("endpoint"))
        self.method_id = str(method.id)
        if method.verified:
            self.device, self.notice = "verified", "Push is on for this device."
            return None
        self.device = "pending"
        self.notice = "A test notification with a code is on its way to this device."
        context.wake()
        return rx.call_script(WAIT_SCRIPT, callback=PushState.code_arrived)

    @rx.event
    def code_arrived(self, code: Any) -> None:
        """The code the service worker passed on; none in time: the person types it."""
        if isinstance(code, str) and code:
            self._confirm(code)
        elif self.device == "pending":
            self.notice = "Type the code from the test notification to finish."

    @rx.event
    def set_push_code(self, text: str) -> None:
        self.push_code = _text(text, 12).strip()

    @rx.event
    def confirm_code(self) -> None:
        self._confirm(self.push_code)

    def _confirm(self, code: str) -> None:
        if not self.method_id.isdigit():
            return
        method_id = int(self.method_id)

        def check(actor: Actor) -> methods.Verification:
            with write_session(context.engine()) as session:
                return methods.confirm(
                    session, actor, method_id, code, context.now(), user_id=actor.user_id
                )

        outcome = self._act(check)
        if outcome is None:
            return
        if outcome.ok:
            self.device, self.push_code = "verified", ""
            self.notice = "Push is on for this device: pages now reach it."
        else:
            self.error = f"Push: {outcome.message}"

    @rx.event
    def send_again(self) -> Any:
        """A new code (the last expired, or the notification was dismissed unread)."""
        if not self.method_id.isdigit():
            return None
        method_id = int(self.method_id)

        def resend(actor: Actor) -> methods.ContactMethod:
            with write_session(context.engine()) as session:
                return methods.send_code(
                    session, actor, method_id, context.now(), user_id=actor.user_id
                )

        if self._act(resend) is None:
            return None
        self.notice = "A new code is on its way to this device."
        context.wake()
        return rx.call_script(WAIT_SCRIPT, callback=PushState.code_arrived)

    @rx.event
    def disable(self) -> Any:
        self.error = self.notice = ""
        self.busy = True
        return rx.call_script(UNSUBSCRIBE_SCRIPT, callback=PushState.unsubscribed)

    @rx.event
    def unsubscribed(self, result: dict[str, Any]) -> None:
        """The browser dropped its subscription; its method goes too."""
        self.busy = False
        result = result if isinstance(result, dict) else {}
        endpoint = _text(result.get("endpoint")) or self.endpoint
        if not endpoint:
            self.device, self.method_id = "", ""
            return

        def drop(actor: Actor) -> bool:
            assert actor.user_id is not None
            with write_session(context.engine()) as session:
                return methods.unsubscribe_push(
                    session, actor, actor.user_id, endpoint, context.now()
                )

        if self._act(drop) is None:
            return
        self.endpoint, self.device, self.method_id, self.push_code = "", "", "", ""
        self.notice = "Push is off for this device."
