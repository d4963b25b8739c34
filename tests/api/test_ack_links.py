"""One-click acknowledge links: a confirmation page, then one acknowledgement, then gone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from oncall.api.app import create_api
from oncall.db.engine import write_session
from oncall.db.models import IncidentRow, NotificationRow, SecretTokenRow, UserRow
from oncall.paging.notices import new_ack_link
from oncall.settings import Settings
from oncall.testing.incidents import open_incident


@pytest.fixture
def client(applied_engine: Engine) -> Iterator[TestClient]:
    app = create_api(Settings(database_url=str(applied_engine.url)), applied_engine, environ={})
    with TestClient(app) as c:
        yield c


def make_link(engine: Engine, email: str, *, expired: bool = False) -> tuple[int, str]:
    now = datetime.now(UTC)
    with write_session(engine) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == email))
        assert user is not None
        incident_id = open_incident(session, service="checkout-api", group_key="ack",
                                    title="Checkout <down>", priority="P1",
                                    integration="prometheus-prod", now=now)
        row = NotificationRow(idempotency_key="x", incident_id=incident_id, user_id=user.id,
                              channel="email", address=email, kind="page", status="sent",
                              attempt_count=1, next_attempt_at=now, created_at=now)
        session.add(row)
        session.flush()
        link = new_ack_link(session, row, "https://oncall.example", now)
        if expired:
            for token in session.scalars(select(SecretTokenRow)):
                token.expires_at = now - timedelta(seconds=1)
        return incident_id, link.removeprefix("https://oncall.example")


def incident_status(engine: Engine, incident_id: int) -> str:
    with Session(engine) as session:
        incident = session.get(IncidentRow, incident_id)
        assert incident is not None
        return incident.status


def test_get_shows_a_page_and_changes_nothing(client: TestClient, applied_engine: Engine) -> None:
    incident_id, path = make_link(applied_engine, "marcus.bell@northwind.example")
    page = client.get(path)
    assert page.status_code == 200
    assert "Checkout &lt;down&gt;" in page.text and "<form method='post'>" in page.text
    assert incident_status(applied_engine, incident_id) == "triggered"


def test_post_acknowledges_once(client: TestClient, applied_engine: Engine) -> None:
    incident_id, path = make_link(applied_engine, "marcus.bell@northwind.example")
    first = client.post(path)
    assert first.status_code == 200 and "Acknowledged" in first.text
    assert incident_status(applied_engine, incident_id) == "acknowledged"
    again = client.post(path)
    assert again.status_code == 410
    assert client.get(path).status_code == 410


def test_expired_and_unknown_links(client: TestClient, applied_engine: Engine) -> None:
    incident_id, path = make_link(applied_engine, "marcus.bell@northwind.example", expired=True)
    assert client.post(path).status_code == 410
    assert client.post("/ack/not-a-token").status_code == 410
    assert incident_status(applied_engine, incident_id) == "triggered"


def test_observer_link_is_refused(client: TestClient, applied_engine: Engine) -> None:
    incident_id, path = make_link(applied_engine, "eve.larsen@northwind.example")
    response = client.post(path)
    assert response.status_code == 403 and "observer" in response.text
    assert incident_status(applied_engine, incident_id) == "triggered"


def test_a_link_of_someone_removed_from_config_is_dead(
    client: TestClient, applied_engine: Engine
) -> None:
    """Issue 15 row 5: every token (here an acknowledge link) dies with its owner's access."""
    incident_id, path = make_link(applied_engine, "marcus.bell@northwind.example")
    with write_session(applied_engine) as session:
        user = session.scalar(
            select(UserRow).where(UserRow.email == "marcus.bell@northwind.example")
        )
        assert user is not None
        user.in_config = False  # as the reconciler leaves someone no Team lists
    assert client.get(path).status_code == 410
    assert client.post(path).status_code in (403, 410)
    assert incident_status(applied_engine, incident_id) == "triggered"


def test_someone_the_incident_paged_may_acknowledge_by_link(
    client: TestClient, applied_engine: Engine
) -> None:
    """Issue 15 row 4: a storefront responder acts on a payments incident only because it
    paged them (the link is sent with the page)."""
    incident_id, path = make_link(applied_engine, "samuel.osei@northwind.example")
    assert client.post(path).status_code == 200
    assert incident_status(applied_engine, incident_id) == "acknowledged"


def test_a_paged_observer_still_cannot_acknowledge(
    client: TestClient, applied_engine: Engine
) -> None:
    incident_id, path = make_link(applied_engine, "eve.larsen@northwind.example")
    refused = client.post(path)
    assert refused.status_code == 403 and "observer" in refused.text
    assert incident_status(applied_engine, incident_id) == "triggered"


def test_acknowledging_by_link_wakes_the_worker(
    client: TestClient, applied_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    woken: list[str] = []
    app: Any = client.app
    monkeypatch.setattr(app.state.ctx, "wake", lambda: woken.append("wake"))
    _, path = make_link(applied_engine, "marcus.bell@northwind.example")
    assert client.get(path).status_code == 200
    assert woken == []  # opening the link changes nothing
    assert client.post(path).status_code == 200
    assert woken == ["wake"]
    assert client.post(path).status_code == 410
    assert woken == ["wake"]  # a used link changes nothing
