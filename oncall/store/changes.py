"""Change events: deploys, flag flips and migrations that integrations report.

The one writer of `change_events`. Plain Core on the caller's connection, in the caller's
transaction (a signed report claims its signature in the same one), one statement for both
databases. Postmortem timelines read the rows back (`oncall.postmortems.timeline`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert

from oncall.db.models import ChangeEventRow

_C = cast(Table, ChangeEventRow.__table__)


def record(conn: Connection, *, integration: str, service_id: int | None, summary: str,
           source: str | None, links: Sequence[Mapping[str, Any]],
           details: Mapping[str, Any] | None, occurred_at: datetime,
           received_at: datetime) -> int:
    """Store one change event against a service (None: the service is no longer applied);
    its id."""
    row_id = conn.execute(insert(_C).values(
        integration_name=integration, service_id=service_id, summary=summary, source=source,
        links=[dict(link) for link in links], details=dict(details) if details else None,
        occurred_at=occurred_at, received_at=received_at).returning(_C.c.id)).scalar_one()
    return int(row_id)
