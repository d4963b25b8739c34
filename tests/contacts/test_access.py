"""Issue 15 row 14: contact data is personal. A team admin cannot add a phone (that they
control) to someone else, not even a member of their own team; only the person and platform
admins edit it; and the web's remove/verify take only methods of the person whose page it is."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.db.engine import write_session
from oncall.db.models import ContactMethodRow
from oncall.incidents.actors import Actor, Forbidden

from .conftest import NOW  # type: ignore[import-not-found]

ATTACKER_PHONE = "+14155550199"


def _count(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(ContactMethodRow)) or 0


def test_a_team_admin_cannot_add_a_phone_to_a_member_of_another_team(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    lena, alice = people["team_admin"], people["alice"]  # storefront admin, payments responder
    assert alice.user_id
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.add_phone(session, lena, alice.user_id, ATTACKER_PHONE, NOW)
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.add_email(session, lena, alice.user_id, "lena@evil.example", NOW)
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.contact_methods(session, lena, alice.user_id, NOW)
    assert _count(applied_engine) == 0


def test_a_team_admin_cannot_edit_their_own_teams_members_either(
    applied_engine: Engine,
) -> None:
    from oncall.incidents.people import actor_for_email

    with Session(applied_engine) as session:
        lena = actor_for_email(session, "lena.fischer@northwind.example", via="web")
        sam = actor_for_email(session, "samuel.osei@northwind.example", via="web")
    assert lena is not None and sam is not None and sam.user_id
    assert lena.roles == {"storefront": "admin"} and sam.roles == {"storefront": "responder"}
    with write_session(applied_engine) as session, pytest.raises(Forbidden):
        contacts.add_phone(session, lena, sam.user_id, ATTACKER_PHONE, NOW)


def test_a_platform_admin_may_edit_anyones(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    priya, alice = people["admin"], people["alice"]
    assert priya.platform_admin and alice.user_id
    with write_session(applied_engine) as session:
        contacts.add_phone(session, priya, alice.user_id, "+14155552671", NOW, voice=False)
    assert _count(applied_engine) == 1


def test_methods_of_someone_else_are_unknown_to_the_web_page(
    applied_engine: Engine, people: dict[str, Actor]
) -> None:
    """The web passes the signed-in person as `user_id`: another person's method id is refused
    even for a platform admin, who may edit it only deliberately (not through their page)."""
    priya, alice = people["admin"], people["alice"]
    assert priya.user_id and alice.user_id
    with write_session(applied_engine) as session:
        [sms] = contacts.add_phone(session, alice, alice.user_id, "+14155552671", NOW,
                                   voice=False)
    for act in (
        lambda s: contacts.remove(s, priya, sms.id, NOW, user_id=priya.user_id),
        lambda s: contacts.send_code(s, priya, sms.id, NOW, user_id=priya.user_id),
        lambda s: contacts.confirm(s, priya, sms.id, "123456", NOW, user_id=priya.user_id),
        lambda s: contacts.set_enabled(s, priya, sms.id, False, NOW, user_id=priya.user_id),
    ):
        with write_session(applied_engine) as session, pytest.raises(contacts.NotFound):
            act(session)
    assert _count(applied_engine) == 1

