"""`oncall db upgrade`: bring the database to the current schema."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from oncall.db.engine import make_engine
from oncall.db.migrate import current_revisions, head_revisions, upgrade
from oncall.settings import Settings, SettingsError


def register(sub: Any) -> None:
    p = sub.add_parser("db", help="database maintenance (upgrade)")
    db_sub = p.add_subparsers(dest="db_command", metavar="COMMAND", parser_class=type(p))
    up = db_sub.add_parser("upgrade", help="apply database migrations (safe to repeat)")
    add_database_option(up)
    up.set_defaults(handler=db_upgrade)
    p.set_defaults(handler=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="database to use (default: $ONCALL_DATABASE_URL, else sqlite:///oncall.db)",
    )


def database_url(args: argparse.Namespace) -> str:
    """The URL from --database-url or the environment; SettingsError names the problem."""
    if getattr(args, "database_url", None):
        return Settings.from_env(
            {**os.environ, "ONCALL_DATABASE_URL": args.database_url}
        ).database_url
    return Settings.from_env(os.environ).database_url


def db_upgrade(args: argparse.Namespace) -> int:
    try:
        url = database_url(args)
        upgrade(url)
        engine = make_engine(url)
        try:
            revisions = current_revisions(engine)
        finally:
            engine.dispose()
    except SettingsError as exc:
        print(f"oncall: error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"oncall: error: database: {_one_line(exc)}", file=sys.stderr)
        return 1
    state = "up to date" if revisions == head_revisions() else "not at head"
    print(f"database {state} (revision {', '.join(sorted(revisions))})", file=sys.stderr)
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
