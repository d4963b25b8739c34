"""The deployment files agree with the code and with docs/deployment.md: the image installs
requirements.txt, runs as an unprivileged user, exposes the ports the commands listen on and
checks /healthz; the entry point picks the role; every unit's command line parses; the docs
show the files as they are."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from oncall.api import health
from oncall.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
CONTAINERFILE = ROOT / "Containerfile"
IGNORE = ROOT / ".containerignore"
ENTRYPOINT = ROOT / "docs" / "deploy" / "container" / "entrypoint.sh"
UNITS = sorted((ROOT / "docs" / "deploy" / "systemd").glob("*.service"))
DOC = (ROOT / "docs" / "deployment.md").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Containerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def ignored(path: str) -> bool:
    patterns = [line.strip() for line in IGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    parts = path.split("/")
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(parts[0], p)
               or fnmatch.fnmatch(parts[-1], p.removeprefix("**/")) for p in patterns)


def test_the_image_is_built_on_python_3_11_slim_in_two_stages() -> None:
    args = dict(rest.split("=", 1) for word, rest in instructions() if word == "ARG"
                and "=" in rest)
    assert args["PYTHON_IMAGE"].startswith("python:3.11-slim")
    assert [rest.split()[0] for word, rest in instructions() if word == "FROM"] == [
        "${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert len(stages()) == 2


def test_the_build_installs_requirements_before_the_code_and_bun_as_the_makefile_does() -> None:
    build = stages()[0]
    runs = [rest for word, rest in build if word == "RUN"]
    assert any("pip install -r requirements.txt" in run for run in runs)
    order = [(word, rest) for word, rest in build if word in ("COPY", "RUN")]
    requirements = next(i for i, (w, r) in enumerate(order) if "pip install -r" in r)
    code = next(i for i, (w, r) in enumerate(order) if w == "COPY" and r.startswith("oncall "))
    assert requirements < code  # a change of code alone reuses the dependencies' layer
    makefile_bun = re.search(r"^BUN_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    image_bun = next(rest for word, rest in build if word == "ARG"
                     and rest.startswith("BUN_VERSION="))
    assert makefile_bun is not None and image_bun == f"BUN_VERSION={makefile_bun.group(1)}"
    assert any("bun@${BUN_VERSION}" in run and "npm install" in run for run in runs)


def test_everything_copied_is_in_the_repository_and_sent_to_the_build() -> None:
    for word, rest in instructions():
        if word != "COPY" or "--from=" in rest:
            continue
        sources = [part for part in shlex.split(rest) if not part.startswith("--")][:-1]
        for source in sources:
            assert (ROOT / source).exists(), source
            assert not ignored(source), f"{source} is excluded by .containerignore"


@pytest.mark.parametrize("path", [".git", ".venv", ".web", "tools/node_modules", "oncall.db",
                                  "oncall-queue.db", "oncall/api/__pycache__", "tests"])
def test_local_state_and_history_stay_out_of_the_build(path: str) -> None:
    assert ignored(path)


def test_the_image_runs_unprivileged_and_checks_healthz_on_the_ports_it_exposes() -> None:
    final = stages()[-1]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    exposed = {int(port) for word, rest in final if word == "EXPOSE" for port in rest.split()}
    api_port = build_parser().parse_args(["api"]).port
    web_port = int(re.search(r"ONCALL_WEB_PORT:-(\d+)", ENTRYPOINT.read_text()).group(1))  # type: ignore[union-attr]
    assert exposed == {api_port, web_port}
    env = " ".join(rest for word, rest in final if word == "ENV")
    assert f"ONCALL_HEALTH_URL=http://127.0.0.1:{api_port}{health.HEALTH_PATH}" in env
    check = next(rest for word, rest in final if word == "HEALTHCHECK")
    assert "ONCALL_HEALTH_URL" in check
    assert ("STOPSIGNAL", "SIGTERM") in final
    for port in exposed:
        assert str(port) in DOC


@pytest.fixture
def stub_path(tmp_path: Path) -> dict[str, str]:
    """`oncall` and `reflex` stand-ins that print how they were called."""
    for name in ("oncall", "reflex"):
        stub = tmp_path / name
        stub.write_text(f'#!/bin/sh\necho {name} "$@"\n')
        stub.chmod(0o755)
    return {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"}


@pytest.mark.parametrize(
    ("argv", "env", "ran"),
    [
        (["api", "--host", "0.0.0.0"], {}, "oncall api --host 0.0.0.0"),
        (["worker"], {}, "oncall worker"),
        (["--help"], {}, "oncall --help"),
        (["web"], {}, "oncall web --host 0.0.0.0 --port 3000"),
        (["web"], {"ONCALL_WEB_PORT": "8000"}, "oncall web --host 0.0.0.0 --port 8000"),
        (["web", "--rebuild"], {}, "oncall web --host 0.0.0.0 --port 3000 --rebuild"),
    ],
)
def test_the_entry_point_picks_the_role(stub_path: dict[str, str], argv: list[str],
                                        env: dict[str, str], ran: str) -> None:
    done = subprocess.run([str(ENTRYPOINT), *argv], env={**stub_path, **env},
                          capture_output=True, text=True, check=True, timeout=10)
    assert done.stdout.strip() == ran


def _exec_start(unit: Path) -> list[str]:
    line = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart=").replace("%i", "8080"))


@pytest.mark.parametrize("unit", [u for u in UNITS if "migrate" not in u.name],
                         ids=lambda u: u.name)
def test_each_units_command_line_parses(unit: Path) -> None:
    argv = _exec_start(unit)
    assert argv[0] == "/opt/oncall/venv/bin/oncall"
    args = build_parser().parse_args(
        [arg if not arg.startswith("${") else "placeholder" for arg in argv[1:]])
    assert args.handler is not None
    if args.command in ("api", "worker"):
        assert args.grace < stop_timeout(unit)


def stop_timeout(unit: Path) -> int:
    found = re.search(r"^TimeoutStopSec=(\d+)$", unit.read_text(), re.M)
    assert found is not None
    return int(found.group(1))


@pytest.mark.parametrize(
    "path", [*UNITS, ROOT / "docs/deploy/systemd/oncall.env.example",
             ROOT / "docs/deploy/proxy/Caddyfile", ROOT / "docs/deploy/proxy/nginx.conf"],
    ids=lambda p: p.name,
)
def test_the_deployment_guide_shows_each_file_as_it_is(path: Path) -> None:
    relative = path.relative_to(ROOT).as_posix()
    assert f"# {relative}\n{path.read_text()}```" in DOC
