"""The worker's log while the database or the queue is down: one line, not a stack a second.

The sweeper retries every interval and each queue thread retries its read several times a
second, so an outage of a minute would print hundreds of identical stack traces and bury the
line that says what is wrong. Pages keep going out meanwhile (the sweeper reads the database;
the queue is only the fast path)."""

from __future__ import annotations

import logging
import threading
import time

OUTAGE_MESSAGES = ("Error reading from queue", "sweep failed")
"""The messages of the loops that retry by themselves (Huey's consumer, the sweeper)."""


class OutageLines(logging.Filter):
    """Turns each retrying loop's failure into one warning line (the error named, its stack
    left out), at most once per `every` seconds per message, counting those held back."""

    def __init__(self, every: float = 10.0) -> None:
        super().__init__()
        self.every = every
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        key = next((m for m in OUTAGE_MESSAGES if template.startswith(m)), None)
        if key is None or record.exc_info is None:
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(key, -self.every) < self.every:
                self._held[key] = self._held.get(key, 0) + 1
                return False
            self._last[key] = now
            held, self._held[key] = self._held.get(key, 0), 0
        error = record.exc_info[1]
        said = record.getMessage()
        detail = str(error).strip().splitlines()[0] if error and str(error).strip() else ""
        record.msg = "%s: %s: %s (retrying; %d like it in the last %.0f s not shown)"
        record.args = (said, type(error).__name__, detail, held, self.every)
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_outages(every: float = 10.0) -> None:
    """Put the filter on the root logger's handlers (where Huey's per-thread loggers end up)."""
    lines = OutageLines(every)
    for handler in logging.getLogger().handlers:
        handler.addFilter(lines)
