"""The review panel every config editor shares: the YAML, its problems, the plan, and the
ways out of the app (copy the YAML, or open a pull request).

An editor state mixes this in next to `SessionState` and provides four hooks: the kind it edits,
the name of the object being edited (None for a new one), the document as built so far, and the
teams it belongs to (for who may open a pull request). It calls `_run_review()` after each
change. Nothing here writes config to the database: a pull request is the only way out besides
the clipboard, and the server re-reviews the document before opening one.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import reflex as rx

from oncall.config.configset import ConfigSet
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor
from oncall.reconcile.state import read_current
from oncall.web import context
from oncall.web.editor.access import audit_pull_request, may_edit_config, require_edit_config
from oncall.web.editor.github import (
    GitHubError,
    Proposal,
    PullRequest,
    branch_name,
    open_pull_request,
)
from oncall.web.editor.review import Review, annotated_lines, plan_rows, review

T = TypeVar("T")


def proposal_for(r: Review, actor: Actor, branch: str) -> Proposal:
    """The pull request's branch, file, title and description for a reviewed document."""
    if r.original is None:
        title = f"Add {r.kind} {r.name}"
    elif r.original != r.name:
        title = f"Rename {r.kind} {r.original} to {r.name}"
    else:
        title = f"Update {r.kind} {r.name}"
    body = "\n".join([
        f"Proposed from the oncall web app's editor by {actor.name}.",
        "",
        f"File: `{r.path}`",
        "",
        "`oncall plan` against the config applied when it was proposed:",
        "",
        "```diff",
        *r.plan,
        "```",
    ])
    return Proposal(path=r.path, text=r.file_text, title=title, body=body, branch=branch)


class ReviewMixin(rx.State, mixin=True):
    original: str = ""
    """The object being edited as the applied config names it; "" for a new one."""
    review_yaml: str = ""
    review_path: str = ""
    review_lines: list[dict[str, str]] = []  # noqa: RUF012
    review_elsewhere: list[str] = []  # noqa: RUF012
    """Problems in other files that the edit causes (or that were there already)."""
    review_plan: list[dict[str, str]] = []  # noqa: RUF012
    review_ok: bool = False
    review_errors: int = 0
    review_warnings: int = 0
    pr_enabled: bool = False
    """A repository and a token are configured: the "Open pull request" button can show."""
    can_open_pr: bool = False
    """Hides the button from those the server would refuse; the server checks again."""
    pr_url: str = ""
    pr_number: str = ""
    pr_branch: str = ""
    pr_branch_url: str = ""
    pr_error: str = ""

    if TYPE_CHECKING:  # provided by SessionState
        error: str
        notice: str

        def _act(self, action: Callable[[Actor], T]) -> T | None: ...
        def _remembered_actor(self) -> Actor | None: ...

    # --- what an editor provides ----------------------------------------------------------

    def _editor_kind(self) -> str:
        raise NotImplementedError

    def _editor_original(self) -> str | None:
        """The name of the object being edited as the config has it; None for a new one."""
        return self.original or None

    def _editor_document(self) -> dict[str, Any]:
        raise NotImplementedError

    def _editor_teams(self) -> list[str]:
        """The teams whose admins may propose this change (before and after the edit)."""
        raise NotImplementedError

    def _route_name(self) -> str:
        """The edited object's name from the page's route (`[name]`)."""
        raw = self.router.page.params.get("name", "") or ""
        return str(raw[0] if isinstance(raw, list) else raw)

    def _config(self) -> ConfigSet:
        with context.read_session() as session:
            return context.config(session)

    # --- the review -----------------------------------------------------------------------

    def _compute_review(self) -> Review:
        settings = context.web_settings()
        with context.read_session() as session:
            applied = read_current(session)
        return review(self._editor_kind(), self._editor_original(), self._editor_document(),
                      applied, config_dir=settings.config_dir, now=context.now())

    def _run_review(self) -> Review:
        """Review the document as it stands and show the result (called after every edit)."""
        r = self._compute_review()
        self.review_yaml, self.review_path, self.review_ok = r.yaml, r.path, r.ok
        self.review_lines = annotated_lines(r)
        self.review_elsewhere = [p.text for p in r.problems if not p.in_document]
        self.review_plan = plan_rows(r)
        self.review_errors = sum(1 for p in r.problems if p.severity == "error")
        self.review_warnings = len(r.problems) - self.review_errors
        settings = context.web_settings()
        self.pr_enabled = settings.github_enabled
        actor = self._remembered_actor()
        self.can_open_pr = actor is not None and may_edit_config(actor, self._editor_teams())
        return r

    def _clear_pull_request(self) -> None:
        self.pr_url = self.pr_number = self.pr_branch = self.pr_branch_url = self.pr_error = ""

    @rx.event
    def copy_yaml(self) -> Any:
        self.notice = "YAML copied to the clipboard."
        return rx.set_clipboard(self.review_yaml)

    @rx.event
    def open_pull_request(self) -> None:
        self._clear_pull_request()
        settings = context.web_settings()

        def run(actor: Actor) -> PullRequest | None:
            r = self._compute_review()  # never what the browser says the review was
            require_edit_config(actor, self._editor_teams(), f"{r.kind} {r.name or '(new)'}")
            if not r.ok:
                raise ValueError("Fix the problems shown in the review first.")
            now = context.now()
            branch = branch_name(r.kind, r.name, now, secrets.token_hex(3))
            proposal = proposal_for(r, actor, branch)
            try:
                pull = open_pull_request(settings, proposal)
            except GitHubError as exc:
                self.pr_error = str(exc)
                return None
            with write_session(context.engine()) as session:
                audit_pull_request(session, actor=actor, kind=r.kind, name=r.name, now=now,
                                   data={"path": r.path, "branch": pull.branch,
                                         "pull_request": pull.url, "number": pull.number,
                                         "repository": settings.github_repository})
            return pull

        pull = self._act(run)
        if self.error:
            self.pr_error = self.error
        if pull is None:
            return
        self.pr_url, self.pr_number = pull.url, str(pull.number)
        self.pr_branch, self.pr_branch_url = pull.branch, pull.branch_url
