"""Shared by the importer tests: the recorded PagerDuty account, a TLS peer serving it, and the
CLI run in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oncall.testing.peers.pagerduty_api import PagerDutyApiPeer, load_account

PAGERDUTY = Path(__file__).parent / "fixtures" / "pagerduty"


@pytest.fixture(scope="session")
def pd_account() -> dict[str, Any]:
    return load_account(PAGERDUTY)


@pytest.fixture
def pd_peer(pd_account: dict[str, Any]) -> Iterator[PagerDutyApiPeer]:
    with PagerDutyApiPeer(pd_account, token="pd-test-token") as peer:
        yield peer
