"""A webhook receiver: records every call and answers as a job runner would (201 with a job id
for a POST, 200 otherwise), for workflow and runbook targets in tests and in `oncall run`."""

from __future__ import annotations

import itertools
import threading

from oncall.testing.peers.base import Peer, RecordedRequest, Reply


class WebhookPeer(Peer):
    name = "webhook"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()

    def handle(self, request: RecordedRequest) -> Reply:
        if request.method == "POST":
            with self._ids_lock:
                job = next(self._ids)
            return Reply.json({"id": job, "status": "pending"}, status=201)
        return Reply.json({"ok": True})
