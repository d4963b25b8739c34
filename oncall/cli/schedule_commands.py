"""`oncall who` and `oncall shifts`: a schedule's answers from the config repo, with the
overrides made in the app when a database is named.

The schedule always comes from the config repo (`--config`); with `--database-url` or
`ONCALL_DATABASE_URL` the app's overrides are read from that database and laid over it, the
same answer the API, the web app and escalation give (`schedules_service`). Without either, the
config alone answers, as it would before anything is applied.

Times on the command line are ISO instants with an offset (`2026-03-08T07:30Z`) or local times
(`2026-03-08T02:30`, `2026-03-08`) read in the schedule's zone by the same DST rules as the
config. Exit 0 answered, 1 invalid config or unreadable database, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from oncall.cli.db_commands import database_url
from oncall.config.loader import ConfigDirError, load
from oncall.config.models import Schedule
from oncall.config.suggest import did_you_mean
from oncall.config.types import zone
from oncall.core.schedule import Shift, on_call, shifts
from oncall.core.schedule.engine import ON_CALL_HORIZON
from oncall.core.schedule.ical import schedule_feed
from oncall.core.schedule.localtime import resolve
from oncall.db.engine import make_engine
from oncall.db.migrate import DatabaseNotMigrated, require_current
from oncall.schedules_service import effective_schedule, on_call_at
from oncall.settings import SettingsError

FORMATS = ("text", "json", "ics")
DATABASE_HELP = (
    "also lay the overrides made in the app, read from this database, over the config "
    "(default: $ONCALL_DATABASE_URL; with neither, the config alone)"
)
T = TypeVar("T")


def register(sub: Any) -> None:
    p = sub.add_parser("who", help="who is on call for a schedule, and until when")
    p.add_argument("schedule", metavar="SCHEDULE")
    p.add_argument("--at", metavar="TIME", help="instant or local time (default: now)")
    p.add_argument("--config", metavar="DIR", default=".", help="config repo (default: .)")
    p.add_argument("--database-url", metavar="URL", help=DATABASE_HELP)
    p.set_defaults(handler=who)

    p = sub.add_parser("shifts", help="a schedule's final shifts over a window")
    p.add_argument("schedule", metavar="SCHEDULE")
    p.add_argument("--from", dest="start", metavar="TIME", required=True)
    p.add_argument("--to", dest="end", metavar="TIME", required=True)
    p.add_argument("--tz", metavar="ZONE", help="zone to show times in (default: the schedule's)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--config", metavar="DIR", default=".", help="config repo (default: .)")
    p.add_argument("--database-url", metavar="URL", help=DATABASE_HELP)
    p.set_defaults(handler=list_shifts)


class _Fail(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _schedule(config_dir: str, name: str) -> Schedule:
    try:
        result = load(config_dir)
    except ConfigDirError as exc:
        raise _Fail(2, str(exc)) from None
    if result.errors:
        first = sorted(result.errors, key=lambda d: d.sort_key())[0]
        more = len(result.errors) - 1
        tail = f" (and {more} more; run 'oncall validate {config_dir}')" if more else ""
        raise _Fail(1, f"invalid config: {first.as_text()}{tail}")
    found = result.config.schedules.get(name)
    if found is None:
        known = result.config.schedules
        raise _Fail(2, f"unknown schedule {name!r}{did_you_mean(name, known)}")
    return found


def _with_overrides(args: argparse.Namespace, read: Callable[[Session], T]) -> T | None:
    """`read` over the database named by --database-url or ONCALL_DATABASE_URL; None when
    neither names one (the config alone answers)."""
    if not args.database_url and not os.environ.get("ONCALL_DATABASE_URL", "").strip():
        return None
    try:
        url = database_url(args)
    except SettingsError as exc:
        raise _Fail(2, str(exc)) from None
    try:
        with _session(url) as session:
            return read(session)
    except DatabaseNotMigrated as exc:
        raise _Fail(1, str(exc)) from None
    except SQLAlchemyError as exc:
        raise _Fail(1, f"cannot read the database: {exc.__class__.__name__}") from None


@contextmanager
def _session(url: str) -> Iterator[Session]:
    engine = make_engine(url)
    try:
        require_current(engine)
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def parse_time(text: str, tz: ZoneInfo) -> datetime:
    """An ISO instant with offset, or a local date-time/date read in `tz`."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise _Fail(
            2, f"invalid time {text!r}: use 2026-03-08T09:00 (in the schedule's zone) "
            "or an instant with offset like 2026-03-08T14:00Z"
        ) from None
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return resolve(value, tz)


def _when(t: datetime, tz: ZoneInfo) -> str:
    local = t.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _run(args: argparse.Namespace, body: Any) -> int:
    try:
        code: int = body(args)
        return code
    except _Fail as exc:
        print(f"oncall: error: {exc}", file=sys.stderr)
        return exc.code


def who(args: argparse.Namespace) -> int:
    return _run(args, _who)


def _who(args: argparse.Namespace) -> int:
    schedule = _schedule(args.config, args.schedule)
    tz = schedule.timezone
    at = parse_time(args.at, tz) if args.at else datetime.now(UTC)
    s = _with_overrides(args, lambda session: on_call_at(session, schedule, at, ON_CALL_HORIZON))
    if s is None:
        s = on_call(schedule, at)
    if s.who is None:
        print(f"no one is on call for {schedule.name} at {_when(at, tz)} (coverage gap "
              f"until {_when(s.end, tz)})")
        return 0
    how = "override" if s.source == "override" else f"layer {s.layer}"
    print(f"{s.who} is on call for {schedule.name} until {_when(s.end, tz)} ({how})")
    return 0


def list_shifts(args: argparse.Namespace) -> int:
    return _run(args, _shifts)


MAX_WINDOW = timedelta(days=3660)


def _shifts(args: argparse.Namespace) -> int:
    try:
        shown = zone(args.tz) if args.tz else None
    except ValueError as exc:
        raise _Fail(2, str(exc)) from None
    schedule = _schedule(args.config, args.schedule)
    tz = schedule.timezone
    start, end = parse_time(args.start, tz), parse_time(args.end, tz)
    if end <= start:
        raise _Fail(2, "--to must be after --from")
    if end - start > MAX_WINDOW:
        raise _Fail(2, "the window is longer than 10 years: ask for a shorter one")
    effective = _with_overrides(
        args, lambda session: effective_schedule(session, schedule, start, end)
    )
    if effective is not None:
        schedule = effective
    found = shifts(schedule, start, end)
    if args.format == "ics":
        sys.stdout.write(schedule_feed(schedule, start, end, stamp=datetime.now(UTC)).decode())
        return 0
    out = shown or tz
    if args.format == "json":
        print(json.dumps([_as_json(s, out) for s in found], indent=2))
        return 0
    for s in found:
        how = "gap" if s.who is None else ("override" if s.source == "override" else s.layer)
        print(f"{_when(s.start, out)}  {_when(s.end, out)}  {s.who or '(no one)'}  {how}")
    return 0


def _as_json(s: Shift, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "start": s.start.isoformat().replace("+00:00", "Z"),
        "end": s.end.isoformat().replace("+00:00", "Z"),
        "local_start": s.start.astimezone(tz).isoformat(),
        "local_end": s.end.astimezone(tz).isoformat(),
        "who": s.who,
        "layer": s.layer,
        "source": "gap" if s.who is None else s.source,
    }
