"""`oncall import VENDOR`: another paging vendor's account as config files, with parity.

Exit 0 imported (and, with `--check-parity`, the same people on call as the vendor says),
1 a parity difference (each printed with its instant), 2 usage or the source cannot be read.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oncall.importers import VENDORS, parity, writer
from oncall.importers.base import DirectorySource, ImportFailed, Source

MAX_PARITY_DAYS = 366
SECRETS_LISTED = 10
"""Environment variables named on the terminal; the report lists them all."""


def register(sub: Any) -> None:
    p = sub.add_parser("import", help="import another vendor's account as config files")
    p.add_argument("vendor", choices=list(VENDORS), metavar="VENDOR",
                   help=f"one of: {', '.join(VENDORS)}")
    p.add_argument("--out", metavar="DIR", required=True,
                   help="config repo to write rules/ and schedules/ into")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--api-url", metavar="URL",
                       help="the vendor's API (default: its public one); token from the "
                            "environment (PAGERDUTY_API_TOKEN, OPSGENIE_API_KEY, "
                            "GRAFANA_ONCALL_API_TOKEN)")
    where.add_argument("--from", dest="source_dir", metavar="DIR",
                       help="read saved API responses from DIR instead (see docs/migrating.md)")
    p.add_argument("--check-parity", metavar="DAYS", type=int,
                   help="compare who is on call, shift by shift, over the next DAYS days")
    p.add_argument("--since", metavar="TIME",
                   help="start of the parity window, ISO instant (default: now; with --from, "
                        "the time the saved responses were asked for)")
    p.add_argument("--write-secrets", action="store_true",
                   help="also write integration keys to DIR/secrets.env (mode 0600)")
    p.set_defaults(handler=import_account)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _error(message: str) -> int:
    print(f"oncall: error: {message}", file=sys.stderr)
    return 2


def _source(args: argparse.Namespace, module: Any) -> tuple[Source, datetime | None]:
    if args.source_dir:
        if not Path(args.source_dir).is_dir():
            raise ImportFailed(f"{args.source_dir}: no such directory")
        return DirectorySource(args.source_dir), None
    url = args.api_url or module.DEFAULT_URL
    if not url:
        raise ImportFailed(f"{module.VENDOR} has no public API address: give --api-url")
    token = os.environ.get(module.TOKEN_ENV)
    if not token:
        raise ImportFailed(f"set {module.TOKEN_ENV} to an API token (or use --from DIR)")
    source: Source = module.live_source(url, token, os.environ)
    return source, datetime.now(UTC).replace(second=0, microsecond=0)


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ImportFailed(f"invalid --since {text!r}: use an instant like "
                           "2026-10-19T00:00Z") from None
    if value.tzinfo is None:
        raise ImportFailed(f"--since {text!r} needs an offset, like 2026-10-19T00:00Z")
    return value.astimezone(UTC)


def import_account(args: argparse.Namespace) -> int:
    days: int | None = args.check_parity
    if days is not None and not 1 <= days <= MAX_PARITY_DAYS:
        return _error(f"--check-parity takes 1 to {MAX_PARITY_DAYS} days")
    module = VENDORS[args.vendor]
    out = Path(args.out)
    try:
        source, since = _source(args, module)
        if args.since:
            since = _since(args.since)
        imported = module.read(source, since=since, days=days)
        written = writer.write(imported, out, secrets=args.write_secrets)
    except ImportFailed as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"{out}: {exc.strerror or exc}")
    print(f"wrote {len(written)} files under {out} ({len(imported.objects)} objects)")
    for u in imported.unmapped:
        print(f"not mapped: {u.kind} {u.name!r} ({u.source_id}): {u.reason}")
    names = sorted(imported.secrets)
    for name in names[:SECRETS_LISTED]:
        print(f"set {name}: {imported.secrets[name]}")
    if len(names) > SECRETS_LISTED:
        print(f"set {len(names) - SECRETS_LISTED} more environment variables: see "
              f"{out / writer.REPORT}")
    if days is None:
        return 0
    try:
        differences = parity.check(imported, out)
    except ImportFailed as exc:
        return _error(str(exc))
    assert imported.window is not None
    lo, hi = imported.window
    span = f"{lo:%Y-%m-%dT%H:%MZ} to {hi:%Y-%m-%dT%H:%MZ}"
    for d in differences:
        print(f"parity: {d}")
    if differences:
        print(f"parity: {_count(len(differences), 'difference')} in "
              f"{_count(len(imported.rendered), 'schedule')} from {span}", file=sys.stderr)
        return 1
    print(f"parity: {_count(len(imported.rendered), 'schedule')} "
          f"{'agrees' if len(imported.rendered) == 1 else 'agree'} shift by shift from {span}")
    return 0
