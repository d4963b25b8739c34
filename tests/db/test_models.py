from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.db.models import IncidentRow, ServiceRow, TeamMembershipRow

NOW = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def _service(session: Session) -> ServiceRow:
    service = ServiceRow(
        name="checkout-api",
        routing_key="k" * 32,
        team_name="payments",
        urgency="high",
        created_at=NOW,
    )
    session.add(service)
    session.flush()
    return service


def _incident(service: ServiceRow, group_key: str, status: str = "triggered") -> IncidentRow:
    return IncidentRow(
        title="CPU high",
        status=status,
        service_id=service.id,
        group_key=group_key,
        labels={},
        triggered_at=NOW,
        updated_at=NOW,
    )


def test_one_open_incident_per_group(migrated_engine: Engine) -> None:
    with Session(migrated_engine) as session, session.begin():
        service = _service(session)
        session.add(_incident(service, "g1"))
        session.add(_incident(service, "g2"))
        service_id = service.id
    with Session(migrated_engine) as session, pytest.raises(IntegrityError), session.begin():
        session.add(_incident(session.get_one(ServiceRow, service_id), "g1"))


def test_a_resolved_incident_does_not_block_a_new_one(migrated_engine: Engine) -> None:
    with Session(migrated_engine) as session, session.begin():
        service = _service(session)
        session.add(_incident(service, "g1", status="resolved"))
        session.add(_incident(service, "g1", status="resolved"))
        session.add(_incident(service, "g1"))
    with Session(migrated_engine) as session:
        assert session.scalar(select(IncidentRow.id).where(IncidentRow.status == "triggered"))


def test_times_come_back_aware_in_utc(migrated_engine: Engine) -> None:
    local = NOW.astimezone(timezone(timedelta(hours=-5)))
    with Session(migrated_engine) as session, session.begin():
        service = _service(session)
        service.created_at = local
    with Session(migrated_engine) as session:
        stored = session.scalars(select(ServiceRow)).one().created_at
    assert stored == NOW and stored.tzinfo is UTC


def test_naive_times_are_rejected(migrated_engine: Engine) -> None:
    with Session(migrated_engine) as session, pytest.raises(Exception, match="naive"):
        session.add(_service_at(datetime(2026, 1, 1)))
        session.flush()


def _service_at(when: datetime) -> ServiceRow:
    return ServiceRow(name="x", routing_key="r", team_name="t", urgency="high", created_at=when)


def test_foreign_keys_are_enforced(migrated_engine: Engine) -> None:
    with Session(migrated_engine) as session, pytest.raises(IntegrityError), session.begin():
        session.add(TeamMembershipRow(team_name="payments", user_id=12345, role="admin"))
