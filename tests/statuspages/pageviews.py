"""A page as the renderers receive it: every section filled, and text that tries to be markup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from oncall.core import status as core
from oncall.core.status import ComponentStatus, Indicator, Interval, Maintenance
from oncall.statuspages.view import (
    ComponentView,
    MaintenanceView,
    NoticeView,
    PageView,
    UpdateView,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"
BASE_URL = "https://status.northwind.example"

_INTERVALS = [
    Interval("checkout-api", "P1", NOW - timedelta(days=3, hours=2), NOW - timedelta(days=3)),
    Interval("checkout-api", "P2", NOW - timedelta(minutes=30), None),
    Interval("search-api", "P3", NOW - timedelta(days=40), NOW - timedelta(days=39, hours=20)),
]


def _component(name: str, position: int, services: list[str], status: ComponentStatus,
               updated_at: datetime | None, description: str | None = None) -> ComponentView:
    bars = tuple(core.uptime_bars(services, _INTERVALS, NOW))
    return ComponentView(name, position, status, frozenset(services), description, updated_at,
                         bars, core.uptime_percent(bars))


def sample_view() -> PageView:
    opened = NOW - timedelta(minutes=30)
    current = NoticeView(
        id=7, title=f"Checkout errors {HOSTILE}", status="identified", impact="major",
        components=("Checkout & payments",), created_at=opened,
        updated_at=opened + timedelta(minutes=20), resolved_at=None,
        updates=(
            UpdateView(12, "identified", "Bad deploy.\nRolling back <b>now</b>.",
                       opened + timedelta(minutes=20)),
            UpdateView(11, "investigating", "We are looking into failed payments.", opened),
        ))
    earlier = NOW - timedelta(days=3, hours=2)
    past = NoticeView(
        id=5, title="Search slow", status="resolved", impact="minor", components=("Search",),
        created_at=earlier, updated_at=earlier + timedelta(hours=2),
        resolved_at=earlier + timedelta(hours=2),
        updates=(
            UpdateView(9, "resolved", "Fixed.", earlier + timedelta(hours=2)),
            UpdateView(8, "monitoring", "Index rebuilt; watching.", earlier + timedelta(hours=1)),
            UpdateView(6, "investigating", "Searches time out.", earlier),
        ))
    upcoming = Maintenance("payments-db-upgrade", frozenset({"payments-db"}),
                           NOW + timedelta(days=2), NOW + timedelta(days=2, hours=2),
                           "PostgreSQL upgrade & failover")
    running = Maintenance("search-reindex", frozenset({"search-api"}),
                          NOW - timedelta(hours=1), NOW + timedelta(hours=1), None)
    components = (
        _component("Website", 1, ["storefront-web"], ComponentStatus.OPERATIONAL, None,
                   "Browsing & <em>product</em> pages"),
        _component("Search", 2, ["search-api"], ComponentStatus.UNDER_MAINTENANCE,
                   NOW - timedelta(hours=1)),
        _component("Checkout & payments", 3, ["checkout-api", "payments-db"],
                   ComponentStatus.PARTIAL_OUTAGE, opened),
        _component(HOSTILE, 4, ["auth-api"], ComponentStatus.OPERATIONAL, None),
    )
    return PageView(
        name="northwind-status", title="Northwind <status>", description="What customers see",
        visibility="public", now=NOW, updated_at=opened + timedelta(minutes=20),
        indicator=Indicator.MAJOR, status_description="Partial System Outage",
        components=components, open_notices=(current,), past_notices=(past,),
        maintenances=(MaintenanceView(running, "in_progress", ("Search",)),
                      MaintenanceView(upcoming, "scheduled", ("Checkout & payments",))),
        stale_at=NOW + timedelta(minutes=1),
    )
