"""Reports over the example organisation, on SQLite and PostgreSQL: figures computed by hand."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.reports import Period
from oncall.db.applied import read_applied
from oncall.db.engine import write_session
from oncall.db.models import IncidentRow, NotificationRow, ScheduleOverrideRow, UserRow
from oncall.reports.service import TABLES, Filter, Report, UnknownFilter, build, csv_of
from oncall.testing.incidents import open_incident

PERIOD = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 8, tzinfo=UTC))
SOFIA = "sofia.alvarez@northwind.example"
MARCUS = "marcus.bell@northwind.example"
GRACE = "grace.mwangi@northwind.example"
EVE = "eve.larsen@northwind.example"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _incident(session: Session, service: str, title: str, priority: str | None,
              triggered: str, ack: float | None = None, resolve: float | None = None) -> int:
    """An incident triggered at `triggered`, acknowledged and resolved `ack`/`resolve`
    minutes later."""
    start = at(triggered)
    incident_id = open_incident(session, service=service, title=title, now=start, page=False)
    row = session.get(IncidentRow, incident_id)
    assert row is not None
    row.priority = priority
    row.triggered_at = start
    if ack is not None:
        row.acknowledged_at, row.status = start + timedelta(minutes=ack), "acknowledged"
    if resolve is not None:
        row.resolved_at, row.status = start + timedelta(minutes=resolve), "resolved"
    session.flush()
    return incident_id


def _user(session: Session, email: str) -> UserRow:
    user = session.scalar(select(UserRow).where(UserRow.email == email))
    assert user is not None
    return user


def _page(session: Session, incident_id: int, email: str, channel: str, sent: str | None,
          kind: str = "page") -> None:
    user = _user(session, email)
    n = len(session.scalars(select(NotificationRow.id)).all())
    session.add(NotificationRow(
        idempotency_key=f"test-{n}", incident_id=incident_id, user_id=user.id, channel=channel,
        address=email, kind=kind, status="sent" if sent else "pending",
        next_attempt_at=at("2026-11-01T00:00"), created_at=at("2026-11-01T00:00"),
        sent_at=at(sent) if sent else None))


@pytest.fixture
def seeded(applied_engine: Engine) -> Engine:
    with write_session(applied_engine) as s:
        _user(s, SOFIA).time_zone = "America/New_York"
        a = _incident(s, "checkout-api", "A", "P1", "2026-11-02T10:00", ack=2, resolve=30)
        _incident(s, "payment-gateway", "B", "P2", "2026-11-03T10:00", ack=6, resolve=90)
        _incident(s, "payments-db", "C", None, "2026-11-04T10:00", resolve=10)
        _incident(s, "checkout-api", "D", "P1", "2026-11-05T10:00")
        _incident(s, "checkout-api", "before", "P1", "2026-10-20T10:00", ack=1, resolve=2)
        f = _incident(s, "storefront-web", "F", "P3", "2026-11-02T10:00", ack=1, resolve=5)
        _page(s, a, SOFIA, "sms", "2026-11-02T10:01")  # 05:01 in New York: night
        _page(s, a, SOFIA, "push", "2026-11-02T15:00")  # 10:00 in New York
        _page(s, a, SOFIA, "email", "2026-11-01T02:00")  # 22:00 EDT, before the change: night
        _page(s, a, SOFIA, "email", "2026-11-02T02:00")  # 21:00 EST, after it: day
        _page(s, a, SOFIA, "email", "2026-11-03T02:00")  # 21:00 EST: day
        _page(s, a, SOFIA, "sms", "2026-11-03T12:59:59.900000")  # 07:59:59.9 EST: night
        _page(s, a, MARCUS, "voice", "2026-11-02T03:00")  # no zone: 03:00 UTC, night
        _page(s, a, MARCUS, "voice", None)  # never sent: not a page
        _page(s, a, MARCUS, "slack", "2026-11-02T10:05", kind="update")  # not a page
        _page(s, a, SOFIA, "sms", "2026-10-31T23:59")  # before the period
        _page(s, f, GRACE, "sms", "2026-11-02T10:01")  # storefront's
        eve, sofia = _user(s, EVE), _user(s, SOFIA)
        s.add(ScheduleOverrideRow(schedule_name="payments-primary", user_id=eve.id,
                                  starts_at=at("2026-11-03T00:00"),
                                  ends_at=at("2026-11-03T12:00"), created_at=at("2026-11-01T00:00"),
                                  reason="tests"))
        s.add(ScheduleOverrideRow(schedule_name="payments-primary", user_id=eve.id,
                                  replaces_user_id=sofia.id, starts_at=at("2026-11-04T00:00"),
                                  ends_at=at("2026-11-05T00:00"), created_at=at("2026-11-01T00:00"),
                                  cancelled_at=at("2026-11-02T00:00")))
    return applied_engine


def report(engine: Engine, team: str | None = None, service: str | None = None) -> Report:
    with Session(engine) as session:
        return build(session, read_applied(session), Filter(team, service), PERIOD)


def test_team_figures_by_hand(seeded: Engine) -> None:
    r = report(seeded, team="payments")
    assert r.services == ("checkout-api", "payment-gateway", "payments-db")
    assert dict(r.priorities) == {"P1": 2, "P2": 1, "P3": 0, "P4": 0, "P5": 0, "none": 1}
    # MTTA over A (2 min) and B (6 min): median 240 s, p90 120 + 0.9 * 240.
    assert (r.mtta.median, r.mtta.p90, r.mtta.count) == (240.0, pytest.approx(336.0), 2)
    # MTTR over C (10), A (30), B (90 min): median 1800 s, p90 1800 + 0.8 * 3600.
    assert (r.mttr.median, r.mttr.p90, r.mttr.count) == (1800.0, pytest.approx(4680.0), 3)
    assert [(p.person, p.pages, p.night_pages, dict(p.by_channel)) for p in r.pages] == [
        (SOFIA, 6, 3, {"email": 3, "push": 1, "sms": 2}),
        (MARCUS, 1, 1, {"voice": 1}),
    ]


def test_hours_on_call_include_the_apps_overrides(seeded: Engine) -> None:
    r = report(seeded, team="payments")
    assert r.schedules == ("payments-primary", "payments-secondary")
    hours = {p.person: p for p in r.oncall.people}
    # Eve holds no layer: only her live override (12 h), not the cancelled one (24 h).
    assert (hours[EVE].hours, hours[EVE].shifts) == (12.0, 1)
    assert r.oncall.gap_hours == {"payments-primary": 0.0, "payments-secondary": 0.0}
    assert set(hours) >= {MARCUS, SOFIA, "daniel.whitaker@northwind.example"}
    assert all(0 < p.hours <= PERIOD.hours for p in r.oncall.people)


def test_service_and_organisation(seeded: Engine) -> None:
    one = report(seeded, service="payment-gateway")
    assert one.incidents == 1 and one.mtta.median == 360.0 and one.pages == []
    assert one.schedules == ("payments-primary", "payments-secondary")  # its policy's
    everything = report(seeded)
    assert everything.priorities["P3"] == 1 and everything.incidents == 5
    assert {p.person for p in everything.pages} == {SOFIA, MARCUS, GRACE}
    assert "storefront-primary" in everything.schedules
    storefront = report(seeded, team="storefront")
    assert [(p.person, p.pages) for p in storefront.pages] == [(GRACE, 1)]
    assert storefront.schedules == ("storefront-primary", "storefront-secondary")


@pytest.mark.parametrize(
    ("team", "service", "param"),
    [("nobody", None, "team"), (None, "nothing", "service"), ("storefront", "checkout-api",
                                                              "service")],
)
def test_unknown_team_or_service(applied_engine: Engine, team: str | None,
                                 service: str | None, param: str) -> None:
    with pytest.raises(UnknownFilter) as caught:
        report(applied_engine, team, service)
    assert caught.value.param == param


def test_every_table_as_csv(seeded: Engine, example_config: ConfigSet) -> None:
    r = report(seeded, team="payments")
    assert csv_of(r, "priorities") == (
        "priority,incidents\r\nP1,2\r\nP2,1\r\nP3,0\r\nP4,0\r\nP5,0\r\nnone,1\r\n")
    for name in TABLES:
        rows = list(csv.DictReader(io.StringIO(csv_of(r, name))))
        assert rows, name
    summary = next(csv.DictReader(io.StringIO(csv_of(r, "summary"))))
    assert (summary["team"], summary["service"], summary["incidents"],
            summary["mtta_median_s"], summary["mttr_over"]) == ("payments", "", "4", "240.0", "3")
    people = list(csv.DictReader(io.StringIO(csv_of(r, "people"))))
    assert people[0]["person"] == SOFIA and people[0]["pages_sms"] == "2"
    assert people[0]["time_zone"] == "America/New_York"
