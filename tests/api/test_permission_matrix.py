"""Every person-facing REST route, called as every kind of person, answers as
`oncall.api.permissions` says: the table has a row for every `Access.API_KEY` route (and a route
for every row), and each route allows (2xx) or refuses (403, or 404 where it hides a draft) each
persona exactly as the row's rule does.

The owning team is storefront (service storefront-web, schedule storefront-primary); each call
gets fresh objects (an incident that paged the payments responder, a draft postmortem, an
override), so that one person's allowed change does not decide the next person's answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall import contacts
from oncall.api.access import API, Access, Key
from oncall.api.permissions import MATRIX, RULES, Outcome, Persona, Rule
from oncall.config.configset import ConfigSet
from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    ContactMethodRow,
    NotificationRow,
    ScheduleOverrideRow,
    UserRow,
)
from oncall.incidents.actors import Actor
from oncall.incidents.people import actor_for_email
from oncall.postmortems import queries as pm_queries
from oncall.postmortems import service as pm_service
from oncall.schedules_service import create_override
from oncall.testing.incidents import open_incident

from .conftest import NOW, Api

PROBLEM = "application/problem+json"
TEAM = "storefront"
SERVICE = "storefront-web"
SCHEDULE = "storefront-primary"
PEOPLE: dict[Persona, str] = {
    Persona.PLATFORM_ADMIN: "priya.raman@northwind.example",  # payments admin, Organization.admins
    Persona.TEAM_ADMIN: "lena.fischer@northwind.example",
    Persona.RESPONDER: "samuel.osei@northwind.example",
    Persona.OBSERVER: "ruby.chen@northwind.example",
    Persona.OTHER_TEAM: "jordan.reyes@northwind.example",  # platform responder
    Persona.PAGED: "marcus.bell@northwind.example",  # payments responder, paged by each incident
}
HOLDER = "grace.mwangi@northwind.example"  # storefront responder: holds the overridden windows
COVER = "noah.petit@northwind.example"
WINDOW = NOW + timedelta(days=2)
"""Start of the day given to HOLDER by an override; each override made here takes one hour."""


def api_key_routes() -> set[Key]:
    return {key for key, access in API.items() if access is Access.API_KEY}


def test_every_api_key_route_has_a_rule_and_every_rule_a_route() -> None:
    assert sorted(api_key_routes() - set(RULES)) == [], "add a row to oncall/api/permissions.py"
    assert sorted(set(RULES) - api_key_routes()) == [], "a row of RULES names no API_KEY route"
    assert set(MATRIX) == set(Rule)
    assert all(set(row) == set(Persona) for row in MATRIX.values())


def test_the_people_have_the_roles_their_persona_names(example_config: ConfigSet) -> None:
    team = example_config.teams[TEAM]
    roles = {m.email: m.role for m in team.members}
    assert roles[PEOPLE[Persona.TEAM_ADMIN]] == "admin"
    assert roles[PEOPLE[Persona.RESPONDER]] == "responder"
    assert roles[PEOPLE[Persona.OBSERVER]] == "observer"
    for persona in (Persona.PLATFORM_ADMIN, Persona.OTHER_TEAM, Persona.PAGED):
        assert PEOPLE[persona] not in roles
    assert PEOPLE[Persona.PLATFORM_ADMIN] in example_config.platform_admins
    others = set(PEOPLE.values()) - {PEOPLE[Persona.PLATFORM_ADMIN]}
    assert not others & set(example_config.platform_admins)


# --- the objects each call needs ----------------------------------------------------------------


@dataclass
class Call:
    params: dict[str, Any] = field(default_factory=dict)
    """Path parameters."""
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    api: Api
    config: ConfigSet
    numbers: Iterator[int] = field(default_factory=lambda: count(1))
    hours: Iterator[int] = field(default_factory=lambda: count(0))

    def incident(self) -> int:
        """A fresh storefront-web incident that paged the PAGED persona."""
        n = next(self.numbers)
        with write_session(self.api.engine) as session:
            incident_id = open_incident(session, service=SERVICE, title=f"Basket page {n} slow",
                                        now=NOW)
            paged = session.scalar(select(UserRow.id).where(
                UserRow.email == PEOPLE[Persona.PAGED]))
            assert paged is not None
            session.add(NotificationRow(
                idempotency_key=f"page:{incident_id}:{paged}", incident_id=incident_id,
                user_id=paged, channel="sms", address="+14155550100", kind="page",
                status="sent", attempt_count=1, next_attempt_at=NOW, created_at=NOW))
        return incident_id

    def postmortem(self, incidents: int = 1) -> int:
        """A fresh draft postmortem of fresh incidents, opened by the system (a workflow)."""
        ids = [self.incident() for _ in range(incidents)]
        with write_session(self.api.engine) as session:
            return pm_service.open_postmortem(session.connection(), self.config,
                                              Actor.system(), ids, NOW).id

    def version(self, postmortem_id: int) -> int:
        with Session(self.api.engine) as session:
            return pm_queries.load(session.connection(), postmortem_id).version

    def item(self) -> int:
        postmortem_id = self.postmortem()
        with write_session(self.api.engine) as session:
            return pm_service.add_item(session.connection(), Actor.system(), postmortem_id, NOW,
                                       title="Alert on basket latency")

    def event(self, postmortem_id: int) -> int:
        with Session(self.api.engine) as session:
            [incident_id] = pm_queries.load(session.connection(), postmortem_id).incident_ids
            found = session.scalar(select(AuditEventRow.id).where(
                AuditEventRow.incident_id == incident_id).order_by(AuditEventRow.id).limit(1))
        assert found is not None
        return found

    def hour(self) -> tuple[str, str]:
        """A fresh hour of the day HOLDER holds by override."""
        start = WINDOW + timedelta(hours=next(self.hours))
        assert start < WINDOW + timedelta(days=1)
        return start.isoformat(), (start + timedelta(hours=1)).isoformat()

    def override(self, who: str = HOLDER, start: str | None = None,
                 end: str | None = None) -> int:
        """An override made by the team admin: `who` covers the window (default: a fresh hour
        of HOLDER's day, given to COVER)."""
        if start is None or end is None:
            start, end = self.hour()
            who = COVER
        with write_session(self.api.engine) as session:
            admin = actor_for_email(session, PEOPLE[Persona.TEAM_ADMIN], via="api")
            assert admin is not None
            return create_override(
                session, self.config, admin, schedule_name=SCHEDULE, who=who,
                start=datetime.fromisoformat(start),
                end=datetime.fromisoformat(end), reason="matrix", now=NOW).id

    def written(self) -> tuple[int, ...]:
        """How many audit events, queued notifications and overrides there are: every change
        a route makes adds to one of them, so a refusal must leave them as they were."""
        with Session(self.api.engine) as session:
            return tuple(session.scalar(select(func.count()).select_from(model)) or 0
                         for model in (AuditEventRow, NotificationRow, ScheduleOverrideRow))

    def setup(self) -> None:
        """HOLDER's day, and a verified phone for everyone (the test page needs one)."""
        self.override(HOLDER, WINDOW.isoformat(), (WINDOW + timedelta(days=1)).isoformat())
        with write_session(self.api.engine) as session:
            for email in PEOPLE.values():
                actor = actor_for_email(session, email, via="web")
                assert actor is not None and actor.user_id is not None
                made = contacts.add_phone(session, actor, actor.user_id, "+14155552671", NOW)
                ids = [m.id for m in made]
                for row in session.scalars(select(ContactMethodRow).where(
                        ContactMethodRow.id.in_(ids))):
                    row.verified_at = NOW


def _incident(w: World, body: Any = None) -> Call:
    return Call({"incident_id": w.incident()}, body)


def _postmortem(w: World, body: Any = None) -> Call:
    return Call({"postmortem_id": w.postmortem()}, body)


def _save(w: World) -> Call:
    postmortem_id = w.postmortem()
    return Call({"postmortem_id": postmortem_id},
                {"version": w.version(postmortem_id), "title": "Basket page slow"})


def _unlink(w: World) -> Call:
    postmortem_id = w.postmortem(incidents=2)
    with Session(w.api.engine) as session:
        second = pm_queries.load(session.connection(), postmortem_id).incident_ids[-1]
    return Call({"postmortem_id": postmortem_id, "incident_id": second})


def _choose(w: World) -> Call:
    postmortem_id = w.postmortem()
    return Call({"postmortem_id": postmortem_id,
                 "entry_key": f"event:{w.event(postmortem_id)}"}, {"kept": False, "note": "noise"})


def _new_override(w: World) -> Call:
    start, end = w.hour()
    return Call({"name": SCHEDULE}, {"start": start, "end": end, "user": COVER})


_INC = "/api/v1/incidents/{incident_id:int}"
_PM = "/api/v1/postmortems/{postmortem_id:int}"
_ITEM = "/api/v1/action-items/{item_id:int}"
_OVR = "/api/v1/schedules/{name}/overrides"

CALLS: dict[Key, Callable[[World], Call]] = {
    ("GET", "/api/v1/incidents"): lambda w: Call(),
    ("GET", _INC): _incident,
    ("POST", "/api/v1/incidents"): lambda w: Call(
        body={"service": SERVICE, "title": "Checkout button missing"}),
    ("POST", f"{_INC}/acknowledge"): _incident,
    ("POST", f"{_INC}/resolve"): lambda w: _incident(w, {"note": "rolled back"}),
    ("POST", f"{_INC}/notes"): lambda w: _incident(w, {"text": "looking"}),
    ("POST", f"{_INC}/reassign"): lambda w: _incident(w, {"assignee": COVER}),
    ("POST", f"{_INC}/priority"): lambda w: _incident(w, {"priority": "P4"}),
    ("POST", f"{_INC}/escalate"): _incident,
    ("PUT", f"{_INC}/roles/{{name}}"): lambda w: Call(
        {"incident_id": w.incident(), "name": "commander"}),
    ("DELETE", f"{_INC}/roles/{{name}}"): lambda w: Call(
        {"incident_id": w.incident(), "name": "scribe"}),
    ("POST", f"{_INC}/runbooks/{{name}}"): lambda w: Call(
        {"incident_id": w.incident(), "name": "purge-cdn-cache"}, {"params": {"paths": ["/"]}}),
    ("GET", "/api/v1/reports/{name}"): lambda w: Call({"name": "summary"}),
    ("GET", "/api/v1/postmortems"): lambda w: Call(),
    ("POST", "/api/v1/postmortems"): lambda w: Call(body={"incidents": [w.incident()]}),
    ("GET", _PM): _postmortem,
    ("GET", f"{_PM}/export.md"): _postmortem,
    ("PATCH", _PM): _save,
    ("POST", f"{_PM}/incidents"): lambda w: _postmortem(w, {"incidents": [w.incident()]}),
    ("DELETE", f"{_PM}/incidents/{{incident_id:int}}"): _unlink,
    ("PUT", f"{_PM}/timeline/{{entry_key}}"): _choose,
    ("POST", f"{_PM}/action-items"): lambda w: _postmortem(w, {"title": "Add a canary"}),
    ("GET", "/api/v1/action-items"): lambda w: Call(),
    ("PATCH", _ITEM): lambda w: Call({"item_id": w.item()}, {"status": "done"}),
    ("DELETE", _ITEM): lambda w: Call({"item_id": w.item()}),
    ("GET", "/api/v1/oncall"): lambda w: Call(query={"service": SERVICE}),
    ("GET", "/api/v1/schedules"): lambda w: Call(),
    ("GET", "/api/v1/schedules/{name}/shifts"): lambda w: Call({"name": SCHEDULE}),
    ("GET", _OVR): lambda w: Call({"name": SCHEDULE}),
    ("GET", f"{_OVR}/{{identifier}}"): lambda w: Call(
        {"name": SCHEDULE, "identifier": w.override()}),
    ("POST", _OVR): _new_override,
    ("DELETE", f"{_OVR}/{{identifier}}"): lambda w: Call(
        {"name": SCHEDULE, "identifier": w.override()}),
    ("GET", "/api/v1/services"): lambda w: Call(),
    ("GET", "/api/v1/services/{name}"): lambda w: Call({"name": SERVICE}),
    ("GET", "/api/v1/users"): lambda w: Call(),
    ("GET", "/api/v1/audit"): lambda w: Call(),
    ("GET", "/api/v1/delivery-health"): lambda w: Call(),
    ("GET", "/api/v1/users/me/notification-rules"): lambda w: Call(),
    ("PUT", "/api/v1/users/me/notification-rules"): lambda w: Call(body={}),
    ("POST", "/api/v1/users/me/test-page"): lambda w: Call(),
}
"""For every route: the fresh objects and a minimal valid request, made before each call."""

_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def fill(template: str, params: dict[str, Any]) -> str:
    return _PARAM.sub(lambda m: str(params[m.group(1)]), template)


def test_every_rule_row_has_a_call() -> None:
    assert set(CALLS) == set(RULES)


def answer(status: int) -> Outcome | None:
    if 200 <= status < 300:
        return Outcome.ALLOWED
    return {403: Outcome.FORBIDDEN, 404: Outcome.HIDDEN}.get(status)


@pytest.fixture
def world(make_api: Callable[..., Api], example_config: ConfigSet) -> World:
    made = World(make_api(), example_config)
    made.setup()
    return made


def test_every_route_answers_every_persona_as_its_rule_says(world: World) -> None:
    keys = {persona: world.api.key(email) for persona, email in PEOPLE.items()}
    wrong: list[str] = []
    for (method, template), rule in RULES.items():
        for persona, expected in MATRIX[rule].items():
            call = CALLS[method, template](world)
            before = world.written()
            response = world.api.client.request(
                method, fill(template, call.params), json=call.body, params=call.query,
                headers={"Authorization": f"Bearer {keys[persona]}"})
            got = answer(response.status_code)
            if got is not Outcome.ALLOWED:
                assert response.headers["content-type"] == PROBLEM, (method, template)
                assert world.written() == before, f"{method} {template} refused but wrote"
            if got is not expected:
                wrong.append(f"{method} {template} as {persona} ({rule}): expected {expected}, "
                             f"got {response.status_code} {response.text[:200]}")
    assert wrong == []


def test_a_responder_overrides_and_cancels_their_own_shifts_only(world: World) -> None:
    """The MANAGE_OVERRIDES row says 403 for a responder on someone else's shift; on a window
    they hold, and on an override that gave them a shift, they are allowed."""
    responder = PEOPLE[Persona.RESPONDER]
    headers = {"Authorization": f"Bearer {world.api.key(responder)}"}
    path = f"/api/v1/schedules/{SCHEDULE}/overrides"
    start, end = world.hour()
    world.override(responder, start, end)  # the team admin gives the responder an hour
    mine = world.api.client.post(path, headers=headers,
                                 json={"start": start, "end": end, "user": COVER})
    assert mine.status_code == 201, mine.text
    theirs = world.override()
    refused = world.api.client.delete(f"{path}/{theirs}", headers=headers)
    assert refused.status_code == 403, refused.text
    cancelled = world.api.client.delete(f"{path}/{mine.json()['id']}", headers=headers)
    assert cancelled.status_code == 204, cancelled.text


def test_a_published_postmortem_is_read_by_everyone(world: World) -> None:
    """The POSTMORTEM_READ row is for a draft; published, other teams read it (and still may not
    edit it)."""
    postmortem_id = world.postmortem()
    admin = {"Authorization": f"Bearer {world.api.key(PEOPLE[Persona.TEAM_ADMIN])}"}
    published = world.api.client.patch(
        f"/api/v1/postmortems/{postmortem_id}", headers=admin,
        json={"version": world.version(postmortem_id), "status": "published"})
    assert published.status_code == 200, published.text
    other = {"Authorization": f"Bearer {world.api.key(PEOPLE[Persona.OTHER_TEAM])}"}
    read = world.api.client.get(f"/api/v1/postmortems/{postmortem_id}", headers=other)
    assert read.status_code == 200, read.text
    edit = world.api.client.patch(
        f"/api/v1/postmortems/{postmortem_id}", headers=other,
        json={"version": world.version(postmortem_id), "title": "Mine now"})
    assert edit.status_code == 403, edit.text
