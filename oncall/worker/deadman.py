"""The platform's own dead man's switch: a worker pings ONCALL_DEADMAN_URL (a healthchecks.io
check, Opsgenie's or our own heartbeat ping URL on another installation, a Prometheus
Pushgateway ...) so that something outside notices when paging itself has stopped.

Pinged only from the end of a sweep pass that got through (the database answered, the due rows
were handed out), never from a timer of its own: a worker whose sweeps are stuck or failing
stops pinging, which is the point. At most one ping per interval per process, sent on a
short-lived thread so a slow receiver never holds up a sweep, and never two at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

log = logging.getLogger("oncall.worker")

TIMEOUT_SECONDS = 10.0


def _get(url: str) -> int:
    response = httpx.get(url, timeout=TIMEOUT_SECONDS, follow_redirects=False)
    return response.status_code


@dataclass
class DeadmanSwitch:
    url: str
    interval: float
    send: Callable[[str], int] = _get
    """GET the URL; its HTTP status. Tests pass their own."""
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _last: float | None = field(default=None, init=False)
    _sending: bool = field(default=False, init=False)

    def due(self) -> bool:
        """Whether a ping is due now; claims it (the caller then sends it)."""
        now = self.clock()
        with self._lock:
            if self._sending or (self._last is not None and now - self._last < self.interval):
                return False
            self._last = now
            self._sending = True
            return True

    def swept(self, background: bool = True) -> bool:
        """A sweep pass finished: ping if one is due; whether one was started."""
        if not self.due():
            return False
        if background:
            threading.Thread(target=self._ping, name="deadman", daemon=True).start()
        else:
            self._ping()
        return True

    def _ping(self) -> None:
        try:
            status = self.send(self.url)
            if status >= 400:
                log.warning("dead man's switch: %s answered HTTP %s", _safe(self.url), status)
        except Exception as exc:  # noqa: BLE001 - the next interval tries again
            log.warning("dead man's switch: could not reach %s: %s", _safe(self.url),
                        type(exc).__name__)
        finally:
            with self._lock:
                self._sending = False


def _safe(url: str) -> str:
    """The URL without its path and query, which often hold the check's secret."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}"
