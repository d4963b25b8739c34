"""The config as applied, read back from the database for ingest, escalation and the web app.

Processes other than the reconciler never read the config repo: what the database holds is
what is in force. Reading it is cached per process and refreshed when an apply changed it.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet, Source
from oncall.config.diagnostics import Position
from oncall.config.models import KINDS
from oncall.config.yamlsource import Document
from oncall.db.models import ConfigObjectRow, ReconcileRunRow


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
