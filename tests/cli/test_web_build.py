"""The web build is reused exactly while what it is built from is unchanged: the fingerprint,
the lock that serialises builders, and what replaces Reflex's `uv run reflex run` advice."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from oncall.cli import web_build
from oncall.cli.web_build import (
    BUILT_PAGE,
    ENV_JSON,
    FINGERPRINT,
    BuildError,
    app_sources,
    build_settings,
    ensure_build,
    fingerprint,
    imported_modules,
    input_files,
    is_current,
    recorded_port,
    rewrite_line,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("source", "module", "is_package", "expected"),
    [
        ("import oncall.web.app", "rxconfig", False, {"oncall", "oncall.web", "oncall.web.app"}),
        ("from oncall.web import headers", "rxconfig", False,
         {"oncall", "oncall.web", "oncall.web.headers"}),
        ("from .state import session", "oncall.web.app", False,
         {"oncall", "oncall.web", "oncall.web.state", "oncall.web.state.session"}),
        ("from . import queries", "oncall.web.app", False, {"oncall", "oncall.web",
                                                            "oncall.web.queries"}),
        ("from .. import settings", "oncall.web.state", True,  # a package's own __init__
         {"oncall", "oncall.web", "oncall.web.settings"}),
        ("from ..db import engine", "oncall.web.app", False,
         {"oncall", "oncall.db", "oncall.db.engine"}),
        ("def f():\n    import oncall.late\n", "m", False, {"oncall", "oncall.late"}),
        ("if TYPE_CHECKING:\n    from oncall.x import Y\n", "m", False,
         {"oncall", "oncall.x", "oncall.x.Y"}),
        ("x = 1", "m", False, set()),
    ],
)
def test_imports_are_read_from_the_source(
    source: str, module: str, is_package: bool, expected: set[str]
) -> None:
    assert imported_modules(source, module, is_package) == expected


def _tree(root: Path) -> Path:
    """A repository in miniature: the app, a module it imports, one it does not."""
    files = {
        "rxconfig.py": "import reflex as rx\nfrom oncall.web.headers import allowed_origins\n",
        "oncall/__init__.py": "",
        "oncall/web/__init__.py": "",
        "oncall/web/headers.py": "def allowed_origins(e): return []\n",
        "oncall/web/app.py": "from .pages import home\nfrom oncall.core import names\n",
        "oncall/web/pages/__init__.py": "",
        "oncall/web/pages/home.py": "TITLE = 'Home'\n",
        "oncall/core/__init__.py": "",
        "oncall/core/names.py": "NAMES = ['a']\n",
        "oncall/worker.py": "import time\n",
        "assets/logo.svg": "<svg/>",
        "requirements.txt": "reflex==0.10.1\n",
        "reflex.lock/package.json": "{}",
        "docs/web.md": "# The web app\n",
        "tests/test_home.py": "from oncall.web.pages import home\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_the_sources_are_the_import_closure_of_the_app(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert [p.relative_to(root).as_posix() for p in app_sources(root)] == [
        "oncall/__init__.py",
        "oncall/core/__init__.py",
        "oncall/core/names.py",
        "oncall/web/__init__.py",
        "oncall/web/app.py",
        "oncall/web/headers.py",
        "oncall/web/pages/__init__.py",
        "oncall/web/pages/home.py",
        "rxconfig.py",
    ]
    inputs = {p.relative_to(root).as_posix() for p in input_files(root)}
    assert {"assets/logo.svg", "requirements.txt", "reflex.lock/package.json"} <= inputs
    assert not inputs & {"oncall/worker.py", "docs/web.md", "tests/test_home.py"}


def test_the_real_app_is_built_from_its_pages_states_and_assets() -> None:
    inputs = {p.relative_to(REPO).as_posix() for p in input_files(REPO)}
    assert {"rxconfig.py", "oncall/web/app.py", "oncall/web/pages/oncall.py",
            "oncall/web/state/oncall.py", "oncall/web/sanitize.py",
            "requirements.txt", "reflex.lock/package.json"} <= inputs
    assert any(name.startswith("assets/") for name in inputs)
    assert not any(name.startswith(("tests/", "docs/", "bench/")) for name in inputs)


def _edit(path: str, text: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return apply


def _touch(path: str) -> Callable[[Path], None]:
    return lambda root: (root / path).touch()


@pytest.mark.parametrize(
    ("change", "rebuilds"),
    [
        (_edit("oncall/web/pages/home.py", "TITLE = 'Start'\n"), True),
        (_edit("oncall/core/names.py", "NAMES = ['b']\n"), True),  # imported by the app
        (_edit("rxconfig.py", "import reflex as rx\n"), True),
        (_edit("assets/logo.svg", "<svg></svg>"), True),
        (_edit("assets/icons/new.svg", "<svg/>"), True),
        (_edit("requirements.txt", "reflex==0.10.2\n"), True),
        (_edit("reflex.lock/bun.lock", "{}"), True),
        (_edit("oncall/worker.py", "import os\n"), False),  # not imported by the app
        (_edit("docs/web.md", "# Changed\n"), False),
        (_edit("tests/test_home.py", "\n"), False),
        (_edit("oncall/web/pages/home.py", "TITLE = 'Home'\n"), False),  # same content
        (_touch("oncall/web/app.py"), False),  # only the time changes
    ],
)
def test_the_fingerprint_changes_when_an_input_changes_and_only_then(
    tmp_path: Path, change: Callable[[Path], None], rebuilds: bool
) -> None:
    root = _tree(tmp_path)
    before = fingerprint(root, {}, 3000)["digest"]
    time.sleep(0.01)
    change(root)
    assert (fingerprint(root, {}, 3000)["digest"] != before) is rebuilds


@pytest.mark.parametrize(
    ("environ", "port", "rebuilds"),
    [
        ({}, 3001, True),  # the websocket URL in the bundle names the port
        ({"REFLEX_API_URL": "https://oncall.example"}, 3000, True),
        ({"REFLEX_FRONTEND_PATH": "/oncall"}, 3000, True),
        ({"VITE_MINIFY": "false"}, 3000, True),
        ({"REFLEX_TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false"}, 3000,
         False),
        ({"REFLEX_BUN_PATH": "/opt/bun", "REFLEX_FRONTEND_PORT": "9999"}, 3000, False),
        ({"ONCALL_DATABASE_URL": "sqlite:///x.db", "PATH": "/bin"}, 3000, False),
    ],
)
def test_the_fingerprint_covers_the_settings_baked_into_the_bundle(
    tmp_path: Path, environ: dict[str, str], port: int, rebuilds: bool
) -> None:
    root = _tree(tmp_path)
    before = fingerprint(root, {}, 3000)["digest"]
    assert (fingerprint(root, environ, port)["digest"] != before) is rebuilds


def test_build_settings_keep_only_what_the_bundle_bakes_in() -> None:
    assert build_settings(
        {"REFLEX_API_URL": "https://a", "REFLEX_LOGLEVEL": "debug", "HOME": "/root"}, 8000
    ) == {"REFLEX_API_URL": "https://a", "port": "8000"}


class Builder:
    """Stands in for `reflex export`: writes a page and counts builds (and overlapping ones)."""

    def __init__(self, seconds: float = 0.0, fail: bool = False) -> None:
        self.seconds, self.fail = seconds, fail
        self.builds = self.running = self.most_at_once = 0
        self.guard = threading.Lock()

    def __call__(self, root: Path, environ: Mapping[str, str], port: int,
                 echo: Callable[[str], object]) -> None:
        with self.guard:
            self.builds += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            time.sleep(self.seconds)
            if self.fail:
                raise BuildError("bun failed")
            (root / BUILT_PAGE).parent.mkdir(parents=True, exist_ok=True)
            (root / BUILT_PAGE).write_text(f"<html>{port}</html>")
            (root / ENV_JSON).write_text(json.dumps({"EVENT": f"ws://localhost:{port}/_event"}))
            echo("Creating Production Build")
        finally:
            with self.guard:
                self.running -= 1


def _ensure(root: Path, builder: Builder, port: int = 3000, force: bool = False) -> bool:
    said: list[str] = []
    return ensure_build(root, port, {}, force=force, say=said.append, echo=said.append,
                        build=builder)


def test_a_second_start_reuses_the_build_and_a_change_rebuilds(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    builder = Builder()
    assert _ensure(root, builder) is True
    assert json.loads((root / FINGERPRINT).read_text())["port"] == 3000
    assert _ensure(root, builder) is False
    (root / "oncall/web/pages/home.py").write_text("TITLE = 'Start'\n")
    assert _ensure(root, builder) is True
    assert _ensure(root, builder) is False
    assert _ensure(root, builder, force=True) is True
    assert _ensure(root, builder, port=3001) is True
    assert builder.builds == 4


@pytest.mark.parametrize(
    "damage",
    [
        _edit(str(FINGERPRINT), "{not json"),
        _edit(str(FINGERPRINT), "[1, 2]"),
        _edit(str(FINGERPRINT), '{"format": 1}'),
        _edit(str(FINGERPRINT), ""),
        lambda root: (root / FINGERPRINT).write_bytes(b"\xff\xfe\x00"),
        lambda root: (root / FINGERPRINT).unlink(),
        lambda root: (root / BUILT_PAGE).unlink(),  # the build itself is gone
        lambda root: (root / ENV_JSON).unlink(),
        # built again by hand (`reflex run --env prod --backend-port 8000`) for another port
        _edit(str(ENV_JSON), '{"EVENT": "ws://localhost:8000/_event"}'),
        _edit(str(BUILT_PAGE), "<html><script src='/assets/entry-8000.js'></script></html>"),
    ],
)
def test_a_damaged_or_missing_record_rebuilds(
    tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    root = _tree(tmp_path)
    builder = Builder()
    _ensure(root, builder)
    damage(root)
    assert not is_current(root, fingerprint(root, {}, 3000))
    assert _ensure(root, builder) is True
    assert _ensure(root, builder) is False


def test_a_failed_build_is_never_taken_for_a_finished_one(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _ensure(root, Builder())
    (root / "oncall/web/pages/home.py").write_text("TITLE = 'Start'\n")
    with pytest.raises(BuildError):
        _ensure(root, Builder(fail=True))
    assert not (root / FINGERPRINT).exists()
    assert _ensure(root, Builder()) is True


def test_two_starts_at_once_build_once_and_never_together(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    builder = Builder(seconds=0.5)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(_ensure(root, builder)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, True]
    assert builder.builds == 1 and builder.most_at_once == 1


def test_the_lock_makes_another_process_wait(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from oncall.cli.web_build import build_lock\n"
         "with build_lock(Path(sys.argv[1])):\n"
         "    print('locked', flush=True); time.sleep(1.5)\n", str(root)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    said: list[str] = []
    started = time.monotonic()
    ensure_build(root, 3000, {}, say=said.append, echo=said.append, build=Builder())
    waited = time.monotonic() - started
    assert holder.wait(timeout=10) == 0
    assert waited > 0.8, waited
    assert said[0].startswith("another process is building the web app")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Success: Initialized oncall. Run `uv run reflex run` to start the app.",
         "oncall: Reflex's frontend is set up in .web/; the app starts at http://localhost:3000 "
         "(to start it again later: `make run`, or `.venv/bin/oncall run .`)"),
        ("Install dependencies ... before running `uv run reflex run`.",
         "oncall: Reflex's frontend is set up in .web/; the app starts at http://localhost:3000 "
         "(to start it again later: `make run`, or `.venv/bin/oncall run .`)"),
        ("Compiling: 100% 41/40", "Compiling: 100% 41/40"),
        ("Info: Initializing the web directory.", "Info: Initializing the web directory."),
    ],
)
def test_reflex_advice_to_run_reflex_is_replaced(line: str, expected: str) -> None:
    assert rewrite_line(line, 3000) == expected


def test_the_recorded_port_is_offered_only_while_free(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert recorded_port(root) is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = int(s.getsockname()[1])
        _ensure(root, Builder(), port=busy)
        assert recorded_port(root) is None
    assert recorded_port(root) == busy
    # the last run's connections linger in TIME_WAIT after it stopped: the port is still free
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and gunicorn
        server.bind(("127.0.0.1", busy))
        server.listen()
        with socket.create_connection(("127.0.0.1", busy)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server closes first, as a stopping app does
            client.recv(1)
    assert recorded_port(root) == busy
    (root / FINGERPRINT).write_text('{"digest": "x", "port": "3000"}')
    assert recorded_port(root) is None


def test_serving_runs_reflex_from_this_interpreter() -> None:
    command = web_build.serve_command(3917)
    assert command == [sys.executable, "-m", "oncall.cli.web_serve", "--port", "3917"]


@pytest.mark.parametrize("code", [0, 3])
def test_the_build_echoes_reflex_output_with_its_advice_rewritten(
    tmp_path: Path, code: int
) -> None:
    reflex = tmp_path / "reflex"
    reflex.write_text(
        "#!/bin/sh\n"
        'echo "args: $* port: $REFLEX_BACKEND_PORT $REFLEX_FRONTEND_PORT"\n'
        "echo 'Success: Initialized oncall. Run `uv run reflex run` to start the app.' >&2\n"
        f"exit {code}\n"
    )
    reflex.chmod(0o755)
    lines: list[str] = []
    if code:
        with pytest.raises(BuildError, match="exited with 3"):
            web_build.reflex_export(tmp_path, {}, 3917, lines.append, reflex=reflex)
    else:
        web_build.reflex_export(tmp_path, {}, 3917, lines.append, reflex=reflex)
    assert lines == [
        "args: export --frontend-only --no-zip --env prod port: 3917 3917",
        "oncall: Reflex's frontend is set up in .web/; the app starts at http://localhost:3917 "
        "(to start it again later: `make run`, or `.venv/bin/oncall run .`)",
    ]
