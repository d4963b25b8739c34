"""Live updates: a background loop per open page polls one cheap query and refreshes on change.

Polling the database (about once a second) instead of pushing from the writer keeps ingest and
the web app decoupled and works with any number of backend workers: each loop runs in the worker
holding its websocket, and with Reflex's Redis state manager the state it updates is shared.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import reflex as rx

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


class LiveMixin(rx.State, mixin=True):
    """A page kept live: `load` calls `_start_live` and returns `watch`; `_refresh` must note
    the change it saw in `_seen_change`. A newer load or `stop_live` ends the running loop."""

    live: bool = False
    _seen_change: str = ""
    _live_id: int = 0

    if TYPE_CHECKING:  # provided by each page's state

        def _refresh(self) -> None: ...

    def _start_live(self) -> None:
        self._live_id += 1

    def _poll_step(self, change: str) -> bool:
        """Refresh when the database changed since the last look; True if it did."""
        if change == self._seen_change:
            return False
        self._refresh()
        return True

    @rx.event
    def stop_live(self) -> None:
        self._live_id += 1
        self.live = False

    @rx.event(background=True)
    async def watch(self) -> None:
        async with self:
            my_id = self._live_id
            self.live = True
            token = self.router.session.client_token
        started = time.monotonic()
        while not expired(started) and client_connected(token):
            await asyncio.sleep(POLL_SECONDS)
            change = await poll_change()
            async with self:
                if self._live_id != my_id:
                    return
                self._poll_step(change)
        async with self:
            if self._live_id == my_id:
                self.live = False
