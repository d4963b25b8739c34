"""`oncall report`: the on-call health review (incidents, MTTA/MTTR, pages, night pages, hours
on call) from the terminal, or one table as CSV for a spreadsheet.

It reads the database and the config applied to it, like every process other than the
reconciler: the figures are those of what is in force, not of a working copy.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from oncall.cli.db_commands import add_database_option, database_url
from oncall.core.reports import BadPeriod, Cell, Report, Table, parse_period
from oncall.core.reports import duration_text as duration
from oncall.db.applied import read_applied
from oncall.db.engine import make_engine
from oncall.db.migrate import DatabaseNotMigrated, require_current
from oncall.reports.service import TABLES, Filter, UnknownFilter, build, csv_of, table
from oncall.settings import SettingsError


def register(sub: Any) -> None:
    p = sub.add_parser("report", help="on-call health: incidents, MTTA/MTTR, pages, hours")
    p.add_argument("--team", help="only the services of this team")
    p.add_argument("--service", help="only this service")
    p.add_argument("--since", metavar="DATE", help="ISO date or datetime (default: 30 days "
                                                   "before --until)")
    p.add_argument("--until", metavar="DATE", help="ISO date (included) or datetime "
                                                   "(default: now)")
    p.add_argument("--csv", metavar="TABLE", choices=TABLES,
                   help=f"print one table as CSV: {', '.join(TABLES)}")
    add_database_option(p)
    p.set_defaults(handler=report)


def report(args: argparse.Namespace) -> int:
    try:
        period = parse_period(args.since, args.until, datetime.now(UTC))
    except BadPeriod as exc:
        print(f"oncall: error: --{exc}", file=sys.stderr)
        return 2
    engine = None
    try:
        engine = make_engine(database_url(args))
        require_current(engine)
        with Session(engine) as session:
            found = build(session, read_applied(session),
                          Filter(team=args.team, service=args.service), period)
    except UnknownFilter as exc:
        print(f"oncall: error: --{exc}", file=sys.stderr)
        return 1
    except (SettingsError, DatabaseNotMigrated) as exc:
        print(f"oncall: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SettingsError) else 1
    except SQLAlchemyError as exc:
        print(f"oncall: error: cannot read the database: {exc.__class__.__name__}",
              file=sys.stderr)
        return 1
    finally:
        if engine is not None:
            engine.dispose()
    if args.csv:
        sys.stdout.write(csv_of(found, args.csv))
    else:
        print(render(found))
    return 0


def _text(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _grid(t: Table) -> list[str]:
    cells = [[_text(v) for v in row] for row in t.rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(t.columns)]
    numeric = [all(isinstance(row[i], int | float) or row[i] is None for row in t.rows)
               for i in range(len(t.columns))]

    def line(values: list[str]) -> str:
        return "  " + "  ".join(v.rjust(w) if n else v.ljust(w)
                                for v, w, n in zip(values, widths, numeric, strict=True)).rstrip()

    return [line(list(t.columns)), *(line(r) for r in cells)] if cells else ["  (none)"]



def render(r: Report) -> str:
    """The report as readable text: the figures first, then a table per section."""
    scope = " · ".join(x for x in (f"team {r.team}" if r.team else "",
                                   f"service {r.service}" if r.service else "") if x)
    night = sum(p.night_pages for p in r.pages)
    lines = [
        f"On-call report: {scope or 'whole organisation'}",
        f"period {r.period.since:%Y-%m-%d %H:%M} to {r.period.until:%Y-%m-%d %H:%M} UTC",
        "",
        f"incidents  {r.incidents}",
        f"MTTA       median {duration(r.mtta.median)}, p90 {duration(r.mtta.p90)} "
        f"(over {r.mtta.count} acknowledged)",
        f"MTTR       median {duration(r.mttr.median)}, p90 {duration(r.mttr.p90)} "
        f"(over {r.mttr.count} resolved)",
        f"pages      {sum(p.pages for p in r.pages)} ({night} at night)",
        "",
        "incidents by priority:",
        *_grid(table(r, "priorities")),
        "",
        "pages per person (night: 22:00-08:00 in the person's time zone):",
        *_grid(table(r, "people")),
        "",
        f"hours on call per person ({', '.join(r.schedules) or 'no schedules'}):",
        *_grid(table(r, "oncall")),
    ]
    gaps = {name: h for name, h in r.oncall.gap_hours.items() if h > 0}
    if gaps:
        lines.append("  uncovered: " + ", ".join(f"{n} {h:.1f} h" for n, h in gaps.items()))
    return "\n".join(lines)
