"""Following a git branch: fetch, reset a private work tree to the head, validate, apply.

A head that does not validate (or whose apply is refused) is logged and recorded once as a failed
reconcile run; the database keeps the last good config. A valid head is re-applied on every poll,
which is a no-op unless something drifted, so drift is reverted within one interval.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from oncall.config.loader import ConfigDirError, load
from oncall.reconcile.apply import ApplyRefused, Origin, apply_config, record_failure

log = logging.getLogger("oncall.reconcile")

TRACKING_REF = "refs/oncall/head"


class GitError(Exception):
    pass


def git(workdir: Path, *args: str, timeout: float = 120) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(workdir), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0]}: {exc}") from exc
    if done.returncode != 0:
        message = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise GitError(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return done.stdout.strip()


@dataclass(frozen=True)
class PollResult:
    head: str | None
    outcome: str  # applied, unchanged, invalid, refused, failed
    message: str = ""


class Follower:
    def __init__(
        self,
        engine: Engine,
        repo: str,
        branch: str,
        workdir: Path,
        *,
        actor: str = "reconciler",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.repo = repo
        self.branch = branch
        self.workdir = workdir
        self.actor = actor
        self.clock = clock
        self._reported: set[tuple[str | None, str]] = set()
        self._invalid_head: str | None = None

    @property
    def source(self) -> str:
        return f"{self.repo}#{self.branch}"

    def sync(self) -> str:
        """Fetch the branch and make the work tree exactly its head; returns the commit."""
        if not (self.workdir / ".git").exists():
            self.workdir.mkdir(parents=True, exist_ok=True)
            git(self.workdir, "init", "--quiet")
        git(
            self.workdir,
            "fetch",
            "--quiet",
            "--no-tags",
            self.repo,
            f"+refs/heads/{self.branch}:{TRACKING_REF}",
        )
        head = git(self.workdir, "rev-parse", "--verify", f"{TRACKING_REF}^{{commit}}")
        git(self.workdir, "reset", "--quiet", "--hard", head)
        git(self.workdir, "clean", "--quiet", "-d", "--force", "-x")
        return head

    def poll(self) -> PollResult:
        now = self.clock()
        try:
            head = self.sync()
        except GitError as exc:
            return self._fail(None, "failed", [str(exc)], now)
        if head == self._invalid_head:
            return PollResult(head, "invalid", "head unchanged since it was rejected")
        origin = Origin(self.actor, self.source, head, now)
        try:
            result = load(self.workdir, now=now)
        except ConfigDirError as exc:
            self._invalid_head = head
            return self._fail(head, "invalid", [str(exc)], now)
        if result.errors:
            self._invalid_head = head
            errors = [str(d) for d in result.errors]
            return self._fail(head, "invalid", errors, now)
        self._invalid_head = None
        try:
            applied = apply_config(self.engine, result.config, origin)
        except ApplyRefused as exc:
            return self._fail(head, "refused", str(exc).splitlines(), now)
        except SQLAlchemyError as exc:
            return self._fail(head, "failed", [f"database: {exc}".splitlines()[0]], now)
        if applied.run_id is None:
            return PollResult(head, "unchanged")
        log.info("applied %s at %s: %s", self.source, head[:12], applied.plan.summary())
        return PollResult(head, "applied", applied.plan.summary())

    def _fail(self, head: str | None, outcome: str, errors: list[str], now: datetime) -> PollResult:
        shown = head[:12] if head else "(no head)"
        message = f"{self.source} at {shown}: {outcome}: {errors[0] if errors else ''}"
        if (head, outcome) not in self._reported:
            log.error("%s; the last good config stays in force", message)
            for line in errors[1:20]:
                log.error("  %s", line)
            self._reported.add((head, outcome))
            try:
                record_failure(
                    self.engine, Origin(self.actor, self.source, head, now), outcome, errors
                )
            except SQLAlchemyError as exc:
                log.error("cannot record the failed run: %s", str(exc).splitlines()[0])
        return PollResult(head, outcome, message)

    def run(self, interval: float, stop: threading.Event, *, once: bool = False) -> PollResult:
        while True:
            result = self.poll()
            if once or stop.wait(interval):
                return result
