"""Grafana OnCall's public API, read-only, served from saved responses (the `--from` layout).

`GET /oncall/api/v1/users/?page=2` answers from `DIR/api/v1/users.json`, cut into pages of at
most `page_size` results with `next` links as Grafana OnCall gives them (absolute URLs), so a
client's paging is exercised. The token is checked as Grafana OnCall checks it (the bare
`Authorization` header); errors come in its shape (`{"detail": ...}`).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlencode

from oncall.testing.peers.base import Peer, RecordedRequest, Reply

PREFIX = "/oncall"
"""Grafana Cloud serves the OnCall API below a path (`https://oncall-....grafana.net/oncall`)."""


class GrafanaOncallApiPeer(Peer):
    name = "grafana-oncall-api"

    def __init__(self, root: str | Path, token: str, *, page_size: int = 2,
                 host: str = "127.0.0.1", port: int = 0, tls: bool = True) -> None:
        super().__init__(host, port, tls=tls)
        self.root, self.token, self.page_size = Path(root), token, page_size

    @property
    def api_url(self) -> str:
        """What Grafana OnCall's settings page shows as the API URL."""
        return f"{self.url}{PREFIX}"

    def handle(self, request: RecordedRequest) -> Reply:
        if request.header("Authorization") != self.token:
            return Reply.json({"detail": "Invalid token."}, status=401)
        path = request.path.removeprefix(PREFIX).strip("/")
        file = (self.root / f"{path}.json").resolve()
        if request.method != "GET" or not file.is_relative_to(self.root.resolve()) \
                or not file.is_file():
            return Reply.json({"detail": "Not found."}, status=404)
        body = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(body.get("results"), list) and not path.endswith("final_shifts"):
            body = self.page(body, request)
        return Reply.json(body)

    def page(self, body: dict[str, object], request: RecordedRequest) -> dict[str, object]:
        items = body["results"]
        assert isinstance(items, list)
        number = int(request.query.get("page", ["1"])[-1])
        query = {k: v[-1] for k, v in request.query.items()}
        start = (number - 1) * self.page_size
        link = f"{self.url}{request.path}?"
        pages = max(1, -(-len(items) // self.page_size))
        return {
            **body,
            "count": len(items),
            "results": items[start:start + self.page_size],
            "next": link + urlencode({**query, "page": number + 1}) if number < pages else None,
            "previous": link + urlencode({**query, "page": number - 1}) if number > 1 else None,
            "current_page_number": number,
            "page_size": self.page_size,
            "total_pages": pages,
        }
