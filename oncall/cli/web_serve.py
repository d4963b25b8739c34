"""`reflex run --env prod --single-port` on the frontend `web_build` already built into `.web/`.

Reflex has no switch to start its production server without compiling the app and rebuilding
the frontend. This runs Reflex's own `run` command with just those two steps taken out, so the
rest (ports, state manager, backend workers, the built pages served by the backend, stopping on
Ctrl-C) is what `reflex run` does. Run it from the directory holding `rxconfig.py`, after
`web_build.ensure_build` for the same port.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

SKIPPED = (("reflex.reflex", "_compile_app"), ("reflex.utils.build", "setup_frontend_prod"))
"""What `reflex run --env prod` does before serving: compile the app, build the frontend."""


def _already_built(*_: object, **__: object) -> None:
    """The build in `.web/` is current (`web_build.ensure_build` checked it)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m oncall.cli.web_serve")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", help="address the backend listens on (Reflex's default)")
    args = parser.parse_args(argv)

    import importlib

    for module_name, name in SKIPPED:
        module = importlib.import_module(module_name)
        if not callable(getattr(module, name, None)):
            print(
                f"oncall: error: this Reflex has no {module_name}.{name}; the web app cannot "
                "start from its existing build",
                file=sys.stderr,
            )
            return 2
        setattr(module, name, _already_built)

    from reflex.reflex import cli

    port = str(args.port)
    host = ["--backend-host", args.host] if args.host else []
    cli.main(
        args=["run", "--env", "prod", "--single-port", *host, "--frontend-port", port,
              "--backend-port", port],
        prog_name="reflex",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
