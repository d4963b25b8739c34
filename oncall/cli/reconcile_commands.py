"""`oncall plan`, `oncall apply` and `oncall reconcile`: config in git becomes database state.

Exit codes follow `terraform plan -detailed-exitcode`: plan exits 0 when nothing would change,
2 when something would, 1 when the config is invalid or the database cannot be used.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from oncall.cli.db_commands import add_database_option, database_url
from oncall.config.configset import ConfigSet
from oncall.config.diagnostics import render as render_diagnostics
from oncall.config.loader import ConfigDirError, load
from oncall.config.types import Duration
from oncall.db.engine import make_engine
from oncall.db.migrate import DatabaseNotMigrated, require_current
from oncall.reconcile.apply import (
    ApplyRefused,
    Origin,
    apply_config,
    git_revision,
    plan_config,
    record_failure,
)
from oncall.reconcile.follow import Follower
from oncall.reconcile.plan import FORMATS, render
from oncall.settings import SettingsError

EXIT_OK, EXIT_FAILED, EXIT_CHANGES = 0, 1, 2


class CommandFailed(Exception):
    """A one-line reason the command cannot go on (exit 1)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan", help="show what apply would change (exit 0 none, 2 changes, 1 invalid)"
    )
    p.add_argument("dir", nargs="?", default=".", help="config repo (default: .)")
    p.add_argument("--format", choices=FORMATS, default="text")
    add_database_option(p)
    p.set_defaults(handler=plan_command)

    p = sub.add_parser("apply", help="validate a config repo and apply it to the database")
    p.add_argument("dir", nargs="?", default=".", help="config repo (default: .)")
    p.add_argument(
        "--force", action="store_true", help="delete objects even if open incidents use them"
    )
    p.add_argument("--actor", help="who applies, for the audit log (default: cli:$USER)")
    p.add_argument("--format", choices=FORMATS, default="text", help="how to print the plan")
    add_database_option(p)
    p.set_defaults(handler=apply_command)

    p = sub.add_parser("reconcile", help="follow a git branch and apply every new head")
    p.add_argument("--repo", required=True, metavar="PATH_OR_URL", help="git repository")
    p.add_argument("--branch", default="main")
    p.add_argument("--interval", default="60s", help="poll interval, e.g. 30s, 5m (default 60s)")
    p.add_argument("--workdir", metavar="DIR", help="private checkout (default: a cache dir)")
    p.add_argument("--actor", default="reconciler", help="who applies, for the audit log")
    p.add_argument("--once", action="store_true", help="poll once and exit (1 if it failed)")
    add_database_option(p)
    p.set_defaults(handler=reconcile_command)


def _error(message: str) -> None:
    print(f"oncall: error: {message}", file=sys.stderr)


@contextmanager
def _engine(args: argparse.Namespace) -> Iterator[Engine]:
    try:
        url = database_url(args)
    except SettingsError as exc:
        raise CommandFailed(str(exc)) from None
    engine = make_engine(url)
    try:
        try:
            require_current(engine)
        except SQLAlchemyError as exc:
            raise CommandFailed(f"database: {_one_line(exc)}") from None
        yield engine
    except DatabaseNotMigrated as exc:
        raise CommandFailed(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CommandFailed(f"database: {_one_line(exc)}") from None
    finally:
        engine.dispose()


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _load_valid(directory: str) -> ConfigSet:
    """The config, or CommandFailed after printing every diagnostic."""
    try:
        result = load(directory, now=datetime.now(UTC))
    except ConfigDirError as exc:
        raise CommandFailed(str(exc)) from None
    if result.errors:
        print(render_diagnostics(result.errors, "text"), file=sys.stderr)
        raise CommandFailed(
            f"{directory}: invalid config ({len(result.errors)} errors): nothing was changed"
        )
    return result.config


def plan_command(args: argparse.Namespace) -> int:
    try:
        config = _load_valid(args.dir)
        with _engine(args) as engine:
            plan = plan_config(engine, config)
    except CommandFailed as exc:
        _error(str(exc))
        return EXIT_FAILED
    sys.stdout.write(render(plan, args.format))
    return EXIT_CHANGES if plan.has_changes else EXIT_OK


def apply_command(args: argparse.Namespace) -> int:
    actor = args.actor or f"cli:{_os_user()}"
    source = str(Path(args.dir).resolve())
    now = datetime.now(UTC)
    try:
        with _engine(args) as engine:
            try:
                config = _load_valid(args.dir)
            except CommandFailed as exc:
                origin = Origin(actor, source, git_revision(args.dir), now)
                record_failure(engine, origin, "invalid", [str(exc)])
                raise
            origin = Origin(actor, source, git_revision(args.dir), now)
            try:
                result = apply_config(engine, config, origin, force=args.force)
            except ApplyRefused as exc:
                record_failure(engine, origin, "refused", str(exc).splitlines())
                raise CommandFailed(str(exc)) from None
    except CommandFailed as exc:
        _error(str(exc))
        return EXIT_FAILED
    sys.stdout.write(render(result.plan, args.format))
    if result.run_id is not None:
        revision = f" at {origin.revision[:12]}" if origin.revision else ""
        print(f"applied{revision} (reconcile run {result.run_id})", file=sys.stderr)
    return EXIT_OK


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def parse_interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = Duration.parse(text).total_seconds
    if seconds <= 0:
        raise ValueError("interval must be longer than zero")
    return seconds


def default_workdir(repo: str, branch: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(f"{repo}#{branch}".encode()).hexdigest()[:16]
    return base / "oncall" / "reconcile" / digest


def reconcile_command(args: argparse.Namespace) -> int:
    try:
        interval = parse_interval(args.interval)
    except ValueError as exc:
        _error(f"--interval: {exc}")
        return EXIT_CHANGES  # usage error
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    workdir = Path(args.workdir) if args.workdir else default_workdir(args.repo, args.branch)
    stop = threading.Event()
    if not args.once:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        with _engine(args) as engine:
            follower = Follower(engine, args.repo, args.branch, workdir, actor=args.actor)
            result = follower.run(interval, stop, once=args.once)
    except CommandFailed as exc:
        _error(str(exc))
        return EXIT_FAILED
    return EXIT_OK if result.outcome in ("applied", "unchanged") else EXIT_FAILED
