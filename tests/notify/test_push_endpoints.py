"""A push endpoint is whatever a signed-in browser sent: the worker refuses to POST to the
cloud's metadata service or anything else on the deny list, by name or by resolved address."""

from __future__ import annotations

import pytest

from oncall.notify.providers.webpush import endpoint_refused
from oncall.settings import parse_webhook_deny
from oncall.workflows.http import DenyList

DENY = DenyList.of(parse_webhook_deny("internal.example, 10.0.0.0/8"))
RESOLVES = {
    "fcm.googleapis.com": ["142.250.74.42"],
    "push.internal.example": ["10.1.2.3"],
    "sneaky.example.net": ["169.254.169.254"],
    "twofaced.example.net": ["93.184.216.34", "10.9.9.9"],
    "127.0.0.1": ["127.0.0.1"],
}


def resolve(host: str) -> list[str]:
    if host not in RESOLVES:
        raise OSError("no such host")
    return RESOLVES[host]


@pytest.mark.parametrize(("endpoint", "why"), [
    ("https://fcm.googleapis.com/fcm/send/abc", None),
    ("http://127.0.0.1:8085/push/1", None),  # a local push service, as in the tests
    ("https://unknown.example/push", None),  # not resolvable now: the send itself fails
    ("http://169.254.169.254/latest/meta-data/", "host 169.254.169.254 is on the deny list"),
    ("https://push.internal.example/x", "host push.internal.example is on the deny list"),
    ("https://sneaky.example.net/x", "sneaky.example.net resolves to a denied address"),
    ("https://twofaced.example.net/x", "twofaced.example.net resolves to a denied address"),
    ("https://[fd00:ec2::254]/x", "is on the deny list"),
    ("ftp://fcm.googleapis.com/x", "not an http(s) URL"),
    ("https:///x", "not an http(s) URL"),
])
def test_endpoint_refused(endpoint: str, why: str | None) -> None:
    refused = endpoint_refused(endpoint, DENY, resolve)
    if why is None:
        assert refused is None
    else:
        assert refused is not None and why in refused
