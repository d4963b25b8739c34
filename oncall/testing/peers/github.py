"""A stand-in for the part of GitHub's REST API the config editors use.

It holds one repository: branches (name → head SHA), the files committed on each branch, and
the pull requests opened. It answers the five calls of `oncall.web.editor.github` the way
GitHub does (status codes, the fields read back, GitHub's error shape), checks the bearer
token, and records every request, so a test can read what was committed and proposed.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from oncall.testing.peers.base import Peer, RecordedRequest, Reply

TOKEN = "ghp_oncall-test-token"


@dataclass
class PullRequest:
    number: int
    title: str
    head: str
    base: str
    body: str


@dataclass
class _Repo:
    branches: dict[str, str] = field(default_factory=dict)
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    """branch → path → text."""
    pulls: list[PullRequest] = field(default_factory=list)


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def _error(message: str, status: int) -> Reply:
    return Reply.json({"message": message,
                       "documentation_url": "https://docs.github.com/rest"}, status=status)


class GitHubPeer(Peer):
    name = "github"

    def __init__(self, repository: str = "northwind/oncall-config", token: str = TOKEN,
                 base_branch: str = "main", host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.repository, self.token, self.base_branch = repository, token, base_branch
        self._repo = _Repo(branches={base_branch: _sha("initial commit")},
                           files={base_branch: {}})
        self._numbers = itertools.count(1)
        self._state = threading.Lock()

    def env(self) -> dict[str, str]:
        return {
            "ONCALL_GITHUB_API_URL": self.url,
            "ONCALL_GITHUB_REPOSITORY": self.repository,
            "ONCALL_GITHUB_TOKEN": self.token,
            "ONCALL_GITHUB_BASE_BRANCH": self.base_branch,
        }

    def seed(self, path: str, text: str) -> None:
        """A file already committed on the base branch (the PR then updates it)."""
        with self._state:
            self._repo.files[self.base_branch][path] = text
            self._repo.branches[self.base_branch] = _sha(f"seed:{path}:{text}")

    # what was received -----------------------------------------------------------------------
    def file(self, branch: str, path: str) -> str | None:
        with self._state:
            return self._repo.files.get(branch, {}).get(path)

    @property
    def pulls(self) -> list[PullRequest]:
        with self._state:
            return list(self._repo.pulls)

    @property
    def branches(self) -> dict[str, str]:
        with self._state:
            return dict(self._repo.branches)

    def html_url(self) -> str:
        return f"{self.url}/{self.repository}"

    # the API ---------------------------------------------------------------------------------
    def handle(self, request: RecordedRequest) -> Reply:
        if request.header("Authorization") != f"Bearer {self.token}":
            return _error("Bad credentials", 401)
        prefix = f"/repos/{self.repository}/"
        if not request.path.startswith(prefix):
            return _error("Not Found", 404)
        rest = request.path[len(prefix):]
        with self._state:
            if request.method == "GET" and rest.startswith("git/ref/heads/"):
                return self._get_ref(unquote(rest[len("git/ref/heads/"):]))
            if request.method == "POST" and rest == "git/refs":
                return self._create_ref(request.json())
            match = re.fullmatch(r"contents/(.+)", rest)
            if match and request.method == "GET":
                ref = request.query.get("ref", [self.base_branch])[-1]
                return self._get_file(unquote(match.group(1)), ref)
            if match and request.method == "PUT":
                return self._put_file(unquote(match.group(1)), request.json())
            if request.method == "POST" and rest == "pulls":
                return self._open_pull(request.json())
        return _error("Not Found", 404)

    def _get_ref(self, branch: str) -> Reply:
        sha = self._repo.branches.get(branch)
        if sha is None:
            return _error("Not Found", 404)
        return Reply.json({"ref": f"refs/heads/{branch}", "object": {"sha": sha,
                                                                     "type": "commit"}})

    def _create_ref(self, body: Any) -> Reply:
        ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
        if not ref.startswith("refs/heads/") or sha not in self._repo.branches.values():
            return _error("Invalid request.", 422)
        branch = ref[len("refs/heads/"):]
        if branch in self._repo.branches:
            return _error("Reference already exists", 422)
        source = next(b for b, s in self._repo.branches.items() if s == sha)
        self._repo.branches[branch] = sha
        self._repo.files[branch] = dict(self._repo.files.get(source, {}))
        return Reply.json({"ref": ref, "object": {"sha": sha, "type": "commit"}}, status=201)

    def _get_file(self, path: str, ref: str) -> Reply:
        text = self._repo.files.get(ref, {}).get(path)
        if text is None:
            return _error("Not Found", 404)
        return Reply.json({"type": "file", "path": path, "sha": _sha(text),
                           "content": base64.b64encode(text.encode()).decode()})

    def _put_file(self, path: str, body: Any) -> Reply:
        branch = str(body.get("branch") or self.base_branch)
        files = self._repo.files.get(branch)
        if files is None:
            return _error("Branch not found", 404)
        old = files.get(path)
        if old is not None and body.get("sha") != _sha(old):
            return _error(f"{path} does not match {body.get('sha')}", 409)
        if old is None and body.get("sha"):
            return _error("sha given for a file that does not exist", 422)
        if not body.get("message"):
            return _error("Invalid request: message is required", 422)
        text = base64.b64decode(str(body.get("content", ""))).decode()
        files[path] = text
        commit = _sha(f"{branch}:{path}:{text}")
        self._repo.branches[branch] = commit
        return Reply.json({"content": {"path": path, "sha": _sha(text)},
                           "commit": {"sha": commit}}, status=200 if old else 201)

    def _open_pull(self, body: Any) -> Reply:
        head, base = str(body.get("head", "")), str(body.get("base", ""))
        if head not in self._repo.branches or base not in self._repo.branches:
            return _error("Validation Failed: head or base does not exist", 422)
        if self._repo.branches[head] == self._repo.branches[base]:
            return _error(f"Validation Failed: No commits between {base} and {head}", 422)
        pull = PullRequest(next(self._numbers), str(body.get("title", "")), head, base,
                           str(body.get("body", "")))
        self._repo.pulls.append(pull)
        return Reply.json({
            "number": pull.number,
            "html_url": f"{self.html_url()}/pull/{pull.number}",
            "head": {"ref": head, "repo": {"html_url": self.html_url()}},
            "base": {"ref": base},
        }, status=201)
