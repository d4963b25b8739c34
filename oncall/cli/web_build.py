"""The web app's frontend, built once per change of what it is built from.

`reflex run --env prod` compiles the app and rebuilds the frontend (bun, Vite) on every start,
which is most of the time `oncall run` takes to come up. The build depends only on the Python
modules the app is compiled from (the static import closure of `rxconfig.py` and
`oncall.web.app`), `assets/`, the Reflex version, the pinned packages (`requirements.txt`,
`reflex.lock/`) and the settings baked into the bundle: the port the browser reaches the backend
on and any `REFLEX_*`/`VITE_*` override. Their fingerprint is stored beside the build
(`.web/oncall-build.json`); a start whose fingerprint matches serves the build as it is
(`oncall.cli.web_serve`), any other start builds once with `reflex export --frontend-only`.

Builds are serialised by an exclusive lock on `.oncall/web-build.lock`, so two processes starting
at once never build into `.web/` together: the second waits, then finds the first one's build.
"""

from __future__ import annotations

import ast
import fcntl
import hashlib
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FINGERPRINT = Path(".web") / "oncall-build.json"
"""Beside the build: removing `.web/` removes it too, and the next start builds."""
LOCK = Path(".oncall") / "web-build.lock"
BUILT_PAGE = Path(".web") / "build" / "client" / "index.html"
ENV_JSON = Path(".web") / "env.json"
"""What a finished build always has; without them a matching fingerprint is not trusted."""
FORMAT = 1
"""Bumped when what goes into the fingerprint changes, so older records never match."""
START_MODULES = ("rxconfig", "oncall.web.app")
"""Where Reflex starts importing the app (`rxconfig.py`, its `app_module_import`)."""
FILES = ("requirements.txt",)
TREES = ("assets", "reflex.lock")
DISTRIBUTIONS = ("reflex", "reflex-base")
IGNORED_SETTINGS = frozenset(
    {
        # how Reflex runs, not what it builds
        "REFLEX_TELEMETRY_ENABLED",
        "REFLEX_CHECK_LATEST_VERSION",
        "REFLEX_BUN_PATH",
        "REFLEX_LOGLEVEL",
        "REFLEX_REDIS_URL",
        "REFLEX_DB_URL",
        "REFLEX_BACKEND_HOST",
        # the port is part of the fingerprint on its own
        "REFLEX_FRONTEND_PORT",
        "REFLEX_BACKEND_PORT",
    }
)
"""`REFLEX_*` variables that do not change the bundle; every other one is assumed to."""

Echo = Callable[[str], object]


class BuildError(Exception):
    """The frontend build failed; its output was echoed."""


# --- what the frontend is built from -------------------------------------------------------


def imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Dotted names `source` may import (module-level, in functions, under TYPE_CHECKING).

    `from a import b` yields both `a` and `a.b`, since `b` may be a submodule; names that are not
    modules are dropped when they are looked up."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".") if package else []
                if node.level > 1:
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                parts = base.split(".")
                found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
            found.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
    return found


def module_file(root: Path, name: str) -> tuple[Path, bool] | None:
    """The file under `root` that defines module `name`, and whether it is a package."""
    base = root.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py", True
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py"), False
    return None


def app_sources(root: Path, start: Iterable[str] = START_MODULES) -> list[Path]:
    """The repository's own modules the app is compiled from: the import closure of `start`
    within `root` (installed packages are covered by their versions)."""
    seen: dict[str, Path] = {}
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        found = module_file(root, name)
        if found is None:
            continue
        path, is_package = found
        seen[name] = path
        todo.extend(imported_modules(path.read_text(encoding="utf-8"), name, is_package))
    return sorted(set(seen.values()))


def input_files(root: Path) -> list[Path]:
    """Every file whose content the build depends on."""
    files = set(app_sources(root))
    files.update(root / name for name in FILES if (root / name).is_file())
    for tree in TREES:
        if (root / tree).is_dir():
            files.update(p for p in (root / tree).rglob("*") if p.is_file())
    return sorted(files)


def build_settings(environ: Mapping[str, str], port: int) -> dict[str, str]:
    """The settings the bundle bakes in: the backend's port (the browser's websocket URL is
    `ws://<page host>:<port>/_event`) and Reflex/Vite overrides such as `REFLEX_API_URL`."""
    settings = {
        name: value
        for name, value in environ.items()
        if name.startswith(("REFLEX_", "VITE_")) and name not in IGNORED_SETTINGS
    }
    settings["port"] = str(port)
    return dict(sorted(settings.items()))


def versions() -> dict[str, str]:
    """Versions of the packages that generate the frontend."""
    found = {"python": "{}.{}".format(*sys.version_info[:2])}
    for name in DISTRIBUTIONS:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def digest(
    contents: Mapping[str, bytes], settings: Mapping[str, str], package_versions: Mapping[str, str]
) -> str:
    """One SHA-256 over every input: file paths and contents, settings, versions."""
    h = hashlib.sha256(f"oncall-web-build:{FORMAT}\n".encode())
    for path in sorted(contents):
        h.update(f"file {path} {hashlib.sha256(contents[path]).hexdigest()}\n".encode())
    for kind, values in (("setting", settings), ("version", package_versions)):
        for name in sorted(values):
            h.update(f"{kind} {name}={values[name]}\n".encode())
    return h.hexdigest()


def fingerprint(root: Path, environ: Mapping[str, str], port: int) -> dict[str, Any]:
    """What `.web/oncall-build.json` says after a build from `root` as it is now."""
    files = input_files(root)
    contents = {p.relative_to(root).as_posix(): p.read_bytes() for p in files}
    package_versions = versions()
    return {
        "format": FORMAT,
        "digest": digest(contents, build_settings(environ, port), package_versions),
        "port": port,
        "files": len(files),
        **package_versions,
    }


def recorded(root: Path) -> dict[str, Any] | None:
    """The stored fingerprint, or None when it is missing or unreadable (then: rebuild)."""
    try:
        found = json.loads((root / FINGERPRINT).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(found, dict) or not isinstance(found.get("digest"), str):
        return None
    return found


def built_output(root: Path) -> str | None:
    """A digest of what the build wrote that differs between builds for other settings (the
    entry page names the bundle's hashed chunks; `env.json` holds the backend URLs), so a
    `reflex run` or `reflex export` by hand into `.web/` is noticed; None if it is missing."""
    h = hashlib.sha256()
    for path in (BUILT_PAGE, ENV_JSON):
        try:
            h.update(hashlib.sha256((root / path).read_bytes()).digest())
        except OSError:
            return None
    return h.hexdigest()


def is_current(root: Path, wanted: Mapping[str, Any]) -> bool:
    """Whether the build in `.web/` was made from exactly these inputs and is still the one
    that build wrote."""
    found = recorded(root)
    output = built_output(root)
    return (
        found is not None
        and found.get("format") == FORMAT
        and found.get("digest") == wanted["digest"]
        and output is not None
        and found.get("output") == output
    )


def recorded_port(root: Path) -> int | None:
    """The port the current build was made for, if it is free now: starting there reuses it."""
    found = recorded(root)
    port = found.get("port") if found else None
    if not isinstance(port, int) or not 0 < port < 65536:
        return None
    with socket.socket() as s:
        # as servers bind: connections of the last run still in TIME_WAIT do not hold the port
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return None
    return port


# --- building ------------------------------------------------------------------------------


@contextmanager
def build_lock(root: Path, say: Echo | None = None) -> Iterator[None]:
    """Hold the exclusive build lock of `root` (waiting for another builder if need be)."""
    path = root / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if say is not None:
                say(f"another process is building the web app ({path}): waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


REFLEX_NEXT_STEP = "reflex run` to start"
"""Part of what Reflex prints after setting up `.web/`; wrong here (it is `oncall run` or
`oncall web`)."""

RUN_AGAIN = "`make run`, or `.venv/bin/oncall run .`"
"""How the app is started again, in the advice that replaces Reflex's (`oncall run`'s)."""


def rewrite_line(line: str, port: int, again: str = RUN_AGAIN) -> str:
    """Reflex's output line, or what to do instead of `uv run reflex run`."""
    if REFLEX_NEXT_STEP in line or "uv run reflex run" in line:
        return (
            f"oncall: Reflex's frontend is set up in .web/; the app starts at "
            f"http://localhost:{port} (to start it again later: {again})"
        )
    return line


def reflex_environment(root: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the build and the server run in: the project's bun if it is installed
    (`make setup` puts it in tools/), and no calls home from Reflex."""
    env = dict(environ)
    bun = root / "tools" / "node_modules" / ".bin" / "bun"
    if bun.exists():
        env.setdefault("REFLEX_BUN_PATH", str(bun))
    env.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    env.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
    return env


EXPORT = ("export", "--frontend-only", "--no-zip", "--env", "prod")


def reflex_export(
    root: Path, environ: Mapping[str, str], port: int, echo: Echo,
    reflex: Path | None = None, again: str = RUN_AGAIN,
) -> None:
    """Compile the app and build the frontend for `port` into `.web/build/client`, echoing
    Reflex's output with its advice rewritten."""
    command = [str(reflex or Path(sys.executable).parent / "reflex"), *EXPORT]
    env = {
        **environ,
        "REFLEX_FRONTEND_PORT": str(port),
        "REFLEX_BACKEND_PORT": str(port),
        "COLUMNS": environ.get("COLUMNS") or "120",  # Reflex wraps at 80 columns when piped
    }
    process = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert process.stdout is not None
    with process.stdout:
        for line in process.stdout:
            echo(rewrite_line(line.rstrip("\n"), port, again))
    if process.wait() != 0:
        raise BuildError(f"`reflex export` exited with {process.returncode}")


Builder = Callable[[Path, Mapping[str, str], int, Echo], None]


def ensure_build(
    root: Path,
    port: int,
    environ: Mapping[str, str],
    *,
    force: bool = False,
    say: Echo = print,
    echo: Echo = print,
    build: Builder = reflex_export,
) -> bool:
    """Build the frontend unless `.web/` already holds a build of these inputs; True if it
    built. The fingerprint is removed before a build and written after it succeeded, so an
    interrupted or failed build is never taken for a finished one."""
    with build_lock(root, say):
        wanted = fingerprint(root, environ, port)
        if not force and is_current(root, wanted):
            say(f"reusing the web app's build in .web/ ({root / FINGERPRINT} matches)")
            return False
        why = "--rebuild" if force else _why(recorded(root), wanted)
        say(f"building the web app ({why}); this takes a minute or two")
        (root / FINGERPRINT).unlink(missing_ok=True)
        started = time.monotonic()
        build(root, environ, port, echo)
        output = built_output(root)
        if output is None:
            raise BuildError(f"the build finished without {BUILT_PAGE} or {ENV_JSON}")
        wanted = {**wanted, "output": output, "seconds": round(time.monotonic() - started, 1)}
        target = root / FINGERPRINT
        temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
        temporary.replace(target)
        say(f"built the web app in {wanted['seconds']:.0f} s")
        return True


def _why(found: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> str:
    if found is None:
        return "no earlier build"
    if found.get("port") != wanted["port"]:
        return f"the last build was for port {found.get('port')}"
    return "the app's code, assets, settings or Reflex changed"


def serve_command(port: int, host: str | None = None) -> list[str]:
    """Runs the backend on `port` (of `host`, Reflex's default 0.0.0.0 if None) serving the
    build in `.web/` (run it with cwd = the root)."""
    command = [sys.executable, "-m", "oncall.cli.web_serve", "--port", str(port)]
    return command if host is None else [*command, "--host", host]
