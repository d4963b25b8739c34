"""A signed-in page drawn in the viewer's time zone: the load and zone handlers most pages share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import reflex as rx


class ZonedPage(rx.State, mixin=True):
    """Mixed into a page state (before `SessionState`): `load` sends a visitor without a
    session to sign in, else resets what a visit starts from (`_start`) and draws the page
    (`_refresh`), then asks the browser for its zone once per session; `apply_tz` redraws in
    that zone."""

    if TYPE_CHECKING:  # provided by SessionState and the page's state

        def _require(self) -> Any: ...

        def _ask_tz(self, callback: Any) -> Any: ...

        def _take_tz(self, tz: Any) -> None: ...

        def _refresh(self) -> None: ...

    def _start(self) -> None:
        """What each visit resets before the page is drawn (an offset, the route's object)."""

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._start()
        self._refresh()
        return self._ask_tz(type(self).apply_tz)

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()
