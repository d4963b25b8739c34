"""`oncall api` believes forwarded headers only from the proxies it is told of (127.0.0.1 unless
set), and bounds how long a stop waits for requests in flight."""

from __future__ import annotations

import argparse
import os
from typing import Any

import pytest
from sqlalchemy import Engine

from oncall.api import server
from oncall.cli import api_commands
from oncall.cli.main import build_parser


@pytest.mark.parametrize(
    ("option", "environ", "trusted"),
    [
        (None, {}, "127.0.0.1"),
        (None, {"FORWARDED_ALLOW_IPS": "*"}, "127.0.0.1"),  # uvicorn's own variable: ignored
        (None, {"ONCALL_FORWARDED_ALLOW_IPS": " 10.0.0.5 , 10.0.1.0/24 "}, "10.0.0.5,10.0.1.0/24"),
        ("192.0.2.10", {"ONCALL_FORWARDED_ALLOW_IPS": "10.0.0.5"}, "192.0.2.10"),
        (None, {"ONCALL_FORWARDED_ALLOW_IPS": " , "}, "127.0.0.1"),
    ],
    ids=["default", "uvicorn-variable", "setting", "option-wins", "blank-setting"],
)
def test_whose_forwarded_headers_are_believed(
    option: str | None, environ: dict[str, str], trusted: str
) -> None:
    args = argparse.Namespace(forwarded_allow_ips=option)
    assert api_commands.forwarded_allow_ips(args, environ) == trusted


def test_serve_hands_the_proxy_and_grace_settings_to_the_server(
    migrated_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: dict[str, Any] = {}
    monkeypatch.setattr(server, "run_server",
                        lambda app, **options: ran.update(options, app=app))
    monkeypatch.setenv("ONCALL_FORWARDED_ALLOW_IPS", "10.0.0.5")
    monkeypatch.delenv("ONCALL_DATABASE_URL", raising=False)  # serve sets it: restored after
    url = migrated_engine.url.render_as_string(hide_password=False)
    args = build_parser().parse_args(["api", "--database-url", url, "--grace", "7"])
    assert args.handler(args) == 0
    assert ran["proxy_headers"] is True
    assert ran["forwarded_allow_ips"] == "10.0.0.5"
    assert ran["timeout_graceful_shutdown"] == 7

    ran.clear()
    monkeypatch.delenv("ONCALL_FORWARDED_ALLOW_IPS")
    args = build_parser().parse_args(["api", "--database-url", url])
    assert args.handler(args) == 0
    assert ran["forwarded_allow_ips"] == "127.0.0.1"
    assert ran["timeout_graceful_shutdown"] == api_commands.GRACE_SECONDS


def test_a_negative_grace_is_refused(migrated_engine: Engine,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    url = migrated_engine.url.render_as_string(hide_password=False)
    args = build_parser().parse_args(["api", "--database-url", url, "--grace", "-1"])
    assert args.handler(args) == 2
    assert "--grace" in capsys.readouterr().err


@pytest.mark.parametrize(("cores", "workers"), [(1, 2), (2, 3), (3, 4), (16, 4)])
def test_the_default_process_count_follows_the_cores(cores: int, workers: int) -> None:
    assert api_commands.default_workers(cores) == workers


@pytest.mark.parametrize(
    ("options", "workers", "threads"),
    [([], 3, "4"), (["--workers", "1", "--threads", "2"], 1, "2")],
    ids=["defaults-on-2-cores", "chosen"],
)
def test_serve_runs_the_processes_and_threads_a_machine_needs(
    migrated_engine: Engine, monkeypatch: pytest.MonkeyPatch,
    options: list[str], workers: int, threads: str,
) -> None:
    ran: dict[str, Any] = {}
    monkeypatch.setattr(server, "run_server",
                        lambda app, **options: ran.update(options, app=app))
    monkeypatch.setattr(api_commands, "usable_cores", lambda: 2)
    monkeypatch.delenv("ONCALL_DATABASE_URL", raising=False)  # serve sets these: restored after
    monkeypatch.delenv(api_commands.THREADS_VARIABLE, raising=False)
    url = migrated_engine.url.render_as_string(hide_password=False)
    args = build_parser().parse_args(["api", "--database-url", url, *options])
    assert args.handler(args) == 0
    assert ran["workers"] == workers
    assert os.environ[api_commands.THREADS_VARIABLE] == threads
