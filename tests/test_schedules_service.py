"""Overrides, swaps and feed tokens made in the app: permissions, effect and audit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.schedule import who_at
from oncall.core.schedule.overrides import Cover
from oncall.db.applied import read_applied
from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow, UserRow
from oncall.incidents.actors import Actor, Forbidden
from oncall.schedules_service import (
    Invalid,
    cancel_override,
    create_feed_token,
    create_override,
    create_swap,
    effective_schedule,
    feed_subject,
    revoke_feed_token,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SCHEDULE = "storefront-primary"
H = timedelta(hours=1)


def _actor(engine: Engine, email: str) -> Actor:
    with Session(engine) as session:
        user = session.scalar(select(UserRow).where(UserRow.email == email))
        assert user is not None
        roles = {m.team_name: m.role for m in user.memberships}
        return Actor("user", email, roles, user.id, "web", platform_admin=user.platform_admin)


def _config(engine: Engine) -> ConfigSet:
    with write_session(engine) as session:
        return read_applied(session)


def _holder(engine: Engine, at: datetime) -> str:
    config = _config(engine)
    with write_session(engine) as session:
        schedule = effective_schedule(session, config.schedules[SCHEDULE], at, at + H)
    who = who_at(schedule, at)
    assert who is not None
    return who


def _others(config: ConfigSet, *besides: str) -> list[str]:
    members = {m for layer in config.schedules[SCHEDULE].layers for m in layer.members}
    return sorted(members - set(besides))


def test_responder_gives_away_their_own_shift(applied_engine: Engine) -> None:
    start = NOW + H
    holder = _holder(applied_engine, start)
    config = _config(applied_engine)
    cover = _others(config, holder)[0]
    with write_session(applied_engine) as session:
        made = create_override(
            session,
            config,
            _actor(applied_engine, holder),
            schedule_name=SCHEDULE,
            who=cover,
            start=start,
            end=start + H,
            reason="dentist",
            now=NOW,
        )
    assert made.replaces == holder
    assert _holder(applied_engine, start) == cover
    with applied_engine.connect() as conn:
        event = conn.execute(
            select(AuditEventRow).where(AuditEventRow.type == "schedule.override_created")
        ).one()
    assert event.subject_name == SCHEDULE and event.data["who"] == cover
    with write_session(applied_engine) as session:
        cancel_override(session, config, _actor(applied_engine, holder), made.id, NOW)
    assert _holder(applied_engine, start) == holder


def test_responder_cannot_take_someone_elses_shift(applied_engine: Engine) -> None:
    start = NOW + H
    holder = _holder(applied_engine, start)
    config = _config(applied_engine)
    other = next(
        m
        for m in _others(config, holder)
        if _actor(applied_engine, m).roles.get("storefront") == "responder"
    )
    with write_session(applied_engine) as session, pytest.raises(Forbidden, match="own shifts"):
        create_override(
            session,
            config,
            _actor(applied_engine, other),
            schedule_name=SCHEDULE,
            who=other,
            start=start,
            end=start + H,
            reason=None,
            now=NOW,
        )


def test_admin_overrides_anyone_and_observer_nobody(applied_engine: Engine) -> None:
    start = NOW + H
    config = _config(applied_engine)
    cover = _others(config, _holder(applied_engine, start))[0]
    admin = _actor(applied_engine, "lena.fischer@northwind.example")
    with write_session(applied_engine) as session:
        create_override(
            session,
            config,
            admin,
            schedule_name=SCHEDULE,
            who=cover,
            start=start,
            end=start + H,
            reason=None,
            now=NOW,
        )
    observer = _actor(applied_engine, "ruby.chen@northwind.example")
    with write_session(applied_engine) as session, pytest.raises(Forbidden, match="observer"):
        create_override(
            session,
            config,
            observer,
            schedule_name=SCHEDULE,
            who=cover,
            start=start,
            end=start + H,
            reason=None,
            now=NOW,
        )


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (NOW + H, NOW, "end after"),
        (NOW - 3 * H, NOW - H, "future"),
        (NOW, NOW + timedelta(days=91), "90 days"),
    ],
)
def test_invalid_windows(
    applied_engine: Engine, start: datetime, end: datetime, message: str
) -> None:
    admin = _actor(applied_engine, "lena.fischer@northwind.example")
    config = _config(applied_engine)
    with write_session(applied_engine) as session, pytest.raises(Invalid, match=message):
        create_override(
            session,
            config,
            admin,
            schedule_name=SCHEDULE,
            who="samuel.osei@northwind.example",
            start=start,
            end=end,
            reason=None,
            now=NOW,
        )


def test_swap_between_two_holders(applied_engine: Engine) -> None:
    first_at = NOW + H
    first = _holder(applied_engine, first_at)
    later = first_at
    while _holder(applied_engine, later) == first:
        later += H
    second = _holder(applied_engine, later)
    config = _config(applied_engine)
    with write_session(applied_engine) as session:
        a, b = create_swap(
            session,
            config,
            _actor(applied_engine, first),
            schedule_name=SCHEDULE,
            first=Cover(first, first_at, first_at + H),
            second=Cover(second, later, later + H),
            now=NOW,
        )
    assert (a.who, a.replaces, b.who, b.replaces) == (second, first, first, second)
    assert _holder(applied_engine, first_at) == second
    assert _holder(applied_engine, later) == first


def test_feed_tokens(applied_engine: Engine) -> None:
    config = _config(applied_engine)
    me = _actor(applied_engine, "samuel.osei@northwind.example")
    with write_session(applied_engine) as session:
        token = create_feed_token(session, config, me, f"person:{me.name}", NOW)
        with pytest.raises(Forbidden):
            create_feed_token(session, config, me, "person:someone@else.example", NOW)
        with pytest.raises(Invalid):
            create_feed_token(session, config, me, "schedule:nope", NOW)
    with write_session(applied_engine) as session:
        assert feed_subject(session, token, NOW) == f"person:{me.name}"
        feed_id = session.scalar(
            select(AuditEventRow.data).where(AuditEventRow.type == "feed.token_created")
        )["id"]
        revoke_feed_token(session, me, feed_id, NOW)
        assert feed_subject(session, token, NOW) is None


@pytest.mark.parametrize(("email", "allowed"), [
    ("lena.fischer@northwind.example", False),   # admin of Samuel's own team: not his keeper
    ("marcus.bell@northwind.example", False),    # responder of another team
    ("priya.raman@northwind.example", True),     # platform admin
])
def test_another_persons_feeds_are_theirs_alone(applied_engine: Engine, email: str,
                                                allowed: bool) -> None:
    config = _config(applied_engine)
    samuel = _actor(applied_engine, "samuel.osei@northwind.example")
    other = _actor(applied_engine, email)
    with write_session(applied_engine) as session:
        create_feed_token(session, config, samuel, f"person:{samuel.name}", NOW)
        feed_id = session.scalar(
            select(AuditEventRow.data).where(AuditEventRow.type == "feed.token_created")
        )["id"]
    with write_session(applied_engine) as session:
        if allowed:
            create_feed_token(session, config, other, f"person:{samuel.name}", NOW)
            revoke_feed_token(session, other, feed_id, NOW)
            return
        with pytest.raises(Forbidden):
            create_feed_token(session, config, other, f"person:{samuel.name}", NOW)
        with pytest.raises(Forbidden):
            revoke_feed_token(session, other, feed_id, NOW)
