"""`oncall web`: the web role builds only when its inputs changed, then becomes the server."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from oncall.cli import web_build, web_serve
from oncall.cli.main import main
from oncall.cli.web_build import BUILT_PAGE, ENV_JSON


class Served(Exception):
    """Raised by the stand-in for `os.execve`: the process would have become the server."""

    def __init__(self, argv: list[str], env: Mapping[str, str]) -> None:
        super().__init__(argv)
        self.argv, self.env = argv, env


def _checkout(root: Path) -> Path:
    for name, text in {
        "rxconfig.py": "import reflex as rx\n",
        "oncall/__init__.py": "",
        "oncall/web/__init__.py": "",
        "oncall/web/app.py": "TITLE = 'Home'\n",
        "requirements.txt": "reflex\n",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    """`reflex export` and `os.execve` replaced: each build is recorded as (port, advice)."""
    done: list[tuple[int, str]] = []

    def export(root: Path, environ: Mapping[str, str], port: int,
               echo: Callable[[str], object], again: str = web_build.RUN_AGAIN) -> None:
        done.append((port, again))
        (root / BUILT_PAGE).parent.mkdir(parents=True, exist_ok=True)
        (root / BUILT_PAGE).write_text("<html></html>")
        (root / ENV_JSON).write_text(json.dumps({"EVENT": f"ws://localhost:{port}/_event"}))

    def execve(path: str, argv: list[str], env: Mapping[str, str]) -> None:
        raise Served(argv, env)

    monkeypatch.setattr(web_build, "reflex_export", export)
    monkeypatch.setattr("os.execve", execve)
    return done


def test_web_builds_once_and_serves_the_build(
    tmp_path: Path, builds: list[tuple[int, str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _checkout(tmp_path / "app")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Served) as first:
        main(["web", "--app-dir", str(root), "--port", "3917"])
    assert builds == [(3917, "`oncall web`")]
    assert first.value.argv == [sys.executable, "-m", "oncall.cli.web_serve", "--port", "3917",
                                "--host", "127.0.0.1"]
    assert Path.cwd() == root.resolve()  # Reflex finds rxconfig.py and .web/ from here
    assert first.value.env["REFLEX_TELEMETRY_ENABLED"] == "false"

    with pytest.raises(Served) as second:
        main(["web", "--app-dir", str(root), "--port", "3917", "--host", "0.0.0.0"])
    assert len(builds) == 1, "an unchanged checkout is served from its build"
    assert second.value.argv[-2:] == ["--host", "0.0.0.0"]
    assert "reusing the web app's build" in capsys.readouterr().err

    (root / "oncall/web/app.py").write_text("TITLE = 'Start'\n")
    with pytest.raises(Served):
        main(["web", "--app-dir", str(root), "--port", "3917"])
    assert len(builds) == 2, "a change of the app rebuilds"


def test_web_needs_the_directory_holding_rxconfig(
    tmp_path: Path, builds: list[tuple[int, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["web", "--app-dir", str(tmp_path)]) == 2
    assert "no rxconfig.py in" in capsys.readouterr().err
    assert builds == []


def test_the_advice_after_a_build_names_the_command_that_starts_it_again() -> None:
    line = "Success: Initialized oncall. Run `uv run reflex run` to start the app."
    assert web_build.rewrite_line(line, 3000, "`oncall web`") == (
        "oncall: Reflex's frontend is set up in .web/; the app starts at http://localhost:3000 "
        "(to start it again later: `oncall web`)")


@pytest.mark.parametrize(("argv", "host"), [(["--port", "3917"], []),
                                             (["--port", "3917", "--host", "127.0.0.1"],
                                              ["--backend-host", "127.0.0.1"])])
def test_serving_passes_the_address_to_reflex(
    monkeypatch: pytest.MonkeyPatch, argv: list[str], host: list[str]
) -> None:
    import reflex.reflex
    import reflex.utils.build

    # web_serve replaces these two for good in its own process; here they are put back after
    monkeypatch.setattr(reflex.reflex, "_compile_app", reflex.reflex._compile_app)
    monkeypatch.setattr(reflex.utils.build, "setup_frontend_prod",
                        reflex.utils.build.setup_frontend_prod)
    ran: list[list[str]] = []
    monkeypatch.setattr(reflex.reflex.cli, "main",
                        lambda args, prog_name: ran.append(list(args)))
    assert web_serve.main(argv) == 0
    assert ran == [["run", "--env", "prod", "--single-port", *host, "--frontend-port", "3917",
                    "--backend-port", "3917"]]
