"""Issue 15 row 14 in the web app: the profile page's remove/verify take any method id from the
browser, so each must belong to the signed-in person whose page it is."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.db.engine import write_session
from oncall.db.models import ContactMethodRow
from oncall.incidents.people import actor_for_email
from oncall.web.state.profile import ProfileState

from .conftest import ADMIN, NOW, RESPONDER, call

PLATFORM_ADMIN = "priya.raman@northwind.example"


def _methods(web: Engine) -> int:
    with Session(web) as session:
        return session.scalar(select(func.count()).select_from(ContactMethodRow)) or 0


@pytest.mark.parametrize("editor", [ADMIN, PLATFORM_ADMIN])
@pytest.mark.parametrize("handler", ["remove", "send_code", "confirm"])
def test_someone_elses_method_id_is_refused(
    web: Engine, state: Callable[..., Any], editor: str, handler: str
) -> None:
    with write_session(web) as session:
        sam = actor_for_email(session, RESPONDER, via="web")
        assert sam is not None and sam.user_id is not None
        [sms] = contacts.add_phone(session, sam, sam.user_id, "+14155552671", NOW, voice=False)
    page: ProfileState = state(ProfileState, editor, "/profile")
    call(page, handler, str(sms.id))
    assert page.error and "does not exist" in page.error
    assert _methods(web) == 1
    with Session(web) as session:
        row = session.get(ContactMethodRow, sms.id)
        assert row is not None and row.verification_attempts == 0
