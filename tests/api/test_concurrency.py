"""A storm of concurrent alerts through a real server on PostgreSQL: dedup holds in the database."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.db.models import AlertDeliveryRow, AlertRow, IncidentRow

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres_url: str) -> str:  # PostgreSQL only: SQLite serialises writers
    from oncall.db.engine import make_engine

    engine = make_engine(postgres_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return postgres_url


def storm(url: str, bodies: list[dict[str, Any]]) -> list[int]:
    def send(body: dict[str, Any]) -> int:
        with httpx.Client(timeout=60) as client:
            return client.post(
                f"{url}/api/v1/integrations/synthetic-checks/alerts", json=body,
                headers={"Authorization": "Bearer synth-s3cret"},
            ).status_code

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def counts(server: Any) -> tuple[int, int, int]:
    with Session(server.engine) as session:
        return (
            session.scalar(select(func.count()).select_from(AlertDeliveryRow)) or 0,
            session.scalar(select(func.count()).select_from(AlertRow)) or 0,
            session.scalar(select(func.count()).select_from(IncidentRow)) or 0,
        )


def test_200_identical_alerts_make_one_incident(live_server: Any) -> None:
    body = {"summary": "Checkout down", "severity": "critical", "dedup_key": "storm",
            "labels": {"env": "prod", "alertname": "CheckoutDown"}}
    assert storm(live_server.url, [body] * 200) == [202] * 200
    assert counts(live_server) == (200, 1, 1)
    with Session(live_server.engine) as session:
        outcomes = {outcome: count for outcome, count in session.execute(
            select(AlertDeliveryRow.outcome, func.count()).group_by(AlertDeliveryRow.outcome))}
    assert outcomes == {"new": 1, "deduplicated": 199}  # however they raced, none is stale


def test_20_group_keys_make_20_incidents(live_server: Any) -> None:
    # checkout-critical groups by alertname and cluster: 200 distinct alerts, 20 clusters.
    bodies = [
        {"summary": f"Checkout latency {n}", "severity": "critical", "dedup_key": f"a{n}",
         "labels": {"env": "prod", "alertname": "CheckoutLatencyHigh", "cluster": f"c{n % 20}"}}
        for n in range(200)
    ]
    assert storm(live_server.url, bodies) == [202] * 200
    assert counts(live_server) == (200, 200, 20)
    with Session(live_server.engine) as session:
        per_incident = session.scalars(select(IncidentRow.alert_count)).all()
    assert sorted(per_incident) == [10] * 20
