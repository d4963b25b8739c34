"""`oncall vapid generate`: a VAPID key pair for web push, printed as settings.

The keys go into the deployment's secret store, never into git; the public key is also what
browsers receive as `applicationServerKey` when they subscribe.
"""

from __future__ import annotations

import argparse
import base64
from typing import Any

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid  # type: ignore[import-untyped]


def register(sub: Any) -> None:
    vapid = sub.add_parser("vapid", help="web push (VAPID) keys")
    commands = vapid.add_subparsers(dest="vapid_command", metavar="COMMAND", required=True)
    p = commands.add_parser("generate", help="print a new key pair as ONCALL_VAPID_* settings")
    p.add_argument(
        "--subject",
        default=None,
        help="contact for push services, mailto:ADDRESS or https://URL (adds ONCALL_VAPID_SUBJECT)",
    )
    p.set_defaults(handler=generate)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_keys() -> tuple[str, str]:
    """(public, private): the public key as an uncompressed P-256 point, the private key as
    its 32-byte scalar, both base64url without padding (the forms browsers and pywebpush use)."""
    vapid = Vapid()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url(public), _b64url(private)


def generate(args: argparse.Namespace) -> int:
    public, private = generate_keys()
    print(f"ONCALL_VAPID_PUBLIC_KEY={public}")
    print(f"ONCALL_VAPID_PRIVATE_KEY={private}")
    if args.subject:
        print(f"ONCALL_VAPID_SUBJECT={args.subject}")
    return 0
