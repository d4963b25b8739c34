"""Request authentication: bearer tokens, HMAC signatures with a replay window, SNS signatures."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from oncall.ingest.auth import (
    MAX_FUTURE_SKEW,
    REPLAY_WINDOW,
    AuthError,
    ForeignTopic,
    check_sns_message,
    hmac_signature,
    sns_string_to_sign,
    validate_signing_cert_url,
    verify_basic,
    verify_bearer,
    verify_hmac,
    verify_sns,
)

NOW = datetime(2026, 11, 24, 4, 10, tzinfo=UTC)
PAYLOADS = Path(__file__).parent / "payloads" / "cloudwatch"


# --- bearer ---------------------------------------------------------------------------------


def test_bearer_accepts_the_secret() -> None:
    verify_bearer("Bearer s3cret", "s3cret")
    verify_bearer("bearer  s3cret ", "s3cret")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("Bearer wrong", "wrong"),
        ("Bearer s3cre", "wrong"),
        ("Bearer s3cret2", "wrong"),
        ("Basic czNjcmV0", "not a Bearer"),
        ("Bearer", "not a Bearer"),
        ("s3cret", "not a Bearer"),
        ("Bearer sécret", "wrong"),
    ],
)
def test_bearer_refuses(header: str | None, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        verify_bearer(header, "s3cret")


def test_bearer_refuses_everything_without_a_configured_secret() -> None:
    with pytest.raises(AuthError, match="no secret"):
        verify_bearer("Bearer ", "")


# --- HMAC -----------------------------------------------------------------------------------

BODY = b'{"summary":"Disk full","severity":"critical"}'
SECRET = "hmac-key"


def _ts(at: datetime) -> str:
    return str(int(at.timestamp()))


# Literal digests printed by the recipe in docs/integrations.md, run with the real openssl
# (OpenSSL 3.0), not computed by our code: they pin the wire format independently of it.
#   sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1)
OPENSSL_DIGESTS = [
    ("hmac-key", "1795500000", '{"summary":"Disk full","severity":"critical"}',
     "388c0e0c84433274ff51aef2fcdf95137aa88b5653b45013f6e3ac5ae370c2a4"),
    ("backup-hmac-key", "1764072000", '{"summary": "Backup failed", "dedup_key": "b1"}',
     "0fd1c14e463e895d341a156d107224588f7b98ef490e5cce4a74989a3330f5b8"),
    ("backup-hmac-key", "1764072000", '{"dedup_key":"b1","event_action":"resolve"}',
     "604eccb2e1805d3c3fb19768d3d9645512657f9c39bef85dc533029c71034471"),
    ("s3cret with spaces", "1700000000", "",
     "76643b0bc079f05e49f276233aadf5cce648a36c647c35a1958a088cb58f505a"),
    ("ключ", "1764072000", '{"summary":"Überhitzung ☃"}',
     "d0e1bb392e03f51497b8bc2f796c697f073840b2b8a71149445d05a94f5f1867"),
]


@pytest.mark.parametrize(("secret", "ts", "body", "digest"), OPENSSL_DIGESTS)
def test_hmac_signature_matches_the_documented_openssl_recipe(secret: str, ts: str, body: str,
                                                              digest: str) -> None:
    raw = body.encode("utf-8")
    assert hmac_signature(secret, ts, raw) == f"sha256={digest}"
    # and the receiver accepts exactly what the recipe's sender sends
    at = datetime.fromtimestamp(int(ts), UTC)
    verify_hmac(secret, raw, ts, f"sha256={digest}", at)
    verify_hmac(secret, raw, ts, f"sha256={digest.upper()}", at)


@pytest.mark.parametrize("age", [timedelta(0), timedelta(minutes=4, seconds=59),
                                 timedelta(minutes=5), timedelta(seconds=-30)])
def test_hmac_accepts_fresh_signed_requests(age: timedelta) -> None:
    ts = _ts(NOW - age)
    proof = verify_hmac(SECRET, BODY, ts, hmac_signature(SECRET, ts, BODY), NOW)
    assert proof.expires_at == datetime.fromtimestamp(int(ts), UTC) + REPLAY_WINDOW


def test_the_future_skew_is_small() -> None:
    """A timestamp minutes ahead would keep a captured request valid for longer than the
    window says (row 12 of issue 15: it was +5 minutes)."""
    assert timedelta(seconds=30) >= MAX_FUTURE_SKEW
    ts = _ts(NOW + MAX_FUTURE_SKEW + timedelta(seconds=1))
    with pytest.raises(AuthError, match="replay window"):
        verify_hmac(SECRET, BODY, ts, hmac_signature(SECRET, ts, BODY), NOW)


def test_the_replay_digest_is_the_same_however_the_header_is_spelled() -> None:
    ts = _ts(NOW)
    sig = hmac_signature(SECRET, ts, BODY)
    proofs = {verify_hmac(SECRET, BODY, ts, spelled, NOW).digest
              for spelled in (sig, sig.upper().replace("SHA256", "sha256"), f" {sig} ",
                              f"{hmac_signature('old-key', ts, BODY)},{sig}")}
    assert len(proofs) == 1
    other = verify_hmac(SECRET, BODY + b" ", ts, hmac_signature(SECRET, ts, BODY + b" "), NOW)
    assert other.digest not in proofs
    assert sig[7:] not in proofs  # the stored digest is not the signature itself


def test_hmac_accepts_any_of_several_signatures_during_key_rotation() -> None:
    ts = _ts(NOW)
    both = f"{hmac_signature('old-key', ts, BODY)}, {hmac_signature(SECRET, ts, BODY)}"
    verify_hmac(SECRET, BODY, ts, both, NOW)


def _case(**change: Any) -> dict[str, Any]:
    ts = _ts(NOW)
    base: dict[str, Any] = {"secret": SECRET, "body": BODY, "timestamp": ts,
                            "signature": hmac_signature(SECRET, ts, BODY)}
    base.update(change)
    return base


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        (_case(timestamp=None), "missing X-Oncall-Timestamp"),
        (_case(signature=None), "missing X-Oncall-Signature"),
        (_case(timestamp="yesterday"), "not unix seconds"),
        (_case(timestamp=_ts(NOW - timedelta(minutes=5, seconds=1))), "replay window"),
        (_case(timestamp=_ts(NOW + timedelta(minutes=6))), "replay window"),
        (_case(timestamp=_ts(NOW + timedelta(minutes=4))), "replay window"),
        (_case(timestamp=_ts(NOW + timedelta(seconds=31))), "replay window"),
        (_case(body=BODY + b" "), "does not match"),
        (_case(secret="other-key"), "does not match"),
        (_case(signature="sha1=" + "0" * 40), "does not match"),
        (_case(signature=hmac_signature(SECRET, _ts(NOW), BODY)[7:]), "does not match"),
        # A signature for another timestamp cannot be moved onto a fresh one.
        (_case(signature=hmac_signature(SECRET, _ts(NOW - timedelta(hours=1)), BODY)),
         "does not match"),
        (_case(secret=""), "no secret"),
    ],
)
def test_hmac_refuses(case: dict[str, Any], reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        verify_hmac(case["secret"], case["body"], case["timestamp"], case["signature"], NOW)


# --- SNS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _signed(name: str, key: rsa.RSAPrivateKey, version: str) -> dict[str, Any]:
    message: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    message["SignatureVersion"] = version
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(sns_string_to_sign(message), padding.PKCS1v15(), algorithm)
    message["Signature"] = base64.b64encode(signature).decode("ascii")
    return message


@pytest.mark.parametrize("version", ["1", "2"])
@pytest.mark.parametrize(
    "name", ["alarm.json", "insufficient-data.json", "subscription-confirmation.json"]
)
def test_sns_signature_verifies(signer: tuple[rsa.RSAPrivateKey, bytes], name: str,
                                version: str) -> None:
    key, pem = signer
    verify_sns(_signed(name, key, version), pem, now=NOW)


def test_sns_string_to_sign_follows_the_documented_field_order() -> None:
    message = json.loads((PAYLOADS / "alarm.json").read_text(encoding="utf-8"))
    text = sns_string_to_sign(message).decode("utf-8")
    keys = text.split("\n")[0::2][:-1]
    assert keys == ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    del message["Subject"]
    assert "Subject\n" not in sns_string_to_sign(message).decode("utf-8")
    confirm = json.loads((PAYLOADS / "subscription-confirmation.json").read_text("utf-8"))
    expected = "".join(
        f"{k}\n{confirm[k]}\n"
        for k in ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
    )
    assert sns_string_to_sign(confirm).decode("utf-8") == expected


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Message": '{"AlarmName":"forged"}'}, "does not match"),
        ({"TopicArn": "arn:aws:sns:us-east-1:999999999999:evil"}, "does not match"),
        ({"Subject": None}, "does not match"),
        ({"SignatureVersion": "3"}, "unsupported SNS SignatureVersion"),
        ({"Signature": "not base64!"}, "not base64"),
        ({"SigningCertURL": "http://sns.us-east-1.amazonaws.com/cert.pem"}, "not https"),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com.evil.com/cert.pem"},
         "not an SNS endpoint"),
        ({"Type": "Surprise"}, "unknown SNS message Type"),
    ],
)
def test_sns_refuses_tampered_messages(signer: tuple[rsa.RSAPrivateKey, bytes],
                                       change: dict[str, Any], reason: str) -> None:
    key, pem = signer
    message = _signed("alarm.json", key, "2")
    for field, value in change.items():
        if value is None:
            del message[field]
        else:
            message[field] = value
    with pytest.raises(AuthError, match=reason):
        verify_sns(message, pem, now=NOW)


def test_sns_refuses_a_signature_from_another_key(signer: tuple[rsa.RSAPrivateKey, bytes]
                                                  ) -> None:
    _, pem = signer
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(AuthError, match="does not match"):
        verify_sns(_signed("alarm.json", other, "1"), pem, now=NOW)


def test_sns_refuses_an_expired_certificate(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, pem = signer
    with pytest.raises(AuthError, match="not valid now"):
        verify_sns(_signed("alarm.json", key, "1"), pem, now=NOW + timedelta(days=400))


def test_sns_refuses_garbage_certificate(signer: tuple[rsa.RSAPrivateKey, bytes]) -> None:
    key, _ = signer
    with pytest.raises(AuthError, match="not a PEM"):
        verify_sns(_signed("alarm.json", key, "1"), b"-----BEGIN NOTHING-----", now=NOW)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
        ("https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem", True),
        ("https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem", True),
        ("http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem", False),
        ("https://sns.us-east-1.amazonaws.com.attacker.net/x.pem", False),
        ("https://attacker.net/sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://s3.amazonaws.com/bucket/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com:8443/x.pem", False),
        ("https://user@sns.us-east-1.amazonaws.com/x.pem", False),
        ("https://sns.us-east-1.amazonaws.com/x.txt", False),
    ],
)
def test_signing_cert_url(url: str, ok: bool) -> None:
    if ok:
        validate_signing_cert_url(url)
    else:
        with pytest.raises(AuthError):
            validate_signing_cert_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/bucket/SimpleNotificationService-abc.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-xyz.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem?x=1",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-.pem",
    ],
)
def test_signing_cert_url_must_be_a_genuine_sns_certificate_path(url: str) -> None:
    with pytest.raises(AuthError, match="not an SNS signing certificate"):
        validate_signing_cert_url(url)


# --- SNS: the cheap checks before any certificate is fetched -----------------------------------

TOPIC = "arn:aws:sns:us-east-1:123456789012:oncall-alarms"


def test_sns_message_from_a_pinned_topic_passes_the_cheap_checks(
    signer: tuple[rsa.RSAPrivateKey, bytes]
) -> None:
    key, _ = signer
    message = _signed("alarm.json", key, "1")
    assert check_sns_message(message, [TOPIC]) is message


@pytest.mark.parametrize("topics", [[], ["arn:aws:sns:us-east-1:999999999999:oncall-alarms"]])
def test_sns_message_from_another_topic_is_foreign(signer: tuple[rsa.RSAPrivateKey, bytes],
                                                   topics: list[str]) -> None:
    """Signed by SNS, but not our topic: the signature proves only that SNS sent it."""
    key, _ = signer
    with pytest.raises(ForeignTopic):
        check_sns_message(_signed("alarm.json", key, "2"), topics)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"Signature": None}, "no Signature"),
        ({"Signature": "AAAA"}, "not an RSA signature"),
        ({"Signature": "not base64!"}, "not base64"),
        ({"SignatureVersion": None}, "SignatureVersion"),
        ({"SigningCertURL": "https://sns.us-east-1.amazonaws.com/evil.pem"}, "not an SNS"),
        ({"SigningCertURL": None}, "no SigningCertURL"),
        ({"Type": "Surprise"}, "unknown SNS message Type"),
        ({"TopicArn": None}, "no TopicArn"),
    ],
)
def test_sns_cheap_checks_refuse_what_cannot_be_a_signed_message(
    signer: tuple[rsa.RSAPrivateKey, bytes], change: dict[str, Any], reason: str
) -> None:
    key, _ = signer
    message = _signed("alarm.json", key, "1")
    for field, value in change.items():
        if value is None:
            del message[field]
        else:
            message[field] = value
    with pytest.raises(AuthError, match=reason) as caught:
        check_sns_message(message, [TOPIC])
    assert not isinstance(caught.value, ForeignTopic)


def test_sns_cheap_checks_refuse_a_non_object() -> None:
    with pytest.raises(AuthError, match="JSON object"):
        check_sns_message([1, 2], [TOPIC])


# --- HTTP Basic (a secret on a cloudwatch integration) -----------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def test_basic_accepts_the_secret_as_password_with_any_user() -> None:
    verify_basic(_basic("oncall", "s3cret"), "s3cret")
    verify_basic(_basic("sns", "s3cret"), "s3cret")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("Bearer s3cret", "not Basic"),
        (_basic("oncall", "wrong"), "wrong Basic password"),
        (_basic("s3cret", ""), "wrong Basic password"),
        ("Basic " + base64.b64encode(b"s3cret").decode(), "no password"),
        ("Basic ###", "not base64"),
    ],
)
def test_basic_refuses(header: str | None, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        verify_basic(header, "s3cret")
