"""`oncall status-page revoke-partner EMAIL [--page NAME]`: end a partner's sign-in links and
sessions on `partners` status pages at once, without waiting for them to expire.

Revoking ends what exists; an address still listed in a page's `partners:` may ask for a new
link. To keep someone out for good, remove them from the page's YAML (that also locks out
their open sessions on the next request). Every revocation is on the audit log.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from oncall.cli.db_commands import add_database_option, database_url
from oncall.db.applied import read_applied
from oncall.db.engine import make_engine, write_connection
from oncall.settings import SettingsError
from oncall.statuspages import partners


def register(sub: Any) -> None:
    p = sub.add_parser("status-page", help="status pages: partner access")
    page_sub = p.add_subparsers(dest="status_page_command", metavar="COMMAND",
                                parser_class=type(p))
    revoke = page_sub.add_parser(
        "revoke-partner",
        help="end a partner's sign-in links and sessions now",
        description="Revokes every unexpired sign-in link and session of EMAIL on one "
        "`partners` page (--page) or on all of them. A listed address may ask for a new link: "
        "remove it from the page's `partners:` to keep it out.",
    )
    revoke.add_argument("email", metavar="EMAIL")
    revoke.add_argument("--page", metavar="NAME", help="only this status page")
    add_database_option(revoke)
    revoke.set_defaults(handler=revoke_partner)
    p.set_defaults(handler=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _check_page(session: Session, name: str) -> None:
    """A page the applied config has, as `partners`: a typo must not revoke nothing quietly."""
    pages = read_applied(session).status_pages
    page = pages.get(name)
    if page is None or page.visibility != "partners":
        known = ", ".join(sorted(n for n, p in pages.items() if p.visibility == "partners"))
        raise ValueError(f"{name!r} is not a partners status page in the applied config; "
                         f"partners pages: {known or 'none'}")


def revoke_partner(args: argparse.Namespace) -> int:
    email = partners.normalise(args.email)
    if "@" not in email:
        print(f"oncall: error: {args.email!r} is not an email address", file=sys.stderr)
        return 2
    try:
        engine = make_engine(database_url(args))
        try:
            if args.page is not None:
                with Session(engine) as session:
                    _check_page(session, args.page)
            with write_connection(engine) as conn:
                revoked = partners.revoke(conn, email, now=datetime.now(UTC), page=args.page)
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
    where = f"status page {args.page}" if args.page else "every status page"
    if not revoked:
        print(f"{email}: no live sign-in link or session on {where}")
    else:
        counts = ", ".join(f"{name}: {count}" for name, count in sorted(revoked.items()))
        print(f"{email}: revoked on {where} ({counts})")
    return 0
