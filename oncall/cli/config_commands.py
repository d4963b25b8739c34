"""`oncall validate` and `oncall schema`: the commands a config repo's CI runs."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from oncall.config.diagnostics import FORMATS, render, summary
from oncall.config.loader import ConfigDirError, load
from oncall.config.schema import SCHEMA_FILENAME, format_schema


def register(sub: Any) -> None:
    p = sub.add_parser("validate", help="check a config repo (exit 0 valid, 1 errors, 2 usage)")
    p.add_argument("dir", nargs="?", default=".", help="config repo (default: .)")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(handler=validate)

    p = sub.add_parser("schema", help="write the JSON Schema of the config format")
    p.add_argument("--out", metavar="DIR", help=f"write DIR/{SCHEMA_FILENAME} instead of stdout")
    p.set_defaults(handler=schema)


def usage_error(message: str) -> int:
    print(f"oncall: error: {message}", file=sys.stderr)
    return 2


def validate(args: argparse.Namespace) -> int:
    try:
        result = load(args.dir, now=datetime.now(UTC))
    except ConfigDirError as exc:
        return usage_error(str(exc))
    diagnostics = result.diagnostics
    failed = bool(result.errors) or (args.strict and bool(result.warnings))
    if args.format == "json":
        print(
            json.dumps(
                {
                    "valid": not failed,
                    "objects": len(result.config),
                    "diagnostics": json.loads(render(diagnostics, "json")),
                },
                indent=2,
            )
        )
        return 1 if failed else 0
    output = render(diagnostics, args.format)
    if output:
        print(output)
    if args.format == "text":
        verdict = "invalid" if failed else "valid"
        print(f"{args.dir}: {verdict}: {len(result.config)} objects, {summary(diagnostics)}",
              file=sys.stderr)
    return 1 if failed else 0


def schema(args: argparse.Namespace) -> int:
    text = format_schema()
    if args.out is None:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / SCHEMA_FILENAME).write_text(text, encoding="utf-8")
    except OSError as exc:
        return usage_error(f"{args.out}: {exc.strerror or exc}")
    print(f"wrote {out / SCHEMA_FILENAME}", file=sys.stderr)
    return 0
