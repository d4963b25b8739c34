"""Shared fixtures for the notification tests: sample notices, golden files, peers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from oncall.notify.message import Link, Notice, NoticeKind, Status
from oncall.notify.settings import ProviderSettings
from oncall.testing import golden as golden_files

GOLDEN = Path(__file__).parent / "golden"
PUBLIC_URL = "https://oncall.example.com"

PAGE = Notice(
    kind=NoticeKind.PAGE,
    incident_id="01J9ZK3V7QW8",
    number=123,
    title="Checkout API 5xx rate above 5% – EU",
    url=f"{PUBLIC_URL}/incidents/123",
    summary="Error rate 7.2% over 5m on checkout-api <prod> & eu-west-1",
    service="checkout-api",
    priority="P1",
    urgency="high",
    status=Status.TRIGGERED,
    assignee="alice",
    labels=(("env", "prod"), ("region", "eu-west-1")),
    ack_url=f"{PUBLIC_URL}/ack/t0k3n?sig=abc&exp=1700000000",
    runbooks=(Link("Checkout 5xx", "https://runbooks.example.com/checkout-5xx"),),
)
ACKED = replace(PAGE, kind=NoticeKind.UPDATE, status=Status.ACKNOWLEDGED, actor="alice")
RESOLVED = replace(PAGE, kind=NoticeKind.UPDATE, status=Status.RESOLVED, actor="bob")


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare with tests/notify/golden/NAME; `UPDATE_GOLDEN=1` rewrites the file."""

    def check(name: str, actual: str) -> None:
        golden_files.check(GOLDEN / name, actual)

    return check


def provider_settings(*envs: dict[str, str], **extra: str) -> ProviderSettings:
    env = {"ONCALL_PUBLIC_URL": PUBLIC_URL, "ONCALL_PROVIDER_TIMEOUT": "5"}
    for part in envs:
        env.update(part)
    env.update(extra)
    return ProviderSettings.from_env(env)


@pytest.fixture
def short_timeout() -> Iterator[str]:
    """Seconds for tests of a hanging provider: short, so the suite stays quick."""
    yield "0.5"
