"""Entry point: `oncall <command>`. Usage errors exit 2 with one line, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from oncall import __version__

COMMAND_MODULES = (
    "config_commands",
    "schedule_commands",
    "route_commands",
    "db_commands",
    "reconcile_commands",
    "api_commands",
    "worker_commands",
    "vapid_commands",
    "user_commands",
    "run_commands",
    "web_commands",
    "incident_commands",
    "workflow_commands",
    "status_page_commands",
    "report_commands",
    "import_commands",
)
"""Modules under oncall.cli that add subcommands; each has `register(subparsers)`."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Command = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the arguments, it imports command modules only until one has the
    command (importing all of them costs seconds, more than `oncall validate` itself)."""
    parser = _Parser(prog="oncall", description="Configuration-as-code on-call paging.")
    parser.add_argument("--version", action="version", version=f"oncall {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    wanted = next((arg for arg in argv or () if not arg.startswith("-")), None)
    for name in COMMAND_MODULES:
        importlib.import_module(f"oncall.cli.{name}").register(sub)
        if wanted is not None and wanted in sub.choices:
            break
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    handler: Command | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
