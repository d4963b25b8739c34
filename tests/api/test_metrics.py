"""`GET /metrics`: figures from the database, in Prometheus text format."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from oncall.api.app import create_api
from oncall.db.engine import write_session
from oncall.db.models import ReconcileRunRow, ServiceRow
from oncall.incidents import service
from oncall.incidents.actors import Actor
from oncall.settings import Settings


def test_metrics_reflect_incidents_and_reconcile_runs(applied_engine: Engine) -> None:
    now = datetime.now(UTC)
    with write_session(applied_engine) as session:
        svc = session.scalar(select(ServiceRow).where(ServiceRow.name == "checkout-api"))
        assert svc is not None
        service.open_or_join(
            session, service=svc, group_key="m", title="x", priority="P1", urgency="high",
            labels={}, escalation_policy="payments", actor=Actor.integration("i"), now=now,
        )
        session.add(ReconcileRunRow(started_at=now, finished_at=now, source="repo",
                                    revision="abc", actor="reconciler", result="invalid",
                                    errors=["rules/x.yaml:1:1: error: boom"]))
    app = create_api(Settings(database_url=str(applied_engine.url)), applied_engine, environ={})
    with TestClient(app) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert 'oncall_incidents{status="triggered"} 1' in lines
    assert 'oncall_incidents{status="resolved"} 0' in lines
    assert "oncall_escalation_timers_overdue 0" in lines
    assert 'oncall_reconcile_runs{result="invalid"} 1' in lines
    assert "oncall_reconcile_last_run_ok 0" in lines
    assert "# TYPE oncall_incidents gauge" in lines
