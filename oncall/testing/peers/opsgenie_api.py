"""Opsgenie's REST API, read-only, served from saved responses (the `--from` layout).

`GET /v2/users?offset=..&limit=..` answers from `DIR/v2/users.json`, cut into pages of at most
`page_size` items with `paging.next` as Opsgenie sets it, so a client's paging is exercised.
A request without `Authorization: GenieKey <key>` gets Opsgenie's 401 and an unknown path its
404, both in Opsgenie's error shape.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from oncall.testing.peers.base import Peer, RecordedRequest, Reply


class OpsgenieApiPeer(Peer):
    name = "opsgenie-api"

    def __init__(self, root: str | Path, key: str, *, page_size: int = 2,
                 host: str = "127.0.0.1", port: int = 0, tls: bool = True) -> None:
        super().__init__(host, port, tls=tls)
        self.root, self.key, self.page_size = Path(root), key, page_size

    def error(self, status: int, message: str) -> Reply:
        return Reply.json({"message": message, "took": 0.001,
                           "requestId": "00000000-0000-4000-8000-000000000000"}, status=status)

    def handle(self, request: RecordedRequest) -> Reply:
        if request.header("Authorization") != f"GenieKey {self.key}":
            return self.error(401, "Could not authenticate")
        path = request.path.strip("/")
        file = (self.root / f"{path}.json").resolve()
        if request.method != "GET" or not file.is_relative_to(self.root.resolve()) \
                or not file.is_file():
            return self.error(404, f"No resource found at /{path}")
        body = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(body.get("data"), list) and "offset" in request.query:
            body = self.page(body, request)
        return Reply.json(body)

    def page(self, body: dict[str, object], request: RecordedRequest) -> dict[str, object]:
        items = body["data"]
        assert isinstance(items, list)
        offset = int(request.query["offset"][-1])
        limit = min(int(request.query.get("limit", ["20"])[-1]), self.page_size)
        paging: dict[str, str] = {}
        query = {k: v[-1] for k, v in request.query.items()}
        if offset + limit < len(items):
            paging["next"] = f"{self.url}{request.path}?" + urlencode(
                {**query, "offset": offset + limit, "limit": limit})
        paging["first"] = f"{self.url}{request.path}?" + urlencode(
            {**query, "offset": 0, "limit": limit})
        return {**body, "data": items[offset:offset + limit], "totalCount": len(items),
                "paging": paging}
