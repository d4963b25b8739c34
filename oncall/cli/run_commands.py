"""`oncall run`: the whole app on one machine — migrate, apply the config, start a worker and
the web app (with the API), and stop them together.

With no Slack or email provider configured, local stand-ins (`oncall.testing.peers`) receive
the pages, and the workflows' and runbooks' webhooks whose `${env:…}` settings are unset go to
a local receiver, so a new user sees escalation and automation work end to end with no account
anywhere.

The web app's frontend is built only when what it is built from changed since the last build
(`web_build`); otherwise the existing build in `.web/` is served and the app is up in seconds.
`--rebuild` builds anyway.
"""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import oncall
from oncall.cli import web_build
from oncall.settings import Settings, SettingsError

if TYPE_CHECKING:
    from oncall.config.configset import ConfigSet
    from oncall.config.models import Webhook

ROOT = Path(oncall.__file__).resolve().parents[1]

STOP_WAIT = 15.0
"""Seconds the app's processes get to stop before they are killed."""
WORKER_GRACE = 10.0
"""The worker's `--grace` here: well inside `STOP_WAIT`."""


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run everything on this machine: worker, web app and API")
    p.add_argument("dir", nargs="?", default=".", help="config repo to apply (default: .)")
    p.add_argument("--port", type=int, default=3000, help="web app and API port (3000)")
    p.add_argument(
        "--no-peers",
        action="store_true",
        help="do not start local Slack/email stand-ins when none is configured",
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="build the web app's frontend even if the build in .web/ is current",
    )
    p.set_defaults(handler=run)


def _say(message: str) -> None:
    print(f"oncall: {message}", file=sys.stderr, flush=True)


def _apply(settings: Settings, directory: str) -> int:
    from oncall.config.diagnostics import render
    from oncall.config.loader import ConfigDirError, load
    from oncall.db.engine import make_engine
    from oncall.db.migrate import upgrade
    from oncall.reconcile.apply import Origin, apply_config, git_revision

    upgrade(settings.database_url)
    try:
        result = load(directory, now=datetime.now(UTC))
    except ConfigDirError as exc:
        _say(f"error: {exc}")
        return 2
    if result.errors:
        print(render(result.diagnostics, "text"), file=sys.stderr)
        _say("the config has errors: nothing was started")
        return 1
    engine = make_engine(settings.database_url)
    try:
        origin = Origin(
            actor=f"user:{getpass.getuser()}",
            source=str(Path(directory).resolve()),
            revision=git_revision(directory),
            now=datetime.now(UTC),
        )
        applied = apply_config(engine, result.config, origin, force=True)
    finally:
        engine.dispose()
    _say(f"applied {directory}: {applied.plan.summary()}")
    return 0


def webhook_settings(config: ConfigSet) -> list[str]:
    """The `${env:…}` names the workflows' and runbooks' webhooks read (URL and headers)."""
    from oncall.config.models import IfStep, WebhookStep
    from oncall.config.types import env_names

    webhooks: list[Webhook] = [runbook.webhook for runbook in config.runbooks.values()]

    def walk(steps: list[Any]) -> None:
        for step in steps:
            if isinstance(step, WebhookStep):
                webhooks.append(step.webhook)
            elif isinstance(step, IfStep):
                walk(step.then)
                walk(step.else_)

    for workflow in config.workflows.values():
        walk(workflow.steps)
    names = [name for hook in webhooks
             for text in (hook.url, *hook.headers.values()) for name in env_names(text)]
    return sorted(set(names))


def _peers(stack: ExitStack, env: dict[str, str], config: ConfigSet) -> None:
    """Local stand-ins for the providers and webhook targets that are not configured."""
    from oncall.testing.peers import SlackPeer, WebhookPeer

    users = sorted(config.users)

    if not env.get("ONCALL_SLACK_TOKEN"):
        slack = stack.enter_context(SlackPeer(users={u: f"U{i:05d}" for i, u in enumerate(users)}))
        env.update(slack.env())
        _say(f"Slack is not configured: pages go to a local stand-in at {slack.url}")
    if not env.get("ONCALL_SMTP_URL") and not env.get("ONCALL_SES_REGION"):
        try:
            from oncall.testing.peers.smtp import SmtpPeer
        except ImportError:
            return
        smtp = stack.enter_context(SmtpPeer())
        env.update(smtp.env())
        _say(f"email is not configured: mail goes to a local SMTP stand-in at {smtp.url}")
    unset = [name for name in webhook_settings(config) if not env.get(name)]
    if unset:
        hooks = stack.enter_context(WebhookPeer())
        for name in unset:  # a base URL goes to the receiver; a token gets a stand-in value
            env[name] = (f"{hooks.url}/{name.lower().removesuffix('_url')}"
                         if name.endswith("_URL") else f"local-{name.lower()}")
        _say(f"{', '.join(unset)} not set: workflow and runbook webhooks go to a local "
             f"receiver at {hooks.url}")


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        _say(f"error: {exc}")
        return 2
    if not (ROOT / "rxconfig.py").exists():
        _say(f"error: the web app needs the source checkout (no rxconfig.py in {ROOT})")
        return 2
    code = _apply(settings, args.dir)
    if code:
        return code
    env = web_build.reflex_environment(ROOT, os.environ)
    env.setdefault("ONCALL_PUBLIC_URL", f"http://localhost:{args.port}")
    bin_dir = Path(sys.executable).parent
    try:
        web_build.ensure_build(ROOT, args.port, env, force=args.rebuild, say=_say,
                               echo=lambda line: print(line, file=sys.stderr, flush=True))
    except web_build.BuildError as exc:
        _say(f"error: the web app did not build: {exc}")
        return 1
    with ExitStack() as stack:
        if not args.no_peers:
            from oncall.config.loader import load

            _peers(stack, env, load(args.dir).config)
        children = [
            # its grace ends before this command's own wait below does: rows it still holds
            # are handed back, not left to their lease
            subprocess.Popen([str(bin_dir / "oncall"), "worker", "--grace", str(WORKER_GRACE)],
                             env=env),
            # `reflex run --env prod --single-port` on the build checked above
            subprocess.Popen(web_build.serve_command(args.port), env=env, cwd=ROOT),
        ]
        _say(f"web app and API on http://localhost:{args.port} (Ctrl-C stops everything)")
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(c.poll() is None for c in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_WAIT
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        failed = [c.returncode for c in children if c.returncode not in (0, -2, 130, None)]
        return 1 if failed and not stopping else 0
