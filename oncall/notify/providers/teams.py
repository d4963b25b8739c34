"""Microsoft Teams through an incoming webhook: POST one Adaptive Card per notice.

Incoming webhooks only post: a card cannot be edited afterwards, so state changes are new
cards (see `render_teams`). Classic webhooks answer 200 with `1`; Workflows webhooks 202.
"""

from __future__ import annotations

import json

from oncall.notify.message import Notice, render_teams
from oncall.notify.providers import connections
from oncall.notify.providers.base import (
    DeliveryResult,
    http_failure,
    network_failure,
    unexpected_failure,
)
from oncall.notify.settings import ProviderSettings


class TeamsProvider:
    name = "teams"

    def __init__(self, settings: ProviderSettings) -> None:
        self.timeout = settings.timeout("teams")
        self._pools = connections.Pools()

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        """`address`: the channel's incoming-webhook URL (a secret: it is the credential)."""
        if not address.startswith(("https://", "http://")):
            return DeliveryResult.failed(self.name, "bad webhook URL: not http(s)", retryable=False)
        body = json.dumps(render_teams(notice)).encode()
        try:
            response = connections.post(
                self._pools.for_url(address), address, body,
                {"Content-Type": "application/json", "User-Agent": "oncall"}, self.timeout)
        except OSError as exc:
            return network_failure(self.name, exc)
        except ValueError as exc:
            return DeliveryResult.failed(self.name, f"bad webhook URL: {exc}", retryable=False)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a result
            return unexpected_failure(self.name, exc)
        text = response.data[:2000].decode(errors="replace")
        if response.status >= 300:
            return http_failure(self.name, response.status, text)
        # classic connectors report throttling in a 200 body instead of a status
        if "429" in text and "throttl" in text.lower():
            return DeliveryResult.failed(
                self.name, f"throttled: {text}", retryable=True, status_code=429
            )
        return DeliveryResult.sent(self.name, response.headers.get("request-id") or None)
