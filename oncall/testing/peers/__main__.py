"""`python -m oncall.testing.peers KIND [--port N]`: run one peer until interrupted.

Prints the `ONCALL_*` lines that point the app at it, ready for `export` or an env file.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

KINDS = ("slack", "twilio", "teams", "push", "aws", "smtp", "webhook", "github")


def _make(args: argparse.Namespace) -> Any:
    if args.kind == "slack":
        from oncall.testing.peers.slack import SlackPeer

        users = dict(pair.split("=", 1) for pair in args.user)
        return SlackPeer(token=args.token, users=users, host=args.host, port=args.port)
    if args.kind == "twilio":
        from oncall.testing.peers.twilio import TwilioPeer

        return TwilioPeer(args.account_sid, args.auth_token, host=args.host, port=args.port)
    if args.kind == "teams":
        from oncall.testing.peers.teams import TeamsPeer

        return TeamsPeer(host=args.host, port=args.port)
    if args.kind == "push":
        from oncall.testing.peers.push import PushServicePeer

        return PushServicePeer(host=args.host, port=args.port)
    if args.kind == "aws":
        from oncall.testing.peers.aws import MotoPeer

        return MotoPeer(host=args.host, port=args.port)
    if args.kind == "webhook":
        from oncall.testing.peers.webhook import WebhookPeer

        return WebhookPeer(host=args.host, port=args.port)
    if args.kind == "github":
        from oncall.testing.peers.github import GitHubPeer

        return GitHubPeer(host=args.host, port=args.port)
    from oncall.testing.peers.smtp import SmtpPeer

    return SmtpPeer(host=args.host, port=args.port)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m oncall.testing.peers",
        description="Run a local stand-in for a notification provider.",
    )
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default="xoxb-oncall-test", help="slack: bot token expected")
    parser.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="EMAIL=UID",
        help="slack: a user users.lookupByEmail knows (repeatable)",
    )
    parser.add_argument("--account-sid", default=None, help="twilio: account SID")
    parser.add_argument("--auth-token", default=None, help="twilio: auth token")
    parser.add_argument("--sender", default=None, help="aws: SES identity to verify")
    args = parser.parse_args(argv)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with _make(args) as peer:
        if args.kind == "aws" and args.sender:
            peer.verify_sender(args.sender)
        print(f"# {args.kind} peer listening on {peer.url}", flush=True)
        if args.kind == "teams":
            print(f"# webhook URL (a Teams channel's address): {peer.webhook_url}", flush=True)
        if args.kind == "push":
            print(f"# subscription endpoint example: {peer.endpoint('example')}", flush=True)
        for name, value in peer.env().items():
            print(f"{name}={value}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
