"""Proposing an edited config file as a GitHub pull request, through the REST API.

Config changes go through review in git, never straight into the database: the editors commit
the file on a new branch made from the base branch's head and open a pull request, which the
repo's CI (`oncall validate`, `oncall plan`) and its reviewers take from there. Every failure
becomes a `GitHubError` whose message says what to fix.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from oncall.web.settings import WebSettings

TIMEOUT = 15.0
API_VERSION = "2022-11-28"


class GitHubError(Exception):
    """A pull request could not be opened; the message is for the person who asked."""


@dataclass(frozen=True)
class PullRequest:
    number: int
    url: str
    branch: str
    branch_url: str


@dataclass(frozen=True)
class Proposal:
    path: str
    text: str
    title: str
    body: str
    branch: str


def branch_name(kind: str, name: str, now: datetime, suffix: str = "") -> str:
    """A new branch per proposal: `oncall/schedule-payments-primary-20260105-091500-1a2b3c`
    (`suffix` keeps two proposals of the same second apart)."""
    slug = re.sub(r"[^a-z0-9-]+", "-", f"{kind}-{name}".lower()).strip("-")
    tail = f"-{suffix}" if suffix else ""
    return f"oncall/{slug}-{now:%Y%m%d-%H%M%S}{tail}"


def _explain(response: httpx.Response, doing: str, settings: WebSettings) -> GitHubError:
    try:
        message = str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        message = ""
    detail = f": {message}" if message else ""
    status = response.status_code
    if status == 401:
        hint = "GitHub refused the token: check ONCALL_GITHUB_TOKEN"
    elif status in (403, 404):
        hint = (f"the token cannot write to {settings.github_repository} (or it does not "
                "exist): it needs the contents and pull requests permissions")
    elif status == 409:
        hint = "the file changed on GitHub meanwhile: try again"
    else:
        hint = "GitHub refused it"
    return GitHubError(f"Could not {doing} ({status}{detail}): {hint}.")


class _Client:
    def __init__(self, settings: WebSettings, transport: httpx.BaseTransport | None) -> None:
        if not settings.github_enabled:
            raise GitHubError("Pull requests are not set up: set ONCALL_GITHUB_REPOSITORY and "
                              "ONCALL_GITHUB_TOKEN.")
        self.settings = settings
        self.base = f"{settings.github_api_url}/repos/{settings.github_repository}"
        self.http = httpx.Client(
            timeout=TIMEOUT,
            transport=transport,
            headers={
                "Authorization": f"Bearer {settings.github_token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "oncall-config-editor",
            },
        )

    def call(self, method: str, path: str, doing: str, *, ok: tuple[int, ...] = (200, 201),
             **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, f"{self.base}/{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(f"Could not {doing}: GitHub at {self.settings.github_api_url} "
                              f"did not answer ({type(exc).__name__}).") from None
        if response.status_code not in ok:
            raise _explain(response, doing, self.settings)
        return response

    def close(self) -> None:
        self.http.close()


def open_pull_request(settings: WebSettings, proposal: Proposal, *,
                      transport: httpx.BaseTransport | None = None) -> PullRequest:
    """Branch from the base branch's head, commit the file there, open the pull request."""
    client = _Client(settings, transport)
    base = settings.github_base_branch
    try:
        head = client.call("GET", f"git/ref/heads/{quote(base, safe='/')}",
                           f"read the head of branch {base}").json()
        client.call("POST", "git/refs", f"create branch {proposal.branch}",
                    json={"ref": f"refs/heads/{proposal.branch}", "sha": head["object"]["sha"]})
        where = f"contents/{quote(proposal.path)}"
        existing = client.call("GET", where, f"read {proposal.path}", ok=(200, 404),
                               params={"ref": proposal.branch})
        put: dict[str, Any] = {
            "message": proposal.title,
            "content": base64.b64encode(proposal.text.encode()).decode(),
            "branch": proposal.branch,
        }
        if existing.status_code == 200:
            put["sha"] = existing.json()["sha"]
        client.call("PUT", where, f"commit {proposal.path}", json=put)
        pull = client.call("POST", "pulls", "open the pull request", json={
            "title": proposal.title, "head": proposal.branch, "base": base,
            "body": proposal.body,
        }).json()
        repo_url = str(pull.get("head", {}).get("repo", {}).get("html_url") or "")
        return PullRequest(
            number=int(pull["number"]),
            url=str(pull["html_url"]),
            branch=proposal.branch,
            branch_url=f"{repo_url}/tree/{proposal.branch}" if repo_url else "",
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GitHubError(f"GitHub answered something unexpected ({exc!r}).") from None
    finally:
        client.close()
