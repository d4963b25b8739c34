"""Delivery health in the app: per channel and provider, over the last hour or day, how many
provider calls were made, how many got the notice out, how long they took, the retries, and the
open circuits. Signed-in people only (every handler goes through the session guard of
`SessionState`); the figures are the ones `GET /api/v1/delivery-health` gives
(`oncall.observability.delivery`, computed by `oncall.core.delivery_health`)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.core.delivery_health import WINDOWS, Window, rate_text, seconds_text
from oncall.observability import delivery
from oncall.web import context
from oncall.web.state.session import SessionState

LABELS = {"1h": "Last hour", "24h": "Last 24 hours"}
"""The window picker's labels, by window name."""


def rows_of(found: Window) -> list[dict[str, str]]:
    """The table's rows as the page shows them."""
    return [
        {"channel": r.channel or "—", "provider": r.provider, "attempts": str(r.attempts),
         "sent": str(r.sent), "failed": str(r.failed), "success": rate_text(r.success_rate),
         "p50": seconds_text(r.p50_seconds), "p95": seconds_text(r.p95_seconds),
         "retries": str(r.retries), "circuit": r.circuit.replace("_", "-")}
        for r in found.rows
    ]


class DeliveryState(SessionState):
    windows: list[str] = [LABELS[name] for name in WINDOWS]  # noqa: RUF012
    window: str = LABELS["1h"]
    rows: list[dict[str, str]] = []  # noqa: RUF012
    figures: dict[str, str] = {}  # noqa: RUF012
    period_text: str = ""
    truncated: bool = False

    def _refresh(self) -> None:
        name = next((n for n, label in LABELS.items() if label == self.window), "1h")
        with context.read_session() as session:
            report = delivery.read(session, context.now())
        found = report.windows[name]
        self.rows = rows_of(found)
        self.figures = {
            "attempts": str(found.attempts),
            "success": rate_text(found.success_rate),
            "retries": str(found.retries),
            "open_circuits": ", ".join(found.open_circuits) or "none",
        }
        self.period_text = f"{found.since:%Y-%m-%d %H:%M} to {found.until:%Y-%m-%d %H:%M} UTC"
        self.truncated = report.truncated

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._refresh()
        return None

    @rx.event
    def set_window(self, value: str) -> None:
        self.window = value if value in LABELS.values() else LABELS["1h"]
        self._refresh()
