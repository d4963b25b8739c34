"""The subset of Slack's Web API oncall uses, answering as Slack does (HTTP 200, `ok` flag)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from collections.abc import Mapping
from typing import Any

from oncall.testing.peers.base import Peer, RecordedRequest, Reply


def _id(prefix: str, seed: str) -> str:
    return prefix + hashlib.sha1(seed.encode()).hexdigest()[:10].upper()


class SlackPeer(Peer):
    name = "slack"

    def __init__(
        self,
        token: str | None = "xoxb-oncall-test",
        users: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: bool = False,
    ) -> None:
        """`users`: email → Slack user id known to `users.lookupByEmail`.
        `token`: the bot token required in `Authorization`; None accepts any.
        `tls`: HTTPS, as Slack is (with the throwaway CA of `peers.tls`)."""
        super().__init__(host, port, tls)
        self.token = token
        self.users: dict[str, str] = dict(users or {})
        self.channels: dict[str, str] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.closed: set[str] = set()
        """Channel ids that answer `channel_not_found` (a DM closed since it was opened)."""
        self._dm_generation: dict[str, int] = {}
        self._ts = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def env(self) -> dict[str, str]:
        return {"ONCALL_SLACK_API_URL": self.api_url, "ONCALL_SLACK_TOKEN": self.token or "xoxb"}

    def calls(self, method: str) -> list[dict[str, Any]]:
        """The arguments of every call to one API method, in order."""
        return [r.params() for r in self.requests if r.path == f"/api/{method}"]

    @property
    def response_url(self) -> str:
        """Where interaction replies go (Slack's `response_url`); posts are recorded."""
        return f"{self.url}/response"

    def responses(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests if r.path == "/response"]

    @staticmethod
    def sign(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
        """The headers Slack sends with a request signed by the app's signing secret."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        base = b"v0:" + ts.encode() + b":" + body
        digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}

    def handle(self, request: RecordedRequest) -> Reply:
        if request.path == "/response":
            return Reply.text("ok")
        if not request.path.startswith("/api/"):
            return Reply.text("not found", 404)
        method = request.path.removeprefix("/api/")
        if self.token is not None:
            auth = request.header("Authorization") or ""
            if auth != f"Bearer {self.token}":
                return Reply.json({"ok": False, "error": "invalid_auth"})
        args = request.params()
        handler = {
            "auth.test": self._auth_test,
            "users.lookupByEmail": self._lookup_by_email,
            "users.info": self._users_info,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
        }.get(method)
        if handler is None:
            return Reply.json({"ok": False, "error": "unknown_method"})
        return Reply.json(handler(args))

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"{self.url}/",
            "team": "oncall-test",
            "user": "oncall",
            "team_id": "T0ONCALL",
            "user_id": "U0ONCALL",
            "bot_id": "B0ONCALL",
        }

    def _lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        email = str(args.get("email", "")).lower()
        user_id = next((uid for mail, uid in self.users.items() if mail.lower() == email), None)
        if user_id is None:
            return {"ok": False, "error": "users_not_found"}
        return {
            "ok": True,
            "user": {"id": user_id, "name": email.split("@")[0], "profile": {"email": email}},
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = str(args.get("user", ""))
        email = next((mail for mail, uid in self.users.items() if uid == user_id), None)
        if email is None:
            return {"ok": False, "error": "user_not_found"}
        return {
            "ok": True,
            "user": {"id": user_id, "name": email.split("@")[0], "profile": {"email": email}},
        }

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = args.get("users")
        if isinstance(users, list):
            users = ",".join(users)
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        generation = self._dm_generation.get(str(users), 0)
        return {"ok": True, "channel": {"id": _id("D", f"{users}/{generation}")}}

    def close_dm(self, user_id: str) -> None:
        """The DM with this user goes away; `conversations.open` then gives a new one."""
        with self._lock:
            generation = self._dm_generation.get(user_id, 0)
            self.closed.add(_id("D", f"{user_id}/{generation}"))
            self._dm_generation[user_id] = generation + 1

    def _channel_id(self, channel: str) -> str:
        if channel.startswith("#"):
            return self.channels.setdefault(channel[1:], _id("C", channel[1:]))
        return channel

    def _post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        channel_id = self._channel_id(channel)
        if channel_id in self.closed:
            return {"ok": False, "error": "channel_not_found"}
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        message = {
            "type": "message",
            "ts": ts,
            "text": args.get("text", ""),
            "blocks": args.get("blocks", []),
        }
        with self._lock:
            self.messages[(channel_id, ts)] = message
        return {"ok": True, "channel": channel_id, "ts": ts, "message": message}

    def _update(self, args: dict[str, Any]) -> dict[str, Any]:
        key = (self._channel_id(str(args.get("channel") or "")), str(args.get("ts") or ""))
        with self._lock:
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            message = {
                **self.messages[key],
                "text": args.get("text", ""),
                "blocks": args.get("blocks", []),
            }
            self.messages[key] = message
        return {
            "ok": True,
            "channel": key[0],
            "ts": key[1],
            "text": message["text"],
            "message": message,
        }
