"""How times and names are shown: in the viewer's zone, compact enough for a phone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(instant: datetime | None, tz: str) -> str:
    if instant is None:
        return ""
    return instant.astimezone(zone(tz)).strftime("%a %d %b %H:%M")


def age(instant: datetime, now: datetime) -> str:
    seconds = max(0, int((now - instant).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"
