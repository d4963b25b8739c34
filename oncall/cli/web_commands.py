"""`oncall web`: the web app (with the API mounted) as one role of a deployment.

What `oncall run` does for its web process, without the worker, the config apply or the local
stand-ins: the frontend is built only when what it is built from changed since the last build
in `.web/` (`web_build`, serialised by its lock, so several processes of one checkout starting
together build once), then this process becomes Reflex's production server on that build. It
runs from the directory holding `rxconfig.py` (the checkout, or `/app` in the image), not from
where the package is installed.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import Any

from oncall.cli import web_build


def register(sub: Any) -> None:
    p = sub.add_parser("web", help="serve the web app and the API (builds the frontend if needed)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (127.0.0.1: behind a reverse proxy)")
    p.add_argument("--port", type=int, default=3000, help="web app and API port (3000)")
    p.add_argument("--app-dir", type=Path, default=Path("."),
                   help="the directory holding rxconfig.py (default: .)")
    p.add_argument("--rebuild", action="store_true",
                   help="build the frontend even if the build in .web/ is current")
    p.set_defaults(handler=web)


def _say(message: str) -> None:
    print(f"oncall: {message}", file=sys.stderr, flush=True)


def web(args: argparse.Namespace) -> int:
    root = args.app_dir.resolve()
    if not (root / "rxconfig.py").exists():
        _say(f"error: no rxconfig.py in {root}: run from the checkout or pass --app-dir")
        return 2
    env = web_build.reflex_environment(root, os.environ)
    build = functools.partial(web_build.reflex_export, again="`oncall web`")
    try:
        web_build.ensure_build(root, args.port, env, force=args.rebuild, say=_say,
                               echo=lambda line: print(line, file=sys.stderr, flush=True),
                               build=build)
    except web_build.BuildError as exc:
        _say(f"error: the web app did not build: {exc}")
        return 1
    command = web_build.serve_command(args.port, args.host)
    _say(f"web app and API on http://{args.host}:{args.port}")
    os.chdir(root)
    # this process becomes the server: the service manager's signals reach it directly
    os.execve(command[0], command, env)
