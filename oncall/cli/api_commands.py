"""`oncall api` serves the HTTP API headless; `oncall api-key` creates and revokes API keys.

Behind a reverse proxy, `X-Forwarded-For` and `X-Forwarded-Proto` are believed only from the
addresses in `--forwarded-allow-ips` (`ONCALL_FORWARDED_ALLOW_IPS`, default 127.0.0.1): from
anyone else a client could choose the address that throttles count it under. On SIGTERM the
server stops accepting connections and gives the requests in flight up to `--grace` seconds
to be answered before it closes them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from oncall.api.app import THREADS_VARIABLE
from oncall.api.keys import ApiKeyError, create_key, revoke_key
from oncall.cli.db_commands import _one_line, add_database_option, database_url
from oncall.db.engine import make_engine, write_session
from oncall.db.migrate import DatabaseNotMigrated, require_current
from oncall.settings import SettingsError

FORWARDED_ALLOW_IPS_VARIABLE = "ONCALL_FORWARDED_ALLOW_IPS"
FORWARDED_ALLOW_IPS = "127.0.0.1"
"""Only a proxy on this machine is trusted unless told otherwise (uvicorn's own default too,
written out so that no FORWARDED_ALLOW_IPS left in the environment widens it)."""
MAX_DEFAULT_WORKERS = 4
"""The default `--workers` never exceeds this: each process holds up to 8 asyncio connections
plus one per thread, and four such processes stay well inside PostgreSQL's default
`max_connections` of 100 beside the workers and the web app. More takes `--workers N` (and a
pooler or a larger `max_connections`)."""
DEFAULT_THREADS = 4
"""Database threads per process. Starlette's 40 contend for the GIL: on 2 cores, 2 to 4 per
process beat 40 at every load measured (docs/benchmarks.md)."""
GRACE_SECONDS = 20
"""Default `--grace`: an ingest request is answered in milliseconds; this covers a slow
report or export, inside systemd's 90 s and the container runtimes' 10-30 s stop timeouts."""


def register(sub: Any) -> None:
    api = sub.add_parser("api", help="serve the HTTP API (alert ingest, incidents REST)")
    add_database_option(api)
    api.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    api.add_argument("--port", type=int, default=8080, help="port to listen on (8080)")
    api.add_argument("--workers", type=int, default=None,
                     help="server processes sharing the port (default: one more than the "
                          f"cores this process may use, at most {MAX_DEFAULT_WORKERS})")
    api.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                     help=f"database threads per process (default {DEFAULT_THREADS})")
    api.add_argument("--log-level", default="warning",
                     choices=["critical", "error", "warning", "info", "debug"])
    api.add_argument("--forwarded-allow-ips", metavar="ADDRESSES", default=None,
                     help="comma-separated addresses or networks of the reverse proxies whose "
                          "X-Forwarded-For/-Proto are believed, or * for any (default "
                          f"${FORWARDED_ALLOW_IPS_VARIABLE}, else {FORWARDED_ALLOW_IPS})")
    api.add_argument("--grace", type=int, default=GRACE_SECONDS, metavar="SECONDS",
                     help="on SIGTERM, how long requests in flight may take to be answered "
                          f"(default {GRACE_SECONDS})")
    api.set_defaults(handler=serve)

    keys = sub.add_parser("api-key", help="create or revoke API keys for the REST API")
    key_sub = keys.add_subparsers(dest="key_command", metavar="COMMAND",
                                  parser_class=type(keys))
    create = key_sub.add_parser("create", help="create a key acting as a user; printed once")
    create.add_argument("name", help="what the key is for, e.g. ci-deploys")
    create.add_argument("--as", dest="email", required=True, metavar="EMAIL",
                        help="the user the key acts as (with that user's roles)")
    create.add_argument("--expires-in-days", type=int, metavar="DAYS",
                        help="the key stops working after DAYS days (default: never)")
    add_database_option(create)
    create.set_defaults(handler=key_create)
    revoke = key_sub.add_parser("revoke", help="revoke every active key of that name")
    revoke.add_argument("name")
    add_database_option(revoke)
    revoke.set_defaults(handler=key_revoke)
    keys.set_defaults(handler=lambda _args: _usage(keys))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _error(message: str, code: int = 1) -> int:
    print(f"oncall: error: {message}", file=sys.stderr)
    return code


def forwarded_allow_ips(args: argparse.Namespace,
                        environ: Mapping[str, str] | None = None) -> str:
    """Whose forwarded headers to believe: the option, else the setting, else 127.0.0.1."""
    env = os.environ if environ is None else environ
    chosen = args.forwarded_allow_ips or env.get(FORWARDED_ALLOW_IPS_VARIABLE, "")
    return ",".join(part.strip() for part in chosen.split(",") if part.strip()) or (
        FORWARDED_ALLOW_IPS)


def usable_cores() -> int:
    """The cores this process may run on (a container's or `taskset`'s limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(cores: int) -> int:
    """One process more than the cores: a process waits on PostgreSQL and Redis between
    requests, and on 2 cores 3 processes were the only shape that kept up with 1,500 alerts/s
    (docs/benchmarks.md)."""
    return max(1, min(cores + 1, MAX_DEFAULT_WORKERS))


def serve(args: argparse.Namespace) -> int:
    from oncall.api.server import run_server

    try:
        url = database_url(args)
    except SettingsError as exc:
        return _error(str(exc), 2)
    engine = make_engine(url)
    try:
        require_current(engine)
    except DatabaseNotMigrated as exc:
        return _error(str(exc))
    except SQLAlchemyError as exc:
        return _error(f"database: {_one_line(exc)}")
    finally:
        engine.dispose()
    workers = default_workers(usable_cores()) if args.workers is None else args.workers
    if workers < 1:
        return _error("--workers must be at least 1", 2)
    if args.threads < 1:
        return _error("--threads must be at least 1", 2)
    if args.grace < 0:
        return _error("--grace must not be negative", 2)
    os.environ["ONCALL_DATABASE_URL"] = url  # the factory reads these, in every worker process
    os.environ[THREADS_VARIABLE] = str(args.threads)
    run_server(
        "oncall.api.app:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=workers,
        log_level=args.log_level,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips(args),
        timeout_graceful_shutdown=args.grace,
    )
    return 0


def key_create(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    expires = None
    if args.expires_in_days is not None:
        if args.expires_in_days < 1:
            return _error("--expires-in-days must be at least 1", 2)
        expires = now + timedelta(days=args.expires_in_days)
    try:
        engine = make_engine(database_url(args))
    except SettingsError as exc:
        return _error(str(exc), 2)
    try:
        require_current(engine)
        with write_session(engine) as session:
            key = create_key(session, args.name, args.email, now, expires)
    except (DatabaseNotMigrated, ApiKeyError) as exc:
        return _error(str(exc))
    except SQLAlchemyError as exc:
        return _error(f"database: {_one_line(exc)}")
    finally:
        engine.dispose()
    print(key.key)
    print(f"created API key {key.name!r} acting as {key.user}; it is shown only this once",
          file=sys.stderr)
    return 0


def key_revoke(args: argparse.Namespace) -> int:
    try:
        engine = make_engine(database_url(args))
    except SettingsError as exc:
        return _error(str(exc), 2)
    try:
        require_current(engine)
        with write_session(engine) as session:
            count = revoke_key(session, args.name, datetime.now(UTC))
    except DatabaseNotMigrated as exc:
        return _error(str(exc))
    except SQLAlchemyError as exc:
        return _error(f"database: {_one_line(exc)}")
    finally:
        engine.dispose()
    if count == 0:
        return _error(f"no active API key named {args.name!r}")
    print(f"revoked {count} key(s) named {args.name!r}", file=sys.stderr)
    return 0
