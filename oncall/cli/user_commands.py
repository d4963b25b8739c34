"""`oncall user create-admin EMAIL`: a break-glass password for when single sign-on is down;
`oncall user unbind-sso EMAIL`: forget the single sign-on identity bound to a person.

The person must be an admin of a team (or a platform admin) in the applied config. The password
is read from the
terminal (asked twice) or, when stdin is not a terminal, from the first line of stdin, so it
never appears in the process list or shell history. Running it again resets the password.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from oncall.cli.db_commands import add_database_option, database_url
from oncall.db.engine import make_engine, write_session
from oncall.settings import SettingsError
from oncall.web.auth import MIN_PASSWORD_LENGTH, create_local_account, unbind_oidc


def register(sub: Any) -> None:
    p = sub.add_parser("user", help="break-glass local accounts")
    user_sub = p.add_subparsers(dest="user_command", metavar="COMMAND", parser_class=type(p))
    create = user_sub.add_parser(
        "create-admin",
        help="create or reset the break-glass password of a config admin",
        description=f"Password: at least {MIN_PASSWORD_LENGTH} characters, asked on the "
        "terminal or read from the first line of stdin.",
    )
    create.add_argument("email", metavar="EMAIL")
    add_database_option(create)
    create.set_defaults(handler=create_admin)
    unbind = user_sub.add_parser(
        "unbind-sso",
        help="forget the SSO identity (issuer, subject) bound to a person",
        description="The first SSO sign-in binds the ID token's issuer and subject to the "
        "person; later sign-ins must match. After a change of identity provider, unbind: the "
        "next sign-in (with a verified email) binds again. The person's sessions end.",
    )
    unbind.add_argument("email", metavar="EMAIL")
    add_database_option(unbind)
    unbind.set_defaults(handler=unbind_sso)
    p.set_defaults(handler=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def create_admin(args: argparse.Namespace) -> int:
    try:
        url = database_url(args)
        password = _read_password()
        engine = make_engine(url)
        try:
            with write_session(engine) as session:
                user = create_local_account(session, args.email, password, datetime.now(UTC))
                email = user.email
        finally:
            engine.dispose()
    except (SettingsError, ValueError) as exc:
        print(f"oncall: error: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, ValueError) and not isinstance(exc, SettingsError) else 2
    except SQLAlchemyError as exc:
        print(f"oncall: error: database: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"break-glass account ready for {email}; every sign-in with it is audited")
    return 0


def unbind_sso(args: argparse.Namespace) -> int:
    try:
        engine = make_engine(database_url(args))
        try:
            with write_session(engine) as session:
                changed = unbind_oidc(
                    session, args.email, datetime.now(UTC), actor="system:oncall-cli"
                )
        finally:
            engine.dispose()
    except SettingsError as exc:
        print(f"oncall: error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"oncall: error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"oncall: error: database: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.email}: " + ("SSO identity unbound" if changed else "no SSO identity bound"))
    return 0
