"""Every event handler of the web app has a permission rule, and every team-scoped rule holds.

`oncall.web.permissions.HANDLERS` names each handler's rule. Here:
- the table and the app agree: a handler added without a row (or a row left for a handler that
  is gone) fails;
- every handler whose rule is team-scoped is called, as the browser would, by four people: a
  platform admin, a responder and an observer of the owning team, and a responder of another
  team the incident did not page; the database changes for the people the rule allows, and
  stays as it was, with the refusal on the page, for the others. Where a page hides a form or
  a button from someone, the call is made as a browser that turned the switch back on (client
  vars such as `can_edit` are the browser's to set), so only the server's rule is left;
- every handler of the person's own data is called by the same four people, on their own data
  (allowed) and, where the event names an id, on a responder's contact method, rule or feed.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
import reflex as rx
from reflex.state import BaseState
from sqlalchemy import Engine, func, select, text

import oncall.web.app  # noqa: F401 - registers every page's state
from oncall.core.schedule import shifts
from oncall.db.engine import write_session
from oncall.db.models import (
    ActionItemRow,
    AuditEventRow,
    ContactMethodRow,
    ScheduleOverrideRow,
    UserRow,
)
from oncall.schedules_service import effective_schedule
from oncall.testing.peers.github import GitHubPeer
from oncall.web import context
from oncall.web.permissions import HANDLERS, Rule
from oncall.web.state.incident import IncidentState
from oncall.web.state.incidents import IncidentsState
from oncall.web.state.oncall import ScheduleState
from oncall.web.state.policy_editor import PolicyEditorState
from oncall.web.state.postmortems import NO_SEVERITY, PostmortemState
from oncall.web.state.profile import ProfileState
from oncall.web.state.push import PushState
from oncall.web.state.schedule_editor import ScheduleEditorState
from oncall.web.state.session import SessionState
from oncall.web.state.status import WHOLE_PAGE, StatusPagesState
from oncall.web.state.workflow_editor import WorkflowEditorState

from .conftest import NOW, OBSERVER, RESPONDER, call
from .test_session_guard import all_states, throwaway_registry

PLATFORM_ADMIN = "priya.raman@northwind.example"  # payments admin, in Organization.admins
OUTSIDER = "marcus.bell@northwind.example"  # payments responder: not paged for storefront
DATA_RESPONDER = "ananya.das@northwind.example"
DATA_OBSERVER = "chris.doyle@northwind.example"
GRACE = "grace.mwangi@northwind.example"  # another storefront responder

PERSONAS = ("platform admin", "owning responder", "owning observer", "other team responder")
TEAMS = {  # the owning team's people, and a responder of a team with no part in it
    "storefront": {"owning responder": RESPONDER, "owning observer": OBSERVER,
                   "other team responder": OUTSIDER},
    "data": {"owning responder": DATA_RESPONDER, "owning observer": DATA_OBSERVER,
             "other team responder": RESPONDER},
}
ALLOWED: dict[Rule, frozenset[str]] = {
    Rule.ACT_ON_INCIDENT: frozenset({"platform admin", "owning responder"}),
    Rule.DECLARE: frozenset({"platform admin", "owning responder"}),
    Rule.RUN_RUNBOOK: frozenset({"platform admin", "owning responder"}),
    Rule.MANAGE_OVERRIDES: frozenset({"platform admin", "owning responder"}),  # own shifts
    Rule.POSTMORTEM_OPEN: frozenset({"platform admin", "owning responder"}),
    Rule.POSTMORTEM_EDIT: frozenset({"platform admin", "owning responder"}),
    Rule.POSTMORTEM_READ: frozenset({"platform admin", "owning responder", "owning observer"}),
    Rule.STATUS_PAGE_WRITE: frozenset({"platform admin", "owning responder"}),
    Rule.EDIT_CONFIG: frozenset({"platform admin"}),  # and the owning team's admins
}
"""Who each team-scoped rule lets through (a postmortem read here: a draft's)."""

FINGERPRINTED = (
    "incidents", "incident_roles", "audit_events", "escalation_timers", "schedule_overrides",
    "postmortems", "postmortem_incidents", "postmortem_timeline", "postmortem_action_items",
    "status_page_components", "status_page_notices", "status_page_notice_updates",
)


def fingerprint(web: Engine) -> dict[str, list[tuple[str, ...]]]:
    """Everything a team-scoped handler could change, as text."""
    with web.connect() as conn:
        return {
            table: sorted(tuple(str(v) for v in row)
                          for row in conn.execute(text(f"SELECT * FROM {table}")))
            for table in FINGERPRINTED
        }


def handler_names() -> set[str]:
    return {f"{cls.__name__}.{name}" for cls in all_states(SessionState)
            for name in cls.event_handlers}


# --- (a) the table names every handler ---------------------------------------------------------


def test_every_handler_has_a_rule_and_every_rule_a_handler() -> None:
    names = handler_names()
    assert sorted(names - set(HANDLERS)) == [], "handlers without a rule in web/permissions.py"
    assert sorted(set(HANDLERS) - names) == [], "rules of handlers that do not exist"


def test_a_handler_added_without_a_rule_is_caught() -> None:
    with throwaway_registry():

        class ExtraState(SessionState):
            @rx.event
            def wipe(self) -> None:
                """A new handler nobody gave a rule."""

        assert handler_names() - set(HANDLERS) == {
            f"{ExtraState.__name__}.wipe", f"{ExtraState.__name__}.setvar"}
    assert handler_names() - set(HANDLERS) == set()


# --- (b) each team-scoped handler, by each person ----------------------------------------------


@dataclass
class World:
    """What a case acts on, made in the test: an incident of storefront-web and the rest."""

    state: Callable[..., Any]
    web: Engine
    incident: Callable[..., int]
    iid: int = 0
    postmortem: int = 0
    """The postmortem of the incident, once opened."""
    other: int = 0
    """A second incident of storefront-web."""
    returned: Any = None
    """What the handler returned (a file to download, a redirect)."""

    def page(self, cls: type[BaseState], who: str, path: str, params: dict[str, str]) -> Any:
        s = self.state(cls, who, path, params)
        call(s, "load")
        return s

    def incident_page(self, who: str) -> IncidentState:
        page: IncidentState = self.page(IncidentState, who, f"/incidents/{self.iid}",
                                        {"incident_id": str(self.iid)})
        return page

    def list_page(self, who: str) -> IncidentsState:
        page: IncidentsState = self.page(IncidentsState, who, "/", {})
        return page

    def schedule_page(self, who: str) -> ScheduleState:
        s: ScheduleState = self.page(ScheduleState, who, f"/schedules/{SCHEDULE}",
                                     {"schedule": SCHEDULE})
        s.tz = "Etc/UTC"  # the form's times read as UTC whatever the person's zone
        return s

    def postmortem_page(self, who: str) -> PostmortemState:
        s: PostmortemState = self.page(PostmortemState, who, f"/postmortems/{self.postmortem}",
                                       {"id": str(self.postmortem)})
        return s

    def status_page(self, who: str) -> StatusPagesState:
        s: StatusPagesState = self.page(StatusPagesState, who, f"/status-pages/{STATUS_PAGE}",
                                        {"name": STATUS_PAGE})
        return s


SCHEDULE = "storefront-primary"
STATUS_PAGE = "internal"  # Kubernetes (platform), order pipelines and recommendations (data)


def _responders_shift(web: Engine) -> tuple[str, str]:
    """An hour of storefront-primary, within the next week, that RESPONDER alone holds (as the
    form's `datetime-local` values, in UTC)."""
    with write_session(web) as session:
        schedule = context.config(session).schedules[SCHEDULE]
        start = NOW + timedelta(hours=1)
        for hour in range(7 * 24):
            a, b = start + timedelta(hours=hour), start + timedelta(hours=hour + 1)
            held = {s.who for s in shifts(effective_schedule(session, schedule, a, b), a, b)}
            if held == {RESPONDER}:
                return f"{a:%Y-%m-%dT%H:%M}", f"{b:%Y-%m-%dT%H:%M}"
    raise AssertionError("no hour of the responder's in the next week")


def _override(w: World, who: str) -> ScheduleState:
    """`who` gives RESPONDER's hour to GRACE with the schedule page's form."""
    start, end = _responders_shift(w.web)
    s = w.schedule_page(who)
    for field, value in (("kind", "override"), ("who", GRACE), ("start", start), ("end", end),
                         ("reason", "dentist")):
        call(s, "set_form", field, value)
    call(s, "submit_override")
    return s


def _open_postmortem(w: World) -> None:
    page = w.incident_page(RESPONDER)
    path = str(call(page, "open_postmortem"))
    assert page.error == "" and "/postmortems/" in path, page.error
    w.postmortem = int(path.split("/postmortems/")[1].split('"')[0].split("\\")[0])


def _item(w: World) -> None:
    """An action item on the postmortem, added by its editor."""
    s = w.postmortem_page(RESPONDER)
    call(s, "set_item_field", "title", "Alert on cache hit ratio")
    call(s, "add_item")
    assert s.error == "", s.error


def _forced_editor(w: World, who: str) -> PostmortemState:
    """The editor as a browser that turned its own read-only switch off (`can_edit` is a
    client var): only the server's rule is left."""
    s = w.postmortem_page(who)
    s.can_edit = True
    if not s.draft:  # a page the person may not read loaded nothing: the browser fills it in
        s.draft = s._base = {"title": "", "body": "", "severity": NO_SEVERITY, "owner": "",
                             "status": "draft"}
    return s


def _draft(w: World, who: str) -> PostmortemState:
    s = _forced_editor(w, who)
    call(s, "set_draft", "title", "Checkout errors after the CDN change")
    return s


def _keep_mine(w: World, who: str) -> PostmortemState:
    s = _draft(w, who)
    s._theirs = {"fields": dict(s._base), "version": s.version}  # someone saved meanwhile
    s.conflict = {"title": "theirs"}
    call(s, "keep_mine")
    return s


def _timeline_key(w: World) -> str:
    """The first timeline entry's key, as an editor's page shows it."""
    s = w.postmortem_page(RESPONDER)
    assert s.timeline, "the postmortem has a timeline"
    return s.timeline[0]["key"]


def _posted(w: World) -> None:
    """A notice on the status page, for an update."""
    s = w.status_page(PLATFORM_ADMIN)
    call(s, "set_new_title", "Slow nodes")
    call(s, "set_new_body", "Pods start slowly.")
    call(s, "post_notice")
    assert s.error == "" and s.notices, s.error


Act = Callable[[World, str], Any]
Setup = Callable[[World], None]


@dataclass(frozen=True)
class Case:
    act: Act
    """Calls the handler as `who` (with the handler's arguments), returning the page's state."""
    team: str = "storefront"
    setup: Setup | None = None
    quiet: frozenset[str] = frozenset()
    """People refused without a message: their page never loaded what the event names, so
    the handler finds nothing to act on (the database is still checked)."""


IID = object()
"""In a case's arguments: the incident made for the test."""


def _incident_action(name: str, *args: Any) -> Act:
    def act(w: World, who: str) -> Any:
        s = w.incident_page(who) if name.startswith("IncidentState") else w.list_page(who)
        call(s, name.split(".")[1], *[w.iid if a is IID else a for a in args])
        return s
    return act


def _dialog(page: str) -> Act:
    def act(w: World, who: str) -> Any:
        s = w.incident_page(who) if page == "IncidentState" else w.list_page(who)
        call(s, "open_dialog", "resolve", w.iid)
        call(s, "set_dialog_text", "cache purged")
        call(s, "submit_dialog")
        return s
    return act


def _bulk(*steps: tuple[str, ...]) -> Act:
    """The incident chosen on the dashboard, then the bulk action's handlers in turn."""
    def act(w: World, who: str) -> Any:
        s = w.list_page(who)
        call(s, "toggle_selected", str(w.iid))
        for name, *args in steps:
            call(s, name, *args)
        return s
    return act


def _submit_role(w: World, who: str) -> Any:
    s = w.incident_page(who)
    call(s, "open_role", "scribe")
    call(s, "set_role_user", GRACE)
    call(s, "submit_role")
    return s


def _give_commander(w: World) -> None:
    s = w.incident_page(PLATFORM_ADMIN)
    call(s, "take_role", "commander")
    assert s.error == "", s.error


def _runbook(w: World, who: str) -> Any:
    s = w.incident_page(who)
    call(s, "open_runbook", "purge-cdn-cache")
    call(s, "set_runbook_value", "paths", "/checkout")
    call(s, "submit_runbook")
    return s


def _declare(w: World, who: str) -> Any:
    s = w.list_page(who)
    call(s, "open_declare")
    # the form offers only services the person may declare on; the event names any
    for field, value in (("service", "storefront-web"), ("title", "Checkout slow"),
                         ("priority", "P3"), ("description", "")):
        call(s, "set_declare_field", field, value)
    call(s, "submit_declare")
    return s


def _cancel(w: World, who: str) -> Any:
    with write_session(w.web) as session:
        oid = session.scalar(select(func.max(ScheduleOverrideRow.id)))
    s = w.schedule_page(who)
    call(s, "cancel", str(oid))
    return s


def _pm(act: Callable[[World, str, PostmortemState], None], forced: bool = False) -> Act:
    def run(w: World, who: str) -> Any:
        s = _forced_editor(w, who) if forced else w.postmortem_page(who)
        act(w, who, s)
        return s
    return run


def _link(w: World, who: str, s: PostmortemState) -> None:
    call(s, "set_new_incident", str(w.other))
    call(s, "link_incident")


def _second_incident(w: World) -> None:
    _open_postmortem(w)
    w.other = w.incident("Cart empties")


def _second_incident_linked(w: World) -> None:
    _second_incident(w)
    _link(w, RESPONDER, s := w.postmortem_page(RESPONDER))
    assert s.error == "", s.error


def _unlink(w: World, who: str, s: PostmortemState) -> None:
    call(s, "unlink_incident", str(w.other))


def _item_then(name: str, *args: str) -> Act:
    def act(w: World, who: str) -> Any:
        item = _item_of(w)
        s = _forced_editor(w, who)
        if name == "save_item":
            call(s, "edit_item", item)
            # a page that could not read the item: the browser sets the form itself
            s.editing_item = item
            call(s, "set_edit_field", "title", "Page on cache hit ratio")
            call(s, "save_item")
        else:
            call(s, name, item, *args)
        return s
    return act


def _item_of(w: World) -> str:
    with write_session(w.web) as session:
        return str(session.scalar(select(func.max(ActionItemRow.id))))


def _with_item(w: World) -> None:
    _open_postmortem(w)
    _item(w)


def _status(name: str) -> Act:
    def act(w: World, who: str) -> Any:
        s = w.status_page(who)
        if name == "post_notice":
            call(s, "set_new_title", "Slow nodes")
            call(s, "set_new_body", "Pods start slowly.")
            call(s, "set_new_component", WHOLE_PAGE)
            call(s, "post_notice")
        elif name == "update_notice":
            notice = s.notices[0]["id"]
            call(s, "set_update_text", notice, "Nodes replaced.")
            call(s, "update_notice", notice)
        elif name == "set_component":
            call(s, "set_manual_status", "Kubernetes", "degraded_performance")
            call(s, "set_component", "Kubernetes")
        else:
            call(s, name, "Kubernetes")
        return s
    return act


def _component_set(w: World) -> None:
    s = w.status_page(PLATFORM_ADMIN)
    call(s, "set_manual_status", "Kubernetes", "major_outage")
    call(s, "set_component", "Kubernetes")
    assert s.error == "", s.error


_GITHUB: list[GitHubPeer] = []
"""One stand-in for GitHub, started on first use, for the pull requests of the editors."""


def _pull_request(w: World, who: str) -> Any:
    """`who` proposes an edit of storefront-secondary as a pull request, from an editor whose
    `can_open_pr` switch the browser turned back on."""
    if not _GITHUB:
        _GITHUB.append(GitHubPeer().start())
    peer = _GITHUB[0]
    context.use(web=dataclasses.replace(
        context.web_settings(), github_repository=peer.repository, github_token=peer.token,
        github_api_url=peer.url))
    s: ScheduleEditorState = w.page(ScheduleEditorState, who,
                                    "/schedules/storefront-secondary/edit",
                                    {"schedule": "storefront-secondary"})
    s.can_open_pr = True
    call(s, "set_field", "description", f"Proposed by {who}")
    call(s, "open_pull_request")
    return s


def _editor_pull_request(cls: type[BaseState], path: str, params: dict[str, str],
                         edit: Callable[[Any], None]) -> Act:
    """`who` proposes an edit from the policy or workflow editor, as `_pull_request` does."""
    def act(w: World, who: str) -> Any:
        if not _GITHUB:
            _GITHUB.append(GitHubPeer().start())
        peer = _GITHUB[0]
        context.use(web=dataclasses.replace(
            context.web_settings(), github_repository=peer.repository, github_token=peer.token,
            github_api_url=peer.url))
        s = w.page(cls, who, path, params)
        s.can_open_pr = True
        edit(s)
        call(s, "open_pull_request")
        return s
    return act


CASES: dict[str, Case] = {
    **{f"{page}.acknowledge": Case(_incident_action(f"{page}.acknowledge", IID))
       for page in ("IncidentState", "IncidentsState")},
    **{f"{page}.change_priority": Case(_incident_action(f"{page}.change_priority", IID, "P1"))
       for page in ("IncidentState", "IncidentsState")},
    **{f"{page}.submit_dialog": Case(_dialog(page)) for page in ("IncidentState",
                                                                 "IncidentsState")},
    "IncidentState.escalate_now": Case(_incident_action("IncidentState.escalate_now")),
    "IncidentState.take_role": Case(_incident_action("IncidentState.take_role", "commander")),
    "IncidentState.clear_role": Case(_incident_action("IncidentState.clear_role", "commander"),
                                     setup=_give_commander),
    "IncidentState.submit_role": Case(_submit_role),
    "IncidentState.submit_runbook": Case(_runbook),
    "IncidentState.open_postmortem": Case(_incident_action("IncidentState.open_postmortem")),
    "IncidentsState.submit_declare": Case(_declare),
    "IncidentsState.bulk_acknowledge": Case(_bulk(("bulk_acknowledge",))),
    "IncidentsState.bulk_resolve": Case(_bulk(("open_bulk_resolve",),
                                              ("set_bulk_note", "cache purged"),
                                              ("bulk_resolve",))),
    "ScheduleState.submit_override": Case(_override),
    "ScheduleState.cancel": Case(_cancel, setup=lambda w: _override_by_admin(w)),
    "PostmortemState.autosave": Case(
        lambda w, who: _after(_draft(w, who), "autosave"), setup=_open_postmortem),
    "PostmortemState.keep_mine": Case(_keep_mine, setup=_open_postmortem),
    "PostmortemState.link_incident": Case(_pm(_link), setup=_second_incident),
    "PostmortemState.unlink_incident": Case(_pm(_unlink), setup=_second_incident_linked),
    "PostmortemState.set_kept": Case(
        _pm(lambda w, who, s: call(s, "set_kept", _timeline_key(w), False)),
        setup=_open_postmortem),
    "PostmortemState.save_note": Case(
        _pm(lambda w, who, s: call(s, "save_note", _timeline_key(w), "the CDN purge")),
        setup=_open_postmortem, quiet=frozenset({"other team responder"})),
    "PostmortemState.add_item": Case(
        _pm(lambda w, who, s: (call(s, "set_item_field", "title", "Runbook for purges"),
                               call(s, "add_item"))[0], forced=True),
        setup=_open_postmortem),
    "PostmortemState.set_item_status": Case(_item_then("set_item_status", "done"),
                                            setup=_with_item),
    "PostmortemState.save_item": Case(_item_then("save_item"), setup=_with_item),
    "PostmortemState.delete_item": Case(_item_then("delete_item"), setup=_with_item),
    "PostmortemState.download_markdown": Case(
        lambda w, who: _download(w, who), setup=_open_postmortem),
    "StatusPagesState.post_notice": Case(_status("post_notice"), team="data"),
    "StatusPagesState.update_notice": Case(_status("update_notice"), team="data",
                                           setup=_posted),
    "StatusPagesState.set_component": Case(_status("set_component"), team="data"),
    "StatusPagesState.clear_component": Case(_status("clear_component"), team="data",
                                             setup=_component_set),
    "ScheduleEditorState.open_pull_request": Case(_pull_request),
    "PolicyEditorState.open_pull_request": Case(_editor_pull_request(
        PolicyEditorState, "/policies/storefront/edit", {"name": "storefront"},
        lambda s: call(s, "set_timeout", 0, "4m"))),
    "WorkflowEditorState.open_pull_request": Case(_editor_pull_request(
        WorkflowEditorState, "/workflows/storefront-updates/edit", {"name": "storefront-updates"},
        lambda s: call(s, "set_description", "Proposed from the builder"))),
}


def _after(s: Any, handler: str) -> Any:
    call(s, handler)
    return s


def _override_by_admin(w: World) -> None:
    s = _override(w, PLATFORM_ADMIN)
    assert s.error == "", s.error


def _download(w: World, who: str) -> Any:
    s = w.postmortem_page(who)
    w.returned = call(s, "download_markdown")
    return s


TEAM_SCOPED = sorted(name for name, rule in HANDLERS.items() if rule in ALLOWED)


def test_every_team_scoped_handler_has_a_case() -> None:
    assert sorted(set(TEAM_SCOPED) - set(CASES)) == []
    assert sorted(set(CASES) - set(TEAM_SCOPED)) == []


def _who(persona: str, team: str = "storefront") -> str:
    return PLATFORM_ADMIN if persona == "platform admin" else TEAMS[team][persona]


def _shown(s: Any) -> str:
    """The refusal as the page shows it: the page's error, or the form's own."""
    return str(s.error or getattr(s, "declare_error", "") or getattr(s, "runbook_problem", ""))


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("handler", TEAM_SCOPED)
def test_each_person_gets_what_the_rule_allows(
    state: Callable[..., Any],
    incident: Callable[..., int],
    web: Engine,
    handler: str,
    persona: str,
) -> None:
    rule, case = HANDLERS[handler], CASES[handler]
    w = World(state, web, incident, iid=incident())
    if case.setup is not None:
        case.setup(w)
    before = fingerprint(web)
    s = case.act(w, _who(persona, case.team))
    after = fingerprint(web)
    allowed = persona in ALLOWED[rule]
    if rule is Rule.POSTMORTEM_READ:  # a read: the file, or the refusal
        assert (w.returned is not None) == allowed, _shown(s)
        assert bool(_shown(s)) != allowed, _shown(s)
        return
    if allowed:
        assert _shown(s) == "", _shown(s)
        assert after != before, "the change was not made"
    else:
        assert after == before, "a refused change reached the database"
        assert _shown(s) or persona in case.quiet, "the refusal is not shown"


def test_a_refusal_is_what_the_matrix_sees(
    state: Callable[..., Any], incident: Callable[..., int], web: Engine
) -> None:
    """The check itself: an observer's acknowledge is refused and changes nothing; the same
    call by the responder changes the incident, its timeline and its audit trail."""
    w = World(state, web, incident, iid=incident())
    before = fingerprint(web)
    s = CASES["IncidentState.acknowledge"].act(w, OBSERVER)
    assert fingerprint(web) == before and "observer" in s.error
    s = CASES["IncidentState.acknowledge"].act(w, RESPONDER)
    assert s.error == ""
    with write_session(web) as session:
        types = list(session.scalars(select(AuditEventRow.type)
                                     .where(AuditEventRow.incident_id == w.iid)))
    assert "incident.acknowledged" in types and fingerprint(web) != before



# --- (b) handlers of the person's own data ----------------------------------------------------

OWNER = "owning responder"  # whose data an id names: RESPONDER's
CODE = "000042"
"""Every verification code sent in these tests."""
SELF_FINGERPRINTED = {
    "contact_methods": "SELECT * FROM contact_methods",
    "notification_rules": "SELECT * FROM notification_rules",
    "notifications": "SELECT * FROM notifications",
    "secret_tokens": "SELECT id, revoked_at FROM secret_tokens",
    "sessions": "SELECT id FROM sessions WHERE revoked_at IS NOT NULL",  # signing in adds one
    "audit_events": "SELECT id, type FROM audit_events",
}


def own_fingerprint(web: Engine) -> dict[str, list[tuple[str, ...]]]:
    with web.connect() as conn:
        return {name: sorted(tuple(str(v) for v in row) for row in conn.execute(text(query)))
                for name, query in SELF_FINGERPRINTED.items()}


@dataclass
class Mine:
    """RESPONDER's contact method, rule and calendar feed, made with their own pages."""

    method: str = ""
    rule: str = ""
    feed: str = ""
    other_method: str = ""
    """A second method, for the rule to name instead."""


def _mine(w: World) -> Mine:
    s: ProfileState = w.page(ProfileState, RESPONDER, "/profile", {})
    call(s, "set_new_kind", "email")
    call(s, "set_new_address", "samuel.backup@northwind.example")
    call(s, "add_contact")
    method = next(c["id"] for c in s.contacts if c["address"] == "samuel.backup@northwind.example")
    call(s, "set_new_address", "samuel.other@northwind.example")
    call(s, "add_contact")
    other = next(c["id"] for c in s.contacts if c["address"] == "samuel.other@northwind.example")
    call(s, "set_new_rule_method", method)
    call(s, "set_new_rule_delay", "5")
    call(s, "add_rule")
    assert s.error == s.rule_error == "", s.error or s.rule_error
    rule = next(r["id"] for r in s.rules if r["method_id"] == method)
    feeds = w.schedule_page(RESPONDER)
    call(feeds, "feed_for_me")
    assert feeds.error == "", feeds.error
    return Mine(method, rule, feeds.feeds[-1]["id"], other)


def _profile(name: str, *args: str, forged_rules: bool = False) -> Callable[[World, str, Mine],
                                                                               Any]:
    """`name` on the profile page, with RESPONDER's ids (`rule` / `method` in `args`); with
    `forged_rules` the browser first lists RESPONDER's rule as its own (`rules` is a client
    var)."""
    def act(w: World, who: str, mine: Mine) -> Any:
        s: ProfileState = w.page(ProfileState, who, "/profile", {})
        if forged_rules and mine.rule not in {r["id"] for r in s.rules}:
            s.rules = [*s.rules, {"id": mine.rule}]
        ids = {"method": mine.method, "rule": mine.rule, "other": mine.other_method}
        if name == "confirm":
            call(s, "set_code", mine.method, CODE)
        call(s, name, *[ids.get(a, a) for a in args])
        return s
    return act


def _own(name: str, *args: str) -> Callable[[World, str, Mine], Any]:
    """`name` on the person's own data: no id to name someone else's."""
    def act(w: World, who: str, mine: Mine) -> Any:
        if name.startswith("ScheduleState."):
            s: Any = w.schedule_page(who)
        elif name.startswith("SessionState."):
            s = w.state(SessionState, who, "/", {})
        else:
            s = w.page(ProfileState, who, "/profile", {})
            call(s, "set_new_kind", "email")
            call(s, "set_new_address", f"backup.{who}")
            if s.contacts:
                call(s, "set_new_rule_method", s.contacts[-1]["id"])
        call(s, name.split(".")[1], *args)
        return s
    return act


def _own_method(w: World, who: str, rule: bool = False) -> None:
    """A contact method of the person's own (and a rule naming it), before the handler runs."""
    s: ProfileState = w.page(ProfileState, who, "/profile", {})
    call(s, "set_new_kind", "email")
    call(s, "set_new_address", f"second.{who}")
    call(s, "add_contact")
    if rule:
        call(s, "set_new_rule_method", s.contacts[-1]["id"])
        call(s, "add_rule")
    assert s.error == s.rule_error == "", s.error or s.rule_error


def _verified_method(w: World, who: str) -> None:
    """A verified contact method of the person's own (verified as its code would, in the
    database: the code itself is only in the message sent)."""
    _own_method(w, who)
    with write_session(w.web) as session:
        row = session.scalar(select(ContactMethodRow).join(UserRow)
                             .where(UserRow.email == who).order_by(ContactMethodRow.id.desc()))
        assert row is not None
        row.verified_at = NOW


def _push(name: str) -> Callable[[World, str, Mine], Any]:
    """`name` on the push panel, whose method id (a client var) the browser sets to
    RESPONDER's."""
    def act(w: World, who: str, mine: Mine) -> Any:
        s: PushState = w.page(PushState, who, "/profile", {})
        s.method_id = mine.method
        call(s, "set_push_code", CODE)
        call(s, name)
        return s
    return act


def _after_arg(s: Any, handler: str, arg: str) -> Any:
    call(s, handler, arg)
    return s


EVERYONE = frozenset(PERSONAS)


@dataclass(frozen=True)
class SelfCase:
    act: Callable[[World, str, Mine], Any]
    allowed: frozenset[str]
    """Who may: everyone on their own data; on RESPONDER's, RESPONDER (and platform admins
    where the contact rules let them edit anyone's)."""
    prepare: Callable[[World, str], None] | None = None
    """Run as the person before the handler: their own data for it to change."""


SELF_CASES: dict[str, SelfCase] = {
    "ProfileState.remove": SelfCase(_profile("remove", "method"), frozenset({OWNER})),
    "ProfileState.send_code": SelfCase(_profile("send_code", "method"), frozenset({OWNER})),
    "ProfileState.confirm": SelfCase(_profile("confirm", "method"), frozenset({OWNER})),
    "PushState.confirm_code": SelfCase(_push("confirm_code"), frozenset({OWNER})),
    "PushState.send_again": SelfCase(_push("send_again"), frozenset({OWNER})),
    "ProfileState.set_rule_delay": SelfCase(
        _profile("set_rule_delay", "rule", "15", forged_rules=True),
        frozenset({OWNER, "platform admin"})),
    "ProfileState.set_rule_method": SelfCase(
        _profile("set_rule_method", "rule", "other", forged_rules=True),
        frozenset({OWNER, "platform admin"})),
    "ProfileState.remove_rule": SelfCase(
        _profile("remove_rule", "rule", forged_rules=True), frozenset({OWNER, "platform admin"})),
    "ScheduleState.revoke_feed": SelfCase(
        lambda w, who, mine: _after_arg(w.schedule_page(who), "revoke_feed", mine.feed),
        frozenset({OWNER, "platform admin"})),  # as an admin of any team (payments)
    "ProfileState.add_contact": SelfCase(_own("ProfileState.add_contact"), EVERYONE),
    "ProfileState.add_rule": SelfCase(_own("ProfileState.add_rule"), EVERYONE,
                                      prepare=_own_method),
    "ProfileState.use_defaults": SelfCase(_own("ProfileState.use_defaults", "high"), EVERYONE,
                                          prepare=lambda w, who: _own_method(w, who, rule=True)),
    "ScheduleState.feed_for_me": SelfCase(_own("ScheduleState.feed_for_me"), EVERYONE),
    "ScheduleState.feed_for_schedule": SelfCase(_own("ScheduleState.feed_for_schedule"),
                                                EVERYONE),
    "SessionState.sign_out": SelfCase(_own("SessionState.sign_out"), EVERYONE),
    "ProfileState.test_page": SelfCase(_own("ProfileState.test_page"), EVERYONE,
                                       prepare=_verified_method),
}
NOT_IN_MATRIX = {
    **{f"PushState.{name}": "a browser's push subscription: tests/web/test_push_state.py"
       for name in ("enable", "subscribed", "code_arrived", "disable", "unsubscribed")},
}
"""SELF handlers checked elsewhere, each with what it needs that a call here does not give."""


SELF_HANDLERS = sorted(name for name, rule in HANDLERS.items() if rule is Rule.SELF)


def test_every_self_handler_has_a_case() -> None:
    assert sorted(set(SELF_HANDLERS) - set(SELF_CASES) - set(NOT_IN_MATRIX)) == []
    assert sorted((set(SELF_CASES) | set(NOT_IN_MATRIX)) - set(SELF_HANDLERS)) == []


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("handler", sorted(SELF_CASES))
def test_each_person_changes_only_their_own_data(
    state: Callable[..., Any],
    incident: Callable[..., int],
    web: Engine,
    handler: str,
    persona: str,
) -> None:
    case, who = SELF_CASES[handler], _who(persona)
    w = World(state, web, incident)
    with patch.object(secrets, "randbelow", lambda _: int(CODE)):  # what the code is made of
        mine = _mine(w)
        if case.prepare is not None:
            case.prepare(w, who)
    before = own_fingerprint(web)
    with patch.object(context, "now", lambda: NOW + timedelta(minutes=5)):  # codes may resend
        s = case.act(w, who, mine)
    after = own_fingerprint(web)
    shown = _shown(s) or getattr(s, "rule_error", "")
    if persona in case.allowed:
        assert shown == "", shown
        assert after != before, "the change was not made"
    else:
        assert after == before, "someone else's data changed"
        assert shown, "the refusal is not shown"
