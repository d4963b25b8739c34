"""The schedule editor's handlers: building a schedule, the live preview and review, loading an
existing one, and opening a pull request (only for those who may, always audited)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from oncall.db.engine import write_session
from oncall.db.models import AuditEventRow
from oncall.testing import golden
from oncall.testing.peers.github import GitHubPeer
from oncall.web import context
from oncall.web.settings import WebSettings
from oncall.web.state.schedule_editor import ScheduleEditorState

from .conftest import ADMIN, OBSERVER, RESPONDER, call

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "editor"
PLATFORM_ADMIN = "priya.raman@northwind.example"
PAYMENTS_ADMIN = "marcus.bell@northwind.example"  # a responder of payments: not its admin


@pytest.fixture
def github(web: Engine) -> Iterator[GitHubPeer]:
    with GitHubPeer() as peer:
        settings = dataclasses.replace(WebSettings.from_env(peer.env()), config_dir=str(ROOT))
        context.use(web=settings)
        yield peer


def _new(state: Callable[..., Any], who: str) -> ScheduleEditorState:
    s: ScheduleEditorState = state(ScheduleEditorState, who, "/schedules/new")
    call(s, "load")
    return s


def _edit(state: Callable[..., Any], who: str, name: str) -> ScheduleEditorState:
    s: ScheduleEditorState = state(ScheduleEditorState, who, f"/schedules/{name}/edit",
                                   {"schedule": name})
    call(s, "load")
    return s


def _build(s: ScheduleEditorState) -> None:
    """A weekly 24x7 layer, and office hours on weekdays in a daily rotation."""
    call(s, "set_field", "name", "storefront-tertiary")
    call(s, "set_field", "timezone", "Europe/London")
    call(s, "set_layer_field", 0, "name", "weekly")
    call(s, "set_layer_field", 0, "start_date", "2026-03-02")
    for query in ("samuel", "grace"):
        call(s, "search_members", 0, query)
        call(s, "add_member", 0, s.member_matches[0][0]["email"])
    call(s, "add_layer")
    call(s, "set_layer_field", 1, "name", "office-hours")
    call(s, "set_layer_field", 1, "type", "daily")
    call(s, "set_layer_field", 1, "start_date", "2026-03-02")
    call(s, "set_layer_field", 1, "handoff", "08:00")
    for email in ("noah.petit@northwind.example", "isla.mcleod@northwind.example"):
        call(s, "add_member", 1, email)
    call(s, "add_window", 1)
    call(s, "set_window_field", 1, 0, "from", "08:00")
    call(s, "set_window_field", 1, 0, "to", "18:00")


def test_a_new_schedule_is_built_previewed_and_reviewed(state: Callable[..., Any]) -> None:
    s = _new(state, ADMIN)
    assert s.fields["team"] == "storefront"  # the team the person is admin of
    assert s.preview_rows == [] and not s.review_ok  # no members yet
    _build(s)
    assert s.review_ok, s.review_lines
    golden.check(GOLDEN / "schedule-new.yaml", s.review_yaml)
    assert s.review_path == "schedules/storefront-tertiary.yaml"
    assert s.review_plan[0]["text"] == (
        "+ create Schedule storefront-tertiary  (schedules/storefront-tertiary.yaml:1)")
    assert s.review_plan[0]["mark"] == "+"
    rows = s.preview_rows
    assert s.preview_from == "2026-03-10T12:00:00Z" and s.preview_to == "2026-03-24T12:00:00Z"
    assert rows[0]["start"] == "2026-03-10 12:00 GMT"
    assert rows[0] == {"start": "2026-03-10 12:00 GMT", "end": "2026-03-10 18:00 GMT",
                       "who": "noah.petit@northwind.example", "layer": "office-hours",
                       "line": "2026-03-10 12:00 GMT  2026-03-10 18:00 GMT  "
                               "noah.petit@northwind.example  office-hours"}
    weekend = next(r for r in rows if r["start"] == "2026-03-13 18:00 GMT")  # weekdays only
    assert (weekend["end"], weekend["who"], weekend["layer"]) == (
        "2026-03-16 08:00 GMT", "grace.mwangi@northwind.example", "weekly")


def test_a_bad_entry_is_shown_at_its_line(state: Callable[..., Any]) -> None:
    s = _new(state, ADMIN)
    _build(s)
    for day in ("mon", "tue", "wed", "thu", "fri"):
        call(s, "toggle_day", 1, 0, day, False)
    assert not s.review_ok and s.review_errors == 1
    [bad] = [r for r in s.review_lines if r["severity"] == "error"]
    assert bad["text"].strip().startswith("- {days: [], from:")
    assert "at least 1 item" in bad["problem"]
    assert s.preview_rows == [] and s.review_plan == []
    call(s, "toggle_day", 1, 0, "sat", True)
    assert s.review_ok and "days: [sat]" in s.review_yaml


def test_members_are_ordered_and_removed(state: Callable[..., Any]) -> None:
    s = _new(state, ADMIN)
    _build(s)
    call(s, "move_member_up", 0, 1)
    assert s.layer_members[0] == ["grace.mwangi@northwind.example",
                                  "samuel.osei@northwind.example"]
    call(s, "search_members", 0, "grace")
    assert s.member_matches[0] == []  # already in the layer
    call(s, "add_member", 0, "nobody@elsewhere.example")  # not a person of the config
    call(s, "remove_member", 0, 0)
    assert s.layer_members[0] == ["samuel.osei@northwind.example"]
    call(s, "remove_layer", 1)
    assert len(s.layers) == len(s.layer_members) == len(s.layer_windows) == 1


def test_an_existing_schedule_loads_as_written(state: Callable[..., Any]) -> None:
    s = _edit(state, OBSERVER, "payments-primary")
    assert s.review_ok and s.review_plan[-1]["text"].startswith("No changes")
    golden.check(GOLDEN / "schedule-payments-primary.yaml", s.review_yaml)
    assert s.review_path == "schedules/payments.yaml"
    assert [x["type"] for x in s.layers] == ["weekly", "daily"]
    assert s.layer_windows[1] == [{"days": "mon,tue,wed,thu,fri", "from": "09:00",
                                   "to": "17:00"}]
    call(s, "set_layer_field", 0, "handoff", "10:00")
    assert s.review_plan[0]["text"].startswith("~ update Schedule payments-primary")
    assert '~ layers[0].rotation.start: "2026-01-05T09:00" -> "2026-01-05T10:00"' in [
        r["text"].strip() for r in s.review_plan]


def test_an_unknown_schedule(state: Callable[..., Any]) -> None:
    s = _edit(state, OBSERVER, "nope")
    assert s.missing and "not in the config repo" in s.error


def test_copy_yaml(state: Callable[..., Any]) -> None:
    s = _edit(state, OBSERVER, "payments-secondary")
    event = call(s, "copy_yaml")
    assert "kind: Schedule" in str(event) and s.notice == "YAML copied to the clipboard."


def test_without_github_there_is_no_pull_request(state: Callable[..., Any]) -> None:
    s = _edit(state, PLATFORM_ADMIN, "payments-secondary")
    assert not s.pr_enabled and s.can_open_pr
    call(s, "open_pull_request")
    assert "not set up" in s.pr_error and s.pr_url == ""


def _audits(web: Engine) -> list[AuditEventRow]:
    with write_session(web) as session:
        return list(session.scalars(select(AuditEventRow).where(
            AuditEventRow.type == "config.pull_request_opened")))


@pytest.mark.parametrize(("who", "allowed"), [
    (PLATFORM_ADMIN, True),
    (ADMIN, True),  # storefront's admin, on a storefront schedule
    (RESPONDER, False),
    (OBSERVER, False),
    (PAYMENTS_ADMIN, False),
])
def test_who_may_open_a_pull_request(
    state: Callable[..., Any], github: GitHubPeer, web: Engine, who: str, allowed: bool
) -> None:
    s = _edit(state, who, "storefront-secondary")
    assert s.pr_enabled and s.can_open_pr == allowed
    call(s, "set_field", "description", "Reviewed in the editor")
    call(s, "open_pull_request")
    if not allowed:
        assert "may not open a pull request" in s.error and s.pr_url == ""
        assert github.pulls == [] and _audits(web) == []
        return
    assert s.error == "" and s.pr_number == "1", s.error
    assert s.pr_url == f"{github.url}/northwind/oncall-config/pull/1"
    assert s.pr_branch.startswith("oncall/schedule-storefront-secondary-")
    [pull] = github.pulls
    assert pull.title == "Update Schedule storefront-secondary"
    assert "~ update Schedule storefront-secondary" in pull.body
    text = github.file(s.pr_branch, "schedules/storefront.yaml")
    assert text is not None and "description: Reviewed in the editor" in text
    assert "name: storefront-primary" in text  # the file's other schedule is kept
    [audit] = _audits(web)
    assert audit.actor == f"user:{who}" and audit.subject_name == "storefront-secondary"
    assert audit.data is not None and audit.data["pull_request"] == s.pr_url


def test_moving_a_schedule_to_another_team_needs_both_admins(
    state: Callable[..., Any], github: GitHubPeer
) -> None:
    s = _edit(state, ADMIN, "storefront-secondary")
    call(s, "set_field", "team", "payments")
    assert not s.can_open_pr
    call(s, "open_pull_request")
    assert "admins of payments and storefront" in s.error and github.pulls == []


def test_an_invalid_document_is_not_proposed(
    state: Callable[..., Any], github: GitHubPeer
) -> None:
    s = _edit(state, PLATFORM_ADMIN, "storefront-secondary")
    call(s, "set_field", "timezone", "Mars/Olympus")
    call(s, "open_pull_request")
    assert "Fix the problems" in s.pr_error and github.pulls == []


def test_a_github_failure_is_explained(state: Callable[..., Any], github: GitHubPeer,
                                       web: Engine) -> None:
    s = _edit(state, PLATFORM_ADMIN, "storefront-secondary")
    github.fail(401, '{"message": "Bad credentials"}')
    call(s, "open_pull_request")
    assert "check ONCALL_GITHUB_TOKEN" in s.pr_error and _audits(web) == []
