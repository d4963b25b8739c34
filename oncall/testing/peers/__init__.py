"""Local stand-ins for the notification providers, for tests and for running offline.

Each is a context manager yielding itself (`.url`, recorded requests, `.env()`); run one from
a shell with `python -m oncall.testing.peers KIND --port 0`. The SES/SNS and SMTP peers need
the test dependencies (moto, aiosmtpd) and are imported only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from oncall.testing.peers.base import Peer, RecordedRequest, Reply
from oncall.testing.peers.push import PushServicePeer
from oncall.testing.peers.slack import SlackPeer
from oncall.testing.peers.teams import TeamsPeer
from oncall.testing.peers.twilio import CallbackResponse, TwilioPeer
from oncall.testing.peers.webhook import WebhookPeer

if TYPE_CHECKING:
    from oncall.testing.peers.aws import MotoPeer
    from oncall.testing.peers.smtp import ReceivedMail, SmtpPeer

__all__ = [
    "CallbackResponse",
    "MotoPeer",
    "Peer",
    "PushServicePeer",
    "ReceivedMail",
    "RecordedRequest",
    "Reply",
    "SlackPeer",
    "SmtpPeer",
    "TeamsPeer",
    "TwilioPeer",
    "WebhookPeer",
]


def __getattr__(name: str) -> Any:
    if name == "MotoPeer":
        from oncall.testing.peers.aws import MotoPeer

        return MotoPeer
    if name in ("SmtpPeer", "ReceivedMail"):
        from oncall.testing.peers import smtp

        return getattr(smtp, name)
    raise AttributeError(name)
