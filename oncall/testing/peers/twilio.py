"""The subset of Twilio's REST API oncall uses, and Twilio's side of the callbacks.

Messages and calls are recorded with the form the SDK posted. Callbacks (delivery status,
inbound SMS, keypresses) are posted back signed with the account's auth token exactly as
Twilio signs them (`X-Twilio-Signature`, the SDK's `RequestValidator` algorithm), or with a
forged or missing signature to test that they are refused.
"""

from __future__ import annotations

import re
import secrets
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from oncall.testing.peers.base import Peer, RecordedRequest, Reply, flatten

_ROUTE = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/(?P<kind>Messages|Calls)(?:/(?P<sid>[^/.]+))?\.json$"
)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
UNSET = object()


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class CallbackResponse:
    status: int
    body: str
    headers: dict[str, str]


class TwilioPeer(Peer):
    name = "twilio"

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        from_number: str = "+15005550006",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.account_sid = account_sid or new_sid("AC")
        self.auth_token = auth_token or secrets.token_hex(16)
        self.from_number = from_number
        self._resources: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []
        self._resource_lock = threading.Lock()

    def env(self) -> dict[str, str]:
        return {
            "ONCALL_TWILIO_API_URL": self.url,
            "ONCALL_TWILIO_ACCOUNT_SID": self.account_sid,
            "ONCALL_TWILIO_AUTH_TOKEN": self.auth_token,
            "ONCALL_TWILIO_FROM": self.from_number,
        }

    # what was sent ---------------------------------------------------------------------------
    @property
    def messages(self) -> list[dict[str, Any]]:
        """Every message accepted: the posted form (one value per field) plus its `sid`."""
        return self._of_kind("Messages")

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every call placed; `StatusCallbackEvent` keeps its list of values."""
        return self._of_kind("Calls")

    def _of_kind(self, kind: str) -> list[dict[str, Any]]:
        with self._resource_lock:
            return [
                dict(self._resources[s]) for s in self._order if self._resources[s]["_kind"] == kind
            ]

    def resource(self, sid: str) -> dict[str, Any]:
        with self._resource_lock:
            return dict(self._resources[sid])

    # the REST API ----------------------------------------------------------------------------
    def handle(self, request: RecordedRequest) -> Reply:
        match = _ROUTE.match(request.path)
        if match is None:
            return _error(404, 20404, "The requested resource was not found")
        if not self._authorized(request):
            return _error(401, 20003, "Authenticate")
        if match["account"] != self.account_sid:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        kind, sid = match["kind"], match["sid"]
        if sid is not None:
            return self._instance(request, kind, sid)
        if request.method != "POST":
            return _error(405, 20004, "Method not allowed")
        form = request.form()
        params = flatten(form)
        to = params.get("To", "")
        if not _E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not params.get("From"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if kind == "Messages":
            if not params.get("Body"):
                return _error(400, 21602, "Message body is required.")
            resource = self._message(params)
        else:
            if not params.get("Url") and not params.get("Twiml"):
                return _error(400, 21205, "Url parameter is required.")
            resource = self._call(params, form.get("StatusCallbackEvent", []))
        with self._resource_lock:
            self._resources[resource["sid"]] = {
                "_kind": kind,
                **params,
                "sid": resource["sid"],
                "status": resource["status"],
                **(
                    {"StatusCallbackEvent": form.get("StatusCallbackEvent", [])}
                    if kind == "Calls"
                    else {}
                ),
            }
            self._order.append(resource["sid"])
        return Reply.json(resource, status=201)

    def _authorized(self, request: RecordedRequest) -> bool:
        import base64

        auth = request.header("Authorization") or ""
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _common(self, sid: str, kind: str, params: dict[str, str]) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=False).replace("-0000", "+0000")
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": params.get("To"),
            "from": params.get("From"),
            "date_created": now,
            "date_updated": now,
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/{kind}/{sid}.json",
        }

    def _message(self, params: dict[str, str]) -> dict[str, Any]:
        sid = new_sid("SM")
        body = params["Body"]
        return {
            **self._common(sid, "Messages", params),
            "body": body,
            "status": "queued",
            "num_segments": str(1 + (len(body) - 1) // 153 if len(body) > 160 else 1),
            "num_media": "0",
            "direction": "outbound-api",
            "date_sent": None,
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "messaging_service_sid": params.get("MessagingServiceSid"),
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
        }

    def _call(self, params: dict[str, str], events: list[str]) -> dict[str, Any]:
        sid = new_sid("CA")
        return {
            **self._common(sid, "Calls", params),
            "to_formatted": params.get("To"),
            "from_formatted": params.get("From"),
            "status": "queued",
            "direction": "outbound-api",
            "answered_by": None,
            "duration": None,
            "start_time": None,
            "end_time": None,
            "price": None,
            "price_unit": "USD",
            "parent_call_sid": None,
            "phone_number_sid": None,
            "caller_name": None,
            "forwarded_from": None,
            "group_sid": None,
            "queue_time": "0",
            "trunk_sid": None,
            "subresource_uris": {},
        }

    def _instance(self, request: RecordedRequest, kind: str, sid: str) -> Reply:
        with self._resource_lock:
            stored = self._resources.get(sid)
            if stored is None or stored["_kind"] != kind:
                return _error(404, 20404, f"The requested resource {request.path} was not found")
            if request.method == "POST":
                update = flatten(request.form())
                if "Status" in update:
                    stored["status"] = update["Status"]
            params = {k: v for k, v in stored.items() if isinstance(v, str)}
        common = self._common(sid, kind, params)
        return Reply.json({**common, "status": stored["status"]})

    # callbacks to the app --------------------------------------------------------------------
    def sign(self, url: str, params: dict[str, str]) -> str:
        return str(RequestValidator(self.auth_token).compute_signature(url, params))

    def post_callback(
        self,
        url: str,
        params: dict[str, str],
        *,
        signature: object = UNSET,
        timeout: float = 10,
    ) -> CallbackResponse:
        """POST a callback as Twilio does; `signature=None` sends none, a string forges one."""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "TwilioProxy/1.1",
        }
        if signature is UNSET:
            headers["X-Twilio-Signature"] = self.sign(url, params)
        elif isinstance(signature, str):
            headers["X-Twilio-Signature"] = signature
        request = urllib.request.Request(
            url, data=urlencode(params).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return CallbackResponse(
                    int(response.status),
                    response.read().decode(errors="replace"),
                    dict(response.headers.items()),
                )
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace") if exc.fp else ""
            return CallbackResponse(exc.code, body, dict(exc.headers.items()))

    def message_status(
        self,
        sid: str,
        status: str = "delivered",
        *,
        error_code: str | None = None,
        url: str | None = None,
        signature: object = UNSET,
    ) -> CallbackResponse:
        """A delivery receipt (queued, sent, delivered, undelivered, failed)."""
        message = self.resource(sid)
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "AccountSid": self.account_sid,
            "From": message["From"],
            "To": message["To"],
            "MessageStatus": status,
            "SmsStatus": status,
            "ApiVersion": "2010-04-01",
        }
        if error_code:
            params["ErrorCode"] = error_code
        self._set_status(sid, status)
        return self.post_callback(url or message["StatusCallback"], params, signature=signature)

    def call_status(
        self,
        sid: str,
        status: str = "completed",
        *,
        answered_by: str | None = None,
        duration: int = 0,
        url: str | None = None,
        signature: object = UNSET,
    ) -> CallbackResponse:
        """A call progress event (ringing, in-progress, completed, busy, no-answer, failed)."""
        call = self.resource(sid)
        params = {
            "CallSid": sid,
            "AccountSid": self.account_sid,
            "From": call["From"],
            "To": call["To"],
            "CallStatus": status,
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallDuration": str(duration),
        }
        if answered_by:
            params["AnsweredBy"] = answered_by
        self._set_status(sid, status)
        return self.post_callback(url or call["StatusCallback"], params, signature=signature)

    def gather(
        self, sid: str, digits: str, *, url: str | None = None, signature: object = UNSET
    ) -> CallbackResponse:
        """The callee pressed `digits`: post them to the call's `<Gather action>`."""
        call = self.resource(sid)
        target = url or self.gather_action(sid)
        params = {
            "CallSid": sid,
            "AccountSid": self.account_sid,
            "From": call["From"],
            "To": call["To"],
            "CallStatus": "in-progress",
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "Digits": digits,
            "FinishedOnKey": "",
        }
        return self.post_callback(target, params, signature=signature)

    def gather_action(self, sid: str) -> str:
        twiml = self.resource(sid).get("Twiml")
        if not twiml:
            raise LookupError(f"call {sid} was placed with a Url, not inline TwiML")
        gather = ET.fromstring(twiml).find("Gather")
        if gather is None or not gather.get("action"):
            raise LookupError(f"call {sid} gathers no digits")
        return str(gather.get("action"))

    def inbound_sms(
        self,
        url: str,
        from_number: str,
        body: str,
        *,
        to: str | None = None,
        signature: object = UNSET,
    ) -> CallbackResponse:
        """Someone texted our number: post it to the app's inbound SMS webhook."""
        sid = new_sid("SM")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_number,
            "To": to or self.from_number,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        return self.post_callback(url, params, signature=signature)

    def _set_status(self, sid: str, status: str) -> None:
        with self._resource_lock:
            self._resources[sid]["status"] = status


def _error(status: int, code: int, message: str) -> Reply:
    return Reply.json(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )
