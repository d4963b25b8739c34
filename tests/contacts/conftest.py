"""People of the example organisation, as actors, over an applied database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.incidents.actors import Actor
from oncall.incidents.people import actor_for_email

NOW = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
ALICE = "marcus.bell@northwind.example"  # a responder
BOB = "eve.larsen@northwind.example"  # an observer
ADMIN = "priya.raman@northwind.example"  # an admin of payments and a platform admin
TEAM_ADMIN = "lena.fischer@northwind.example"  # an admin of storefront only


@pytest.fixture
def people(applied_engine: Engine) -> dict[str, Actor]:
    with Session(applied_engine) as session:
        found = {name: actor_for_email(session, email, via="web")
                 for name, email in (("alice", ALICE), ("bob", BOB), ("admin", ADMIN),
                                    ("team_admin", TEAM_ADMIN))}
    assert all(found.values())
    return {k: v for k, v in found.items() if v is not None}
