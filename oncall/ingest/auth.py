"""Verifying who sent an alert: bearer token, HMAC-SHA256 signature, or SNS's own signature.

Pure functions: the adapter passes headers, the raw body, the secret and the current time, and
answers 401 (storing nothing) on `AuthError`. Every secret comparison is constant-time.

HMAC scheme (for senders that can sign; the header names are part of our public interface):

    X-Oncall-Timestamp: <unix seconds>
    X-Oncall-Signature: sha256=<hex of HMAC-SHA256(secret, timestamp + "." + raw body)>

A timestamp older than `REPLAY_WINDOW` or more than `MAX_FUTURE_SKEW` ahead of the receiver's
clock is refused, so a captured request cannot be replayed later; inside the window the adapter
refuses a request whose signature it has accepted before (`HmacProof.digest`, kept in the
`ingest_replays` table until `HmacProof.expires_at`). Several `sha256=` values separated by
commas are accepted (any one matching), so a sender can sign with an old and a new key while the
secret rotates.

SNS (CloudWatch): the signature proves Amazon SNS sent the message, not that it came from *our*
topic: anyone with an AWS account gets messages signed by SNS. So `check_sns_message` first does
the cheap checks (a known Type, the TopicArn among the integration's pinned `topic_arns`, a
genuine SNS certificate URL, a signature of plausible shape), and only then is the certificate
fetched and `verify_sns` run. A secret on a cloudwatch integration is an HTTP Basic password
(`verify_basic`), which SNS sends when the subscription URL is `https://user:secret@host/...`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

TIMESTAMP_HEADER = "X-Oncall-Timestamp"
SIGNATURE_HEADER = "X-Oncall-Signature"
REPLAY_WINDOW = timedelta(minutes=5)
"""How old a signed request's timestamp may be."""
MAX_FUTURE_SKEW = timedelta(seconds=30)
"""How far ahead of our clock a timestamp may be (a sender's clock running fast)."""

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_SNS_CERT_PATH = re.compile(r"^/SimpleNotificationService-[0-9a-fA-F]+\.pem$")
_SNS_SIGNATURE_BYTES = (256, 384, 512)
"""RSA signatures of 2048, 3072 and 4096-bit keys: anything else is not from SNS."""


class AuthError(Exception):
    """The request is not from whom it claims; the message is for logs, never the response."""


class ForeignTopic(AuthError):
    """A well-formed SNS message from a topic the integration does not accept: 403."""


# --- bearer ---------------------------------------------------------------------------------


def verify_bearer(authorization: str | None, secret: str) -> None:
    """`Authorization: Bearer <secret>`, as Alertmanager's `http_config.authorization` sends."""
    if not secret:
        raise AuthError("no secret configured for this integration")
    if not authorization:
        raise AuthError("missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("Authorization is not a Bearer token")
    if not hmac.compare_digest(token.strip().encode("utf-8"), secret.encode("utf-8")):
        raise AuthError("wrong bearer token")


def verify_basic(authorization: str | None, secret: str) -> None:
    """`Authorization: Basic base64(user:secret)`: the password is the secret, any user name.
    SNS sends it for a subscription URL `https://user:secret@host/...` after a 401 challenge."""
    if not secret:
        raise AuthError("no secret configured for this integration")
    if not authorization:
        raise AuthError("missing Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not token.strip():
        raise AuthError("Authorization is not Basic")
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise AuthError("Basic credentials are not base64") from None
    _, colon, password = decoded.partition(b":")
    if not colon:
        raise AuthError("Basic credentials have no password")
    if not hmac.compare_digest(password, secret.encode("utf-8")):
        raise AuthError("wrong Basic password")


# --- HMAC -----------------------------------------------------------------------------------


def hmac_signature(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Oncall-Signature` value a sender computes (also used by our own test clients)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


@dataclass(frozen=True)
class HmacProof:
    """An accepted signature: `digest` identifies the signed request (timestamp and body), and
    keeping it until `expires_at` (when its timestamp leaves the window) refuses a replay."""

    digest: str
    expires_at: datetime


def verify_hmac(
    secret: str,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: datetime,
    window: timedelta = REPLAY_WINDOW,
    future: timedelta = MAX_FUTURE_SKEW,
) -> HmacProof:
    """Check the signature over `timestamp + "." + body` and that the timestamp is recent: at
    most `window` old and at most `future` ahead. The caller refuses a proof seen before."""
    if not secret:
        raise AuthError("no secret configured for this integration")
    if not timestamp:
        raise AuthError(f"missing {TIMESTAMP_HEADER} header")
    if not signature:
        raise AuthError(f"missing {SIGNATURE_HEADER} header")
    ts = timestamp.strip()
    if not ts.isdigit() or len(ts) > 12:
        raise AuthError(f"{TIMESTAMP_HEADER} is not unix seconds")
    age = now.timestamp() - int(ts)
    if age > window.total_seconds() or -age > future.total_seconds():
        raise AuthError(f"{TIMESTAMP_HEADER} is {age:.0f}s old (accepted: "
                        f"{-future.total_seconds():.0f}s to {window.total_seconds():.0f}s; "
                        "replay window)")
    expected = hmac_signature(secret, ts, body).encode("ascii")
    matched = False
    for candidate in signature.split(","):
        # Compare every candidate, so the time taken does not tell which one matched.
        matched |= hmac.compare_digest(candidate.strip().lower().encode("ascii", "replace"),
                                       expected)
    if not matched:
        raise AuthError("signature does not match")
    # The digest of our own signature: the same for every copy of this (timestamp, body),
    # however the header was spelled (case, spaces, extra rotation candidates).
    return HmacProof(hashlib.sha256(expected).hexdigest(),
                     datetime.fromtimestamp(int(ts), UTC) + window)


# --- Amazon SNS -----------------------------------------------------------------------------

_SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}


def validate_signing_cert_url(url: str) -> None:
    """Only fetch a signing certificate from SNS itself: https on `sns.<region>.amazonaws.com`.

    Without this, anyone could sign a forged message with their own key and point at their own
    certificate. The adapter must fetch it with TLS verification on.
    """
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise AuthError(f"SigningCertURL {url!r} is not https")
    host = (parts.hostname or "").lower()
    if not _SNS_HOST.match(host) or parts.port not in (None, 443) or parts.username:
        raise AuthError(f"SigningCertURL host {host!r} is not an SNS endpoint")
    if not _SNS_CERT_PATH.match(parts.path) or parts.query or parts.fragment:
        raise AuthError("SigningCertURL is not an SNS signing certificate "
                        "(/SimpleNotificationService-<hex>.pem)")


def check_sns_message(message: object, topic_arns: Collection[str]) -> Mapping[str, object]:
    """The checks that cost nothing, before a certificate is fetched or a signature verified.

    `ForeignTopic` (403) for a message from a topic not in `topic_arns` (an empty list accepts
    none); `AuthError` (401) for anything that cannot be a signed SNS message.
    """
    if not isinstance(message, Mapping):
        raise AuthError("an SNS message is a JSON object")
    sns_string_to_sign(message)  # a known Type with every signed field a string
    topic = message.get("TopicArn")
    if topic not in topic_arns:
        raise ForeignTopic(f"SNS topic {topic!r} is not one of this integration's topic_arns")
    if message.get("SignatureVersion") not in ("1", "2"):
        raise AuthError(f"unsupported SNS SignatureVersion {message.get('SignatureVersion')!r}")
    signature = _sns_signature(message)
    if len(signature) not in _SNS_SIGNATURE_BYTES:
        raise AuthError(f"SNS Signature of {len(signature)} bytes is not an RSA signature")
    _sns_cert_url(message)
    return message


def _sns_signature(message: Mapping[str, object]) -> bytes:
    raw_signature = message.get("Signature")
    if not isinstance(raw_signature, str):
        raise AuthError("SNS message has no Signature")
    try:
        return base64.b64decode(raw_signature, validate=True)
    except (binascii.Error, ValueError):
        raise AuthError("SNS Signature is not base64") from None


def _sns_cert_url(message: Mapping[str, object]) -> str:
    """The message's certificate URL, if it is one SNS itself serves."""
    cert_url = message.get("SigningCertURL")
    if not isinstance(cert_url, str):
        raise AuthError("SNS message has no SigningCertURL")
    validate_signing_cert_url(cert_url)
    return cert_url


def sns_string_to_sign(message: Mapping[str, object]) -> bytes:
    """The canonical text SNS signs: `Key\\nValue\\n` for its fields in byte order."""
    kind = message.get("Type")
    if not isinstance(kind, str) or kind not in _SIGNED_FIELDS:
        raise AuthError(f"unknown SNS message Type {kind!r}")
    out: list[str] = []
    for key in _SIGNED_FIELDS[kind]:
        value = message.get(key)
        if value is None:
            if key == "Subject":
                continue
            raise AuthError(f"SNS message has no {key}")
        if not isinstance(value, str):
            raise AuthError(f"SNS message field {key} is not a string")
        out.append(f"{key}\n{value}\n")
    return "".join(out).encode("utf-8")


def verify_sns(
    message: Mapping[str, object], certificate_pem: bytes, now: datetime | None = None
) -> None:
    """Verify an SNS message (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA).

    `certificate_pem` is what the adapter fetched from the message's `SigningCertURL`, after
    `validate_signing_cert_url` accepted it. With `now`, an expired certificate is refused too.
    """
    _sns_cert_url(message)
    version = message.get("SignatureVersion")
    algorithm: hashes.HashAlgorithm
    if version == "1":
        algorithm = hashes.SHA1()  # SNS SignatureVersion 1 is SHA1withRSA
    elif version == "2":
        algorithm = hashes.SHA256()
    else:
        raise AuthError(f"unsupported SNS SignatureVersion {version!r}")
    signature = _sns_signature(message)
    try:
        cert = x509.load_pem_x509_certificate(certificate_pem)
    except ValueError:
        raise AuthError("signing certificate is not a PEM X.509 certificate") from None
    if now is not None and not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
        raise AuthError("signing certificate is not valid now")
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise AuthError("signing certificate does not hold an RSA key")
    try:
        public_key.verify(signature, sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        raise AuthError("SNS signature does not match") from None
