"""A small threaded HTTP server that records every request and can be told to fail.

Peers bind 127.0.0.1 on a free port by default, so any number run side by side (parallel
tests, several offline setups). Each is a context manager yielding itself: `.url` is its base
URL, `.requests` what it received, `.env()` the settings that point the app at it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    received_at: float = field(default_factory=time.time)
    """Wall-clock time the peer received it (for latency measurements)."""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.text, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def params(self) -> dict[str, Any]:
        """Query, form and JSON arguments merged, one value each (the last one wins)."""
        merged: dict[str, Any] = {k: v[-1] for k, v in self.query.items()}
        content_type = (self.header("Content-Type") or "").split(";")[0].strip()
        if content_type == "application/json" and self.body:
            body = self.json()
            if isinstance(body, dict):
                merged.update(body)
        elif self.body:
            merged.update({k: v[-1] for k, v in self.form().items()})
        return merged


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Reply:
        return cls(
            status, json.dumps(payload).encode(), {"Content-Type": "application/json", **headers}
        )

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Reply:
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    """The listen backlog: socketserver's default of 5 refused connections from a worker's
    burst of calls side by side, which no real provider does."""
    peer: Peer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up on a hanging peer is expected; say nothing."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """The headers and the body go out in two writes: with Nagle's algorithm the body waited
    for the client's delayed acknowledgement, some 40 ms a response, which no real provider
    adds and which held every caller's thread."""

    def setup(self) -> None:
        """One call per connection: counted, and closed once idle as long as the peer says
        (real providers close kept-alive connections after a while)."""
        peer = self.server.peer
        peer._connected()
        super().setup()
        if peer._idle_close is not None:
            self.connection.settimeout(peer._idle_close)

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=dict(self.headers.items()),
            body=body,
        )
        reply = self.server.peer._receive(request)
        if reply is None:  # hung until the peer stopped: drop the connection
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve


class Peer:
    """Base of the HTTP peers: recording, failure switches, start and stop."""

    name = "peer"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tls: bool = False) -> None:
        self._host, self._port = host, port
        self._tls = tls
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._answered: list[RecordedRequest] = []
        self._failure: Reply | None = None
        self._failures_left: int | None = None
        self._hang = False
        self._latency = 0.0
        self._idle_close: float | None = None
        self._connections = 0
        self._released = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        server = _Server((self._host, self._port), _Handler)
        server.peer = self
        if self._tls:  # HTTPS with the throwaway CA of `peers.tls`
            from oncall.testing.peers.tls import certificates

            server.socket = certificates().server_context().wrap_socket(
                server.socket, server_side=True)
        self._server = server
        self._released.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=f"{self.name}-peer", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{self.name} peer is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{self._host}:{self.port}"

    def env(self) -> dict[str, str]:
        """`ONCALL_*` variables that point the app at this peer."""
        return {}

    # recording -------------------------------------------------------------------------------
    def _connected(self) -> None:
        with self._lock:
            self._connections += 1

    @property
    def connections(self) -> int:
        """How many connections clients have opened to the peer since it was made."""
        with self._lock:
            return self._connections

    def close_idle_after(self, seconds: float | None) -> None:
        """Close a kept-alive connection once it has been idle this long (None: never)."""
        self._idle_close = seconds

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def answered(self) -> list[RecordedRequest]:
        """The requests this peer answered (not those it left hanging), in order."""
        with self._lock:
            return list(self._answered)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._answered.clear()

    # failure switches ------------------------------------------------------------------------
    def fail(self, status: int = 500, body: str = "", *, times: int | None = None) -> None:
        """Answer every request (or the next `times`) with `status`, as an outage would."""
        payload = body or json.dumps({"error": "simulated failure", "status": status})
        with self._lock:
            self._failure = Reply(status, payload.encode(), {"Content-Type": "application/json"})
            self._failures_left = times
            self._hang = False

    def hang(self) -> None:
        """Accept requests and never answer them (until `recover` or `stop`)."""
        with self._lock:
            self._hang, self._failure = True, None
            self._released.clear()

    def slow(self, seconds: float) -> None:
        """Answer every request `seconds` after it arrived, as a provider across the internet
        does (a Slack or Twilio call takes 100–500 ms); 0 answers at once. Requests are
        recorded on arrival and wait side by side."""
        with self._lock:
            self._latency = seconds

    def recover(self) -> None:
        with self._lock:
            self._hang, self._failure, self._failures_left = False, None, None
        self._released.set()

    def _receive(self, request: RecordedRequest) -> Reply | None:
        with self._lock:
            self._requests.append(request)
            hang = self._hang
            failure = self._failure
            if failure is not None and self._failures_left is not None:
                self._failures_left -= 1
                if self._failures_left <= 0:
                    self._failure, self._failures_left = None, None
        if hang:
            self._released.wait(timeout=120)
            return None
        if self._latency:
            time.sleep(self._latency)
        with self._lock:
            self._answered.append(request)
        if failure is not None:
            return failure
        try:
            return self.handle(request)
        except Exception as exc:  # noqa: BLE001 - a peer bug answers 500 instead of hanging
            return Reply.json({"error": f"peer error: {exc}"}, status=500)

    def handle(self, request: RecordedRequest) -> Reply:
        return Reply.json({"ok": True})


def flatten(form: Mapping[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in form.items()}
