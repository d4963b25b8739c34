"""A Microsoft Teams incoming webhook: records the cards posted to it."""

from __future__ import annotations

from typing import Any

from oncall.testing.peers.base import Peer, RecordedRequest, Reply


class TeamsPeer(Peer):
    name = "teams"

    @property
    def webhook_url(self) -> str:
        """A webhook URL of the shape Teams hands out (the path is the secret)."""
        return f"{self.url}/webhookb2/oncall-test/IncomingWebhook/0123456789abcdef"

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards received, in order."""
        cards = []
        for request in self.requests:
            if request.method != "POST":
                continue
            payload = request.json()
            for attachment in payload.get("attachments", []):
                cards.append(attachment.get("content"))
        return cards

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method != "POST" or not request.path.startswith("/webhookb2/"):
            return Reply.text("Not Found", 404)
        try:
            payload = request.json()
        except ValueError:
            return Reply.text("Bad payload received by generic incoming webhook.", 400)
        if not isinstance(payload, dict) or not (payload.get("attachments") or payload.get("text")):
            return Reply.text("Text is required.", 400)
        return Reply.text("1")
