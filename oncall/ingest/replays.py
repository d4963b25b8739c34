"""The replay guard for HMAC-signed deliveries: a signature is accepted once.

A signed request carries its timestamp, and `auth.verify_hmac` refuses one outside the window
(`REPLAY_WINDOW` old, `MAX_FUTURE_SKEW` ahead). Inside the window, a captured request could be
sent again: a replayed resolve would resolve whatever incident the alert has *now*. So the
digest of every accepted signature is kept in `ingest_replays` until its timestamp leaves the
window, and a request whose digest is there is refused (409, nothing stored).

The digest is claimed by one `INSERT ... ON CONFLICT DO NOTHING` as the first statement of the
transaction that stores the delivery, on every path (the ingest store's `claim`, one statement
per database in `oncall.store`): if the delivery fails (503, the sender retries with the same
signature) the claim rolls back with it, and of two concurrent copies the second waits on the
first's unique key and then finds it taken. Bearer-token deliveries have no
signature and pay nothing. Expired rows are deleted at most once per `PURGE_EVERY_SECONDS` per
process, by the index on `expires_at`, outside the ingest transaction (`purge`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete

from oncall.db.engine import write_connection
from oncall.db.models import IngestReplayRow

PURGE_EVERY_SECONDS = 60.0


class Replayed(Exception):
    """This signed request was accepted before: nothing is stored, the caller answers 409."""


@dataclass(frozen=True)
class Mark:
    """What a signed delivery claims: its integration, its digest, and until when."""

    integration: str
    digest: str
    expires_at: datetime

    def values(self) -> dict[str, object]:
        return {"integration": self.integration, "digest": self.digest,
                "expires_at": self.expires_at}


class Purger:
    """Deletes expired claims, at most once per `every` seconds in this process."""

    def __init__(self, every: float = PURGE_EVERY_SECONDS) -> None:
        self._every = every
        self._lock = threading.Lock()
        self._last = float("-inf")

    def due(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._every:
                return False
            self._last = now
            return True

    @staticmethod
    def purge(engine: Engine, now: datetime) -> int:
        with write_connection(engine) as conn:
            result = conn.execute(delete(IngestReplayRow).where(IngestReplayRow.expires_at < now))
        return int(result.rowcount or 0)
