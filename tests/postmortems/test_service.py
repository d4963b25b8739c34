"""Postmortems on SQLite and PostgreSQL: opening, the merged timeline, key figures, editing
with conflicts, action items, permissions, the audit log."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.config.loader import load
from oncall.db.models import AuditEventRow, IncidentRow, UserRow
from oncall.incidents import service as incidents
from oncall.incidents.actors import Actor, Forbidden
from oncall.postmortems import service
from oncall.postmortems.queries import NotFound
from oncall.reconcile.apply import Origin, apply_config
from oncall.store import outbox
from oncall.testing.incidents import open_incident

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)
PRIYA = Actor("user", "priya.raman@northwind.example", {"payments": "admin"}, via="web")
MARCUS = Actor("user", "marcus.bell@northwind.example", {"payments": "responder"}, via="web")
EVE = Actor("user", "eve.larsen@northwind.example", {"payments": "observer"}, via="web")
OTHER = Actor("user", "someone@northwind.example", {"storefront": "responder"}, via="web")


def _user_id(session: Session, email: str) -> int:
    found = session.scalar(select(UserRow.id).where(UserRow.email == email))
    assert found is not None
    return found


def _incident(session: Session, title: str, at: datetime, priority: str = "P2") -> int:
    return open_incident(session, service="checkout-api", title=title, now=at,
                         priority=priority, page=False)  # type: ignore[arg-type]


def _page(session: Session, incident_id: int, email: str, channel: str,
          sent_at: datetime) -> None:
    """A page that went out at `sent_at`, as the outbox records it."""
    outbox.enqueue(session.connection(), [outbox.owed(
        incident_id, sent_at, idempotency_key=f"test-{incident_id}-{email}-{channel}-{sent_at}",
        user_id=_user_id(session, email), channel=channel, address=email, kind="page",
        next_attempt_at=sent_at, status="sent", sent_at=sent_at)])


def _changed_config(tmp_path: Path) -> ConfigSet:
    """The example organisation with one service's description changed."""
    for part in ("rules", "schedules", "workflows"):
        shutil.copytree(REPO / part, tmp_path / part)
    path = tmp_path / "rules" / "payments.yaml"
    text = path.read_text()
    old = "description: Public checkout API behind the storefront's basket and payment pages"
    assert old in text
    path.write_text(text.replace(old, "description: Checkout API, now on v2"))
    result = load(tmp_path)
    assert result.ok, [d.as_text() for d in result.errors]
    return result.config


def test_a_postmortem_over_two_incidents_merges_their_events_and_a_config_apply_between(
        applied_engine: Engine, example_config: ConfigSet, tmp_path: Path) -> None:
    with Session(applied_engine) as session, session.begin():
        first = _incident(session, "Checkout errors", T0)
        incidents.acknowledge(session, first, MARCUS, T0 + timedelta(minutes=4))
        incidents.resolve(session, first, MARCUS, T0 + timedelta(minutes=20))
    apply_config(applied_engine, _changed_config(tmp_path),
                 Origin(actor="user:dana@northwind.example", source="git", revision="abc1234def",
                        now=T0 + timedelta(minutes=30)))
    with Session(applied_engine) as session, session.begin():
        second = _incident(session, "Checkout errors again", T0 + timedelta(minutes=45), "P1")
        incidents.add_note(session, second, MARCUS, "rolled back the v2 deploy",
                           T0 + timedelta(minutes=50))
        incidents.resolve(session, second, MARCUS, T0 + timedelta(minutes=55))
        session.flush()
        opened = service.open_postmortem(session.connection(), example_config, PRIYA,
                                         [second, first], T0 + timedelta(hours=2))
        view = service.view(session.connection(), example_config, PRIYA, opened.id,
                            T0 + timedelta(hours=2))
    assert opened.created
    pm = view.postmortem
    assert pm.incident_ids == (first, second)
    assert pm.title == "Checkout errors" and pm.severity == "P1" and pm.status == "draft"
    assert pm.owner == PRIYA.name and pm.template == "payments"
    assert pm.body.startswith("## Summary\n")
    texts = [(e.incident_id, e.text) for e in view.timeline]
    assert texts == [
        (first, "Incident opened: Checkout errors"),
        (first, "Alert joined: Checkout errors"),
        (first, "Acknowledged by marcus.bell@northwind.example"),
        (first, "Resolved by marcus.bell@northwind.example"),
        (None, "Config applied by dana@northwind.example at revision abc1234def: "
               "Service checkout-api updated"),
        (second, "Incident opened: Checkout errors again"),
        (second, "Alert joined: Checkout errors again"),
        (second, "Note by marcus.bell@northwind.example: rolled back the v2 deploy"),
        (second, "Resolved by marcus.bell@northwind.example"),
    ]
    assert [e.at for e in view.timeline] == sorted(e.at for e in view.timeline)
    kept = {e.text: e.kept for e in view.timeline}
    assert kept["Alert joined: Checkout errors"] is False  # noise until the author keeps it
    assert kept["Resolved by marcus.bell@northwind.example"] is True


def test_key_figures_count_night_pages_in_each_recipients_time_zone_across_dst(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    """New York leaves daylight saving at 06:00 UTC on 2026-11-01: 12:30 UTC is then 07:30
    local (night), though it would be 08:30 on the summer offset."""
    start = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    with Session(applied_engine) as session, session.begin():
        session.execute(update(UserRow).where(UserRow.email == MARCUS.name)
                        .values(time_zone="America/New_York"))
        session.execute(update(UserRow).where(UserRow.email == PRIYA.name)
                        .values(time_zone="Europe/London"))
        incident = _incident(session, "Ledger lag", start, "P2")
        _page(session, incident, MARCUS.name, "sms", start + timedelta(minutes=30))  # 22:30 EDT
        _page(session, incident, MARCUS.name, "voice", start + timedelta(hours=10, minutes=30))
        _page(session, incident, MARCUS.name, "email", start + timedelta(hours=13))  # 09:00 EST
        _page(session, incident, PRIYA.name, "sms", start + timedelta(hours=10, minutes=30))
        incidents.acknowledge(session, incident, PRIYA, start + timedelta(hours=10, minutes=37))
        incidents.resolve(session, incident, PRIYA, start + timedelta(hours=11, minutes=2))
        session.flush()
        opened = service.open_postmortem(session.connection(), example_config, PRIYA,
                                         [incident], start + timedelta(days=1))
        figures = service.view(session.connection(), example_config, PRIYA, opened.id,
                               start + timedelta(days=1)).figures
    assert figures.started_at == start
    assert figures.time_to_acknowledge == timedelta(hours=10, minutes=37)
    assert figures.time_to_resolve == timedelta(hours=11, minutes=2)
    assert figures.people_paged == (MARCUS.name, PRIYA.name)
    assert figures.pages == 4
    assert figures.pages_by_channel == {"email": 1, "sms": 2, "voice": 1}
    # Marcus: 22:30 EDT and 07:30 EST at night, 09:00 EST not; Priya: 12:30 GMT not.
    assert figures.night_pages_by_person == {MARCUS.name: 2}
    assert figures.night_pages == 2


def test_opening_from_one_incident_twice_answers_the_same_postmortem(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with Session(applied_engine) as session, session.begin():
        incident = _incident(session, "Card declines", T0)
        conn = session.connection()
        first = service.open_postmortem(conn, example_config, MARCUS, [incident], T0)
        again = service.open_postmortem(conn, example_config, Actor.system(), [incident], T0)
    assert first.created and not again.created and again.id == first.id


def test_only_the_owning_teams_responders_open_and_edit_and_drafts_stay_within_them(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with Session(applied_engine) as session, session.begin():
        incident = _incident(session, "Card declines", T0)
        conn = session.connection()
        with pytest.raises(Forbidden):
            service.open_postmortem(conn, example_config, EVE, [incident], T0)
        with pytest.raises(Forbidden):
            service.open_postmortem(conn, example_config, OTHER, [incident], T0)
        pm = service.open_postmortem(conn, example_config, MARCUS, [incident], T0).id
        assert service.view(conn, example_config, EVE, pm, T0).can_edit is False
        with pytest.raises(NotFound):
            service.view(conn, example_config, OTHER, pm, T0)
        with pytest.raises(Forbidden):
            service.save(conn, EVE, pm, 1, T0, body="# mine now")
        version = service.save(conn, MARCUS, pm, 1, T0, status="published")
        assert version == 2
        published = service.view(conn, example_config, OTHER, pm, T0)
        assert published.postmortem.published_at == T0 and not published.can_edit


def test_a_save_made_on_an_old_version_is_refused_and_names_who_saved(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with Session(applied_engine) as session, session.begin():
        incident = _incident(session, "Card declines", T0)
        conn = session.connection()
        pm = service.open_postmortem(conn, example_config, MARCUS, [incident], T0).id
        assert service.save(conn, PRIYA, pm, 1, T0, body="Priya's words") == 2
        with pytest.raises(service.Conflict) as conflict:
            service.save(conn, MARCUS, pm, 1, T0 + timedelta(seconds=5), body="Marcus's words")
        assert conflict.value.current.body == "Priya's words"
        assert "user:priya.raman@northwind.example" in str(conflict.value)
        assert service.view(conn, example_config, MARCUS, pm, T0).postmortem.body == \
            "Priya's words"


def test_timeline_choices_and_action_items_are_saved_and_audited(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with Session(applied_engine) as session, session.begin():
        incident = _incident(session, "Card declines", T0)
        conn = session.connection()
        pm = service.open_postmortem(conn, example_config, MARCUS, [incident], T0).id
        entries = service.view(conn, example_config, MARCUS, pm, T0).timeline
        alert = next(e for e in entries if e.text.startswith("Alert joined"))
        service.choose(conn, MARCUS, pm, alert.key, True, "the first sign", T0)
        item = service.add_item(conn, MARCUS, pm, T0, title="Alert on decline rate",
                                owner=PRIYA.name, due_on="2026-11-07",
                                url="https://tracker.example/PAY-12")
        service.update_item(conn, PRIYA, item, T0, status="done")
        with pytest.raises(service.Invalid):
            service.add_item(conn, MARCUS, pm, T0, title="x", url="javascript:alert(1)")
        view = service.view(conn, example_config, EVE, pm, T0)
        events = session.scalars(select(AuditEventRow.type).where(
            AuditEventRow.subject_kind == "postmortem", AuditEventRow.subject_name == str(pm))
            .order_by(AuditEventRow.id)).all()
        incident_events = session.scalars(select(AuditEventRow.type).where(
            AuditEventRow.incident_id == incident)).all()
    chosen = next(e for e in view.timeline if e.key == alert.key)
    assert chosen.kept and chosen.note == "the first sign" and chosen.chosen
    [done] = view.postmortem.items
    assert (done.title, done.owner, done.status, done.due_on, done.url) == (
        "Alert on decline rate", PRIYA.name, "done", date(2026, 11, 7),
        "https://tracker.example/PAY-12")
    assert done.completed_at == T0
    assert events == ["postmortem.created", "postmortem.timeline_chosen",
                      "postmortem.action_item_added", "postmortem.action_item_updated"]
    assert not [t for t in incident_events if t.startswith("postmortem")]


def test_an_unknown_incident_or_template_is_refused(applied_engine: Engine,
                                                   example_config: ConfigSet) -> None:
    with Session(applied_engine) as session, session.begin():
        incident = _incident(session, "Card declines", T0)
        conn = session.connection()
        with pytest.raises(NotFound, match="#999"):
            service.open_postmortem(conn, example_config, MARCUS, [incident, 999], T0)
        with pytest.raises(service.Invalid, match="no postmortem template 'nope'"):
            service.open_postmortem(conn, example_config, MARCUS, [incident], T0,
                                    template="nope")
        assert session.scalar(select(IncidentRow.id).where(IncidentRow.id == incident))
