"""Opening a pull request through GitHub's REST API, against the local stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from oncall.testing.peers.github import GitHubPeer
from oncall.web.editor.github import (
    GitHubError,
    Proposal,
    branch_name,
    open_pull_request,
)
from oncall.web.settings import WebSettings


@pytest.fixture
def github() -> Iterator[GitHubPeer]:
    with GitHubPeer() as peer:
        yield peer


def _proposal(path: str = "schedules/payments.yaml", text: str = "kind: Schedule\n") -> Proposal:
    return Proposal(path, text, "Update Schedule payments-secondary", "the plan",
                    branch_name("Schedule", "payments-secondary", datetime(2026, 3, 10, 12)))


def test_branch_commit_and_pull_request(github: GitHubPeer) -> None:
    github.seed("schedules/payments.yaml", "old\n")
    base_head = github.branches["main"]
    pull = open_pull_request(WebSettings.from_env(github.env()), _proposal())
    assert pull.branch == "oncall/schedule-payments-secondary-20260310-120000"
    assert pull.url == f"{github.url}/northwind/oncall-config/pull/1" and pull.number == 1
    assert pull.branch_url == f"{github.url}/northwind/oncall-config/tree/{pull.branch}"
    assert github.file(pull.branch, "schedules/payments.yaml") == "kind: Schedule\n"
    assert github.file("main", "schedules/payments.yaml") == "old\n"
    assert github.branches["main"] == base_head
    [pr] = github.pulls
    assert (pr.title, pr.head, pr.base, pr.body) == (
        "Update Schedule payments-secondary", pull.branch, "main", "the plan")
    calls = [(r.method, r.path) for r in github.requests]
    repo = "/repos/northwind/oncall-config"
    assert calls == [
        ("GET", f"{repo}/git/ref/heads/main"),
        ("POST", f"{repo}/git/refs"),
        ("GET", f"{repo}/contents/schedules/payments.yaml"),
        ("PUT", f"{repo}/contents/schedules/payments.yaml"),
        ("POST", f"{repo}/pulls"),
    ]
    assert github.requests[3].json()["sha"]  # an update names the blob it replaces
    assert all(r.header("Authorization") == f"Bearer {github.token}" for r in github.requests)


def test_a_new_file_is_created(github: GitHubPeer) -> None:
    pull = open_pull_request(WebSettings.from_env(github.env()),
                             _proposal("schedules/new.yaml", "new\n"))
    assert github.file(pull.branch, "schedules/new.yaml") == "new\n"
    assert "sha" not in github.requests[3].json()


@pytest.mark.parametrize(("env", "message"), [
    ({"ONCALL_GITHUB_TOKEN": "wrong"}, "check ONCALL_GITHUB_TOKEN"),
    ({"ONCALL_GITHUB_REPOSITORY": "northwind/elsewhere"}, "cannot write to northwind/elsewhere"),
    ({"ONCALL_GITHUB_BASE_BRANCH": "trunk"}, "read the head of branch trunk (404"),
    ({"ONCALL_GITHUB_API_URL": "http://127.0.0.1:9"}, "did not answer"),
    ({"ONCALL_GITHUB_TOKEN": ""}, "not set up"),
])
def test_failures_become_clear_messages(
    github: GitHubPeer, env: dict[str, str], message: str
) -> None:
    settings = WebSettings.from_env({**github.env(), **env})
    with pytest.raises(GitHubError) as caught:
        open_pull_request(settings, _proposal())
    assert message in str(caught.value)
    assert github.pulls == []


def test_an_outage_midway(github: GitHubPeer) -> None:
    settings = WebSettings.from_env(github.env())
    github.fail(502, '{"message": "Server Error"}')
    with pytest.raises(GitHubError, match=r"read the head of branch main \(502: Server Error\)"):
        open_pull_request(settings, _proposal())


def test_settings() -> None:
    s = WebSettings.from_env({})
    assert (s.github_api_url, s.github_base_branch, s.github_enabled, s.config_dir) == (
        "https://api.github.com", "main", False, ".")
    with pytest.raises(ValueError, match="owner/name"):
        WebSettings.from_env({"ONCALL_GITHUB_REPOSITORY": "just-a-name"})
