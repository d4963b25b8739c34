"""Live updates: a background loop per open page polls one cheap query and refreshes on change.

Polling the database (about once a second) instead of pushing from the writer keeps ingest and
the web app decoupled and works with any number of backend workers: each loop runs in the worker
holding its websocket, and with Reflex's Redis state manager the state it updates is shared.

The loop starts behind the session guard of `SessionState` like every handler, and re-reads the
session while it runs: it stops, clears the page and sends the browser to sign in once the
session has ended.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import reflex as rx

from oncall.web import context, queries

POLL_SECONDS = 1.0
MAX_SECONDS = 12 * 3600.0
"""A loop outlives no working day; reloading the page starts a new one."""
SESSION_RECHECK_SECONDS = 15.0
"""How often a running loop re-reads its session (and always before it refreshes on a change):
a signed-out, revoked or expired session ends the loop and clears the page."""


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

        def _session_alive(self) -> bool: ...

        def _forget(self) -> None: ...

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
    async def watch(self) -> Any:
        async with self:
            my_id = self._live_id
            self.live = True
            token = self.router.session.client_token
        started = checked = time.monotonic()
        last_change: str | None = None
        while not expired(started) and client_connected(token):
            await asyncio.sleep(POLL_SECONDS)
            change = await poll_change()
            if change != last_change or time.monotonic() - checked >= SESSION_RECHECK_SECONDS:
                if not await asyncio.to_thread(self._session_alive):
                    async with self:
                        if self._live_id == my_id:
                            self._forget()
                    path = self.router.url.path or "/"
                    return rx.redirect(f"/login?next={path}")
                checked, last_change = time.monotonic(), change
            async with self:
                if self._live_id != my_id:
                    return None
                self._poll_step(change)
        async with self:
            if self._live_id == my_id:
                self.live = False
        return None
