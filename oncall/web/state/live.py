"""Live updates: a background loop per open page polls one cheap query and refreshes on change.

Polling the database (about once a second) instead of pushing from the writer keeps ingest and
the web app decoupled and works with any number of backend workers: each loop runs in the worker
holding its websocket, and with Reflex's Redis state manager the state it updates is shared.
"""

from __future__ import annotations

import asyncio
import time

from oncall.web import context, queries

POLL_SECONDS = 1.0
MAX_SECONDS = 12 * 3600.0
"""A loop outlives no working day; reloading the page starts a new one."""


def current_change() -> str:
    with context.read_session() as session:
        return queries.last_change(session)


async def poll_change() -> str:
    return await asyncio.to_thread(current_change)


def client_connected(token: str) -> bool:
    """Whether the browser tab of `token` still has a websocket to this worker."""
    try:
        from reflex.utils import prerequisites

        app = prerequisites.get_app().app
        namespace = app.event_namespace
    except Exception:  # noqa: BLE001 - no app (tests): assume connected
        return True
    if namespace is None:
        return True
    return token in namespace.token_to_sid


def expired(started: float) -> bool:
    return time.monotonic() - started > MAX_SECONDS
