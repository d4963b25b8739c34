"""The config as applied, read back from the database for ingest, escalation and the web app.

Processes other than the reconciler never read the config repo: what the database holds is
what is in force. Reading it is cached per process and refreshed when an apply changed it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet, Source
from oncall.config.diagnostics import Position
from oncall.config.models import KINDS
from oncall.config.yamlsource import Document
from oncall.db.models import ConfigObjectRow, ReconcileRunRow
from oncall.heap import freeze_long_lived

CONFIG_RECHECK_SECONDS = 1.0
"""How often the applied config's version is checked: an apply is in force within a second."""


def read_applied(session: Session) -> ConfigSet:
    config = ConfigSet()
    rows = session.scalars(select(ConfigObjectRow).order_by(ConfigObjectRow.id))
    for row in rows:
        cls = KINDS.get(row.kind)
        if cls is None:  # a kind from a newer version of oncall: ignore, do not crash
            continue
        obj = cls.model_validate({"kind": row.kind, "name": row.name, **row.spec})
        document = Document(row.source_path, None, Position(row.source_line, 1))
        config.add(obj, Source(document))
    return config


def _version(session: Session) -> tuple[Any, ...]:
    objects = session.execute(
        select(func.count(ConfigObjectRow.id), func.max(ConfigObjectRow.applied_at))
    ).one()
    runs = session.scalar(select(func.max(ReconcileRunRow.id)))
    return (*objects, runs)


class AppliedConfig:
    """A per-process cache of the applied ConfigSet; one cheap query decides if it is stale."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[Any, ...] | None = None
        self._config = ConfigSet()

    def get(self, session: Session) -> ConfigSet:
        version = _version(session)
        with self._lock:
            if version != self._version:
                self._config = read_applied(session)
                self._version = version
            return self._config


class ConfigCache:
    """The process's applied config, its version checked at most every `recheck` seconds, so
    a hot path does not pay a query per request to learn that nothing changed."""

    def __init__(
        self,
        recheck: float = CONFIG_RECHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.recheck = recheck
        self._monotonic = monotonic
        self._applied = AppliedConfig()
        self._lock = threading.Lock()
        self._config: ConfigSet | None = None
        self._checked = 0.0

    def fresh(self) -> ConfigSet | None:
        """The cached ConfigSet while it needs no recheck, without touching the database."""
        with self._lock:
            if self._config is not None and self._monotonic() - self._checked < self.recheck:
                return self._config
        return None

    def get(self, session: Session) -> ConfigSet:
        """The applied ConfigSet, rechecked against the database when the interval is up."""
        found = self.fresh()
        if found is not None:
            return found
        config = self._applied.get(session)
        with self._lock:
            changed = self._config is not None and config is not self._config
            self._config = config
            self._checked = self._monotonic()
        if changed:
            freeze_long_lived()
        return config
