"""Change events on the service page (the last day's, newest first) and on the incident page
(the service's changes in the day before the incident triggered), with their links (unsafe
ones left out)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from oncall.db.engine import write_connection
from oncall.db.models import ServiceRow
from oncall.store import changes
from oncall.web.state.incident import IncidentState
from oncall.web.state.services import ServicesState

from .conftest import NOW, OBSERVER, call


def _change(web: Engine, service: str, summary: str, at: datetime,
            links: list[dict[str, str]] | None = None) -> None:
    with write_connection(web) as conn:
        service_id = conn.execute(select(ServiceRow.id).where(ServiceRow.name == service)
                                  ).scalar_one()
        changes.record(conn, integration="pagerduty-prod", service_id=service_id,
                       summary=summary, source="github-actions", links=links or [],
                       details=None, occurred_at=at, received_at=at)


def _seed(web: Engine) -> None:
    _change(web, "storefront-web", "Deploy storefront v41", NOW - timedelta(days=2))  # too old
    _change(web, "storefront-web", "Deploy storefront v42", NOW - timedelta(hours=3),
            [{"href": "https://github.example/northwind/storefront/pull/42", "text": "PR #42"},
             {"href": "javascript:alert(1)", "text": "bad"}])
    _change(web, "storefront-web", "Flag new-checkout on", NOW - timedelta(minutes=20))
    _change(web, "payments-db", "Migration 0042", NOW - timedelta(hours=1))


def test_the_service_card_shows_the_last_days_changes_newest_first(
        web: Engine, state: Callable[..., Any]) -> None:
    _seed(web)
    s: ServicesState = state(ServicesState, OBSERVER, "/services")
    call(s, "load")
    call(s, "show_cards")
    by_name = {c["name"]: c["changes"] for c in s.cards}
    assert [c["summary"] for c in by_name["storefront-web"]] == [
        "Flag new-checkout on", "Deploy storefront v42"]
    assert [c["summary"] for c in by_name["payments-db"]] == ["Migration 0042"]
    assert by_name["checkout-api"] == []
    deploy = by_name["storefront-web"][1]
    assert deploy["links"] == [{"href": "https://github.example/northwind/storefront/pull/42",
                                "text": "PR #42"}]
    assert (deploy["source"], deploy["integration"]) == ("github-actions", "pagerduty-prod")


def test_the_incident_shows_its_services_changes_before_it_triggered(
        web: Engine, state: Callable[..., Any], incident: Callable[..., int]) -> None:
    _seed(web)
    _change(web, "storefront-web", "Rollback after the incident", NOW + timedelta(minutes=5))
    iid = incident()  # storefront-web, triggered at NOW
    s: IncidentState = state(IncidentState, OBSERVER, f"/incidents/{iid}",
                             {"incident_id": str(iid)})
    call(s, "load")
    assert [c["summary"] for c in s.changes] == ["Flag new-checkout on",
                                                 "Deploy storefront v42"]
    assert s.changes[0]["iso"] == (NOW - timedelta(minutes=20)).isoformat()
