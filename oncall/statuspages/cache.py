"""Rendered public status pages, kept per process, so an outage's readers cost no queries.

A status page is read hardest exactly when things are on fire: thousands of customers reload
it while the database is busy paging people. Each process therefore keeps the bytes of every
document of each public page with its ETag. At most once per `refresh` seconds one thread asks
the database whether anything changed (one cheap version query); only then is the page read and
rendered again. Every other request, including those arriving during a rebuild, is answered
from the bytes already held. If the refresh fails (the database is down), the previous bytes
keep being served: a status page that goes blank in an outage is worse than a stale one.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime

log = logging.getLogger(__name__)

REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class Document:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Document:
        return cls(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@dataclass(frozen=True)
class Rendered:
    """One page's documents at one version of its rows and config."""

    documents: Mapping[str, Document]
    version: Hashable
    stale_at: datetime
    """When time alone changes the page (see PageView.stale_at)."""
    config: object
    """The applied config it was built from: a new apply rebuilds it."""


Refresh = Callable[[Rendered | None], Rendered | None]
"""Given what is held (or None), the page as it is now: the same object if nothing changed,
a new one if something did, None if the page is no longer public."""


class _Entry:
    __slots__ = ("checked", "lock", "rendered")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rendered: Rendered | None = None
        self.checked = float("-inf")


class PageCache:
    """Per page: the rendered documents and the monotonic time they were last checked."""

    def __init__(self, refresh: float = REFRESH_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.refresh = refresh
        self._monotonic = monotonic
        self._entries: dict[str, _Entry] = {}
        self._guard = threading.Lock()

    def fresh(self, name: str) -> Rendered | None:
        """The page's documents while they need no check: no lock, no database."""
        entry = self._entries.get(name)
        if entry is None or self._monotonic() - entry.checked >= self.refresh:
            return None
        return entry.rendered

    def held(self, name: str) -> Rendered | None:
        """The page's documents however old: what to serve when the database cannot say."""
        entry = self._entries.get(name)
        return entry.rendered if entry is not None else None

    def get(self, name: str, refresh: Refresh) -> Rendered | None:
        """The page's documents, checked (and rebuilt if changed) when the interval is up.

        One thread checks; the others are answered from what is held meanwhile. Only the
        first build of a page, with nothing to serve yet, makes other readers wait for it."""
        entry = self._entry(name)
        if self._monotonic() - entry.checked < self.refresh:
            return entry.rendered
        held = entry.rendered
        if not entry.lock.acquire(blocking=held is None):
            return held
        try:
            if self._monotonic() - entry.checked < self.refresh:  # another thread just did
                return entry.rendered
            try:
                entry.rendered = refresh(entry.rendered)
            except Exception:
                if entry.rendered is None:
                    raise
                log.warning("status page %s: refresh failed, serving the previous rendering",
                            name, exc_info=True)
            entry.checked = self._monotonic()
            return entry.rendered
        finally:
            entry.lock.release()

    def forget(self, name: str) -> None:
        with self._guard:
            self._entries.pop(name, None)

    def _entry(self, name: str) -> _Entry:
        entry = self._entries.get(name)
        if entry is None:
            with self._guard:
                entry = self._entries.setdefault(name, _Entry())
        return entry
