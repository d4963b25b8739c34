"""A web push service (the role of FCM or Mozilla autopush): records the encrypted pushes.

`endpoint(name)` makes a subscription endpoint; `expire(name)` makes it answer 410 Gone, as a
push service does once the browser unsubscribed.
"""

from __future__ import annotations

import secrets

from oncall.testing.peers.base import Peer, RecordedRequest, Reply


class PushServicePeer(Peer):
    name = "push"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.expired: set[str] = set()

    def endpoint(self, name: str = "") -> str:
        return f"{self.url}/push/{name or secrets.token_urlsafe(12)}"

    def expire(self, name: str) -> None:
        self.expired.add(name)

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or not request.path.startswith("/push/"):
            return Reply.text("Not Found", 404)
        name = request.path.removeprefix("/push/")
        if name in self.expired:
            return Reply.text("push subscription has unsubscribed or expired.", 410)
        if not (request.header("Authorization") or "").startswith("vapid t="):
            return Reply.text("missing VAPID authorization", 401)
        if not request.header("TTL"):
            return Reply.text("missing TTL header", 400)
        location = f"{self.url}/m/{secrets.token_urlsafe(16)}"
        return Reply(201, b"", {"Location": location})
