"""The guarded outbound call of webhook and runbook steps, against a local HTTP receiver."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from oncall.settings import DEFAULT_WEBHOOK_DENY, Settings, SettingsError
from oncall.testing.peers.base import Peer, RecordedRequest, Reply
from oncall.workflows.http import DenyList, GuardedClient, call
from oncall.workflows.outcome import DETAIL_LIMIT

SECRET = "s3cr3t-t0ken-value"
ENV = {"HOOK_TOKEN": SECRET, "HOOK_PATH": "p4th-secret"}
DENY = DenyList.default()


class Receiver(Peer):
    """Answers what `reply` says; by default echoes the request (headers, path and body)."""

    name = "receiver"

    def __init__(self) -> None:
        super().__init__()
        self.reply: Callable[[RecordedRequest], Reply] = self.echo

    @staticmethod
    def echo(request: RecordedRequest) -> Reply:
        return Reply.json({"path": request.path, "headers": request.headers,
                           "body": request.text})

    def handle(self, request: RecordedRequest) -> Reply:
        return self.reply(request)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as peer:
        yield peer


def action(url: str, **extra: Any) -> dict[str, Any]:
    return {"url": url, "method": "POST", "headers": {}, "body": None,
            "max_response_bytes": 65536, **extra}


def test_the_body_arrives_rendered_as_json_and_env_refs_resolve_only_in_url_and_headers(
        receiver: Receiver) -> None:
    body = {"id": 42, "title": "db down ${env:HOOK_TOKEN}", "tags": ["a", "é"]}
    outcome = call(action(f"{receiver.url}/hook/${{env:HOOK_PATH}}", body=body,
                          headers={"Authorization": "Bearer ${env:HOOK_TOKEN}",
                                   "X-Plain": "as written"}),
                   5, environ=ENV, deny=DENY)
    assert outcome.ok and outcome.status_code == 200, outcome
    (request,) = receiver.requests
    assert request.method == "POST"
    assert request.path == "/hook/p4th-secret"
    assert request.header("Authorization") == f"Bearer {SECRET}"
    assert request.header("X-Plain") == "as written"
    assert request.header("Content-Type") == "application/json"
    assert request.json() == body  # the body's "${env:…}" is data, left as written
    # the receiver echoed the secret header and path: the detail masks both
    assert SECRET not in outcome.detail and "p4th-secret" not in outcome.detail
    assert "***" in outcome.detail
    assert len(outcome.detail) <= DETAIL_LIMIT


def test_a_content_type_header_wins_and_get_sends_no_body(receiver: Receiver) -> None:
    posted = call(action(receiver.url, body="plain", headers={"Content-Type": "text/x-log"}),
                  5, environ={}, deny=DENY)
    got = call(action(receiver.url, method="GET", body={"ignored": True}), 5, environ={},
               deny=DENY)
    assert posted.ok and got.ok
    first, second = receiver.requests
    assert first.header("Content-Type") == "text/x-log" and first.json() == "plain"
    assert second.method == "GET" and second.body == b""


def test_a_missing_secret_fails_without_a_call(receiver: Receiver) -> None:
    outcome = call(action(receiver.url, headers={"X-Key": "${env:NOT_SET}"}), 5, environ={},
                   deny=DENY)
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "NOT_SET" in outcome.detail
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("status", "ok", "retryable"),
    [(200, True, False), (204, True, False), (400, False, False), (401, False, False),
     (404, False, False), (429, False, True), (500, False, True), (503, False, True),
     (302, False, False)],
)
def test_status_decides_ok_and_retryable(receiver: Receiver, status: int, ok: bool,
                                         retryable: bool) -> None:
    receiver.reply = lambda _r: Reply(status, b"" if status == 204 else b'{"why":"x"}',
                                      {"Location": "http://169.254.169.254/"})
    outcome = call(action(receiver.url, body={"a": 1}), 5, environ={}, deny=DENY)
    assert (outcome.ok, outcome.retryable, outcome.status_code) == (ok, retryable, status)
    assert len(receiver.requests) == 1  # no redirect followed, no retry inside the call
    assert outcome.detail.startswith(f"HTTP {status}")


def test_a_hanging_receiver_times_out_retryably(receiver: Receiver) -> None:
    receiver.hang()
    outcome = call(action(receiver.url), 0.3, environ={}, deny=DENY)
    assert (outcome.ok, outcome.retryable, outcome.status_code) == (False, True, None)
    assert "timeout" in outcome.detail
    assert outcome.duration_ms < 3000


def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: nothing listens
    outcome = call(action(f"http://127.0.0.1:{port}/"), 2, environ={}, deny=DENY)
    assert (outcome.ok, outcome.retryable) == (False, True)
    assert "network error" in outcome.detail


def test_the_response_is_cut_at_the_limit(receiver: Receiver) -> None:
    receiver.reply = lambda _r: Reply.text("x" * 5000 + "TAIL")
    outcome = call(action(receiver.url, max_response_bytes=100), 5, environ={}, deny=DENY)
    assert outcome.ok
    assert outcome.detail == "HTTP 200: " + "x" * 100 + " [response cut at 100 bytes]"


def test_a_long_response_is_bounded_in_the_detail(receiver: Receiver) -> None:
    receiver.reply = lambda _r: Reply.text("y" * 50_000, status=500)
    outcome = call(action(receiver.url), 5, environ={}, deny=DENY)
    assert outcome.retryable and len(outcome.detail) <= DETAIL_LIMIT
    assert outcome.detail.endswith("…")


def resolver(table: dict[str, list[str]], calls: list[str] | None = None
             ) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host in table:
            return table[host]
        raise socket.gaierror(socket.EAI_NONAME, "not known")

    return resolve


@pytest.mark.parametrize(
    ("url", "names"),
    [
        ("http://169.254.169.254/latest/meta-data/iam/", {}),
        ("http://[fd00:ec2::254]/latest/meta-data/", {}),
        ("http://[::ffff:169.254.169.254]/", {}),
        ("http://100.100.100.200/latest/meta-data/", {}),
        ("http://metadata.google.internal/computeMetadata/v1/", {}),
        ("http://x.metadata.google.internal/", {}),
        # a name that resolves to a denied address, even beside a reachable one
        ("http://hooks.example.test:{port}/", {"hooks.example.test": ["127.0.0.1",
                                                                      "169.254.169.254"]}),
        ("http://v6.example.test:{port}/", {"v6.example.test": ["::ffff:a9fe:a9fe"]}),
    ],
)
def test_the_deny_list_refuses_before_anything_is_sent(
        receiver: Receiver, url: str, names: dict[str, list[str]]) -> None:
    outcome = call(action(url.format(port=receiver.port), body={"a": 1}), 2, environ={},
                   deny=DENY, resolve=resolver(names))
    assert (outcome.ok, outcome.retryable) == (False, False), outcome
    assert outcome.detail.startswith("refused:") and "deny list" in outcome.detail
    assert receiver.requests == []


def test_the_connection_goes_to_the_checked_address(receiver: Receiver) -> None:
    """The name is resolved once, by the check, and the request is sent to that address
    (with the name as Host): a second DNS answer cannot redirect it."""
    calls: list[str] = []
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    client = GuardedClient(DENY, lambda host, port: (calls.append(host), next(answers))[1])
    with client:
        outcome = call(action(f"http://rebind.example.test:{receiver.port}/x"), 5, environ={},
                       deny=DENY, client=client)
    assert outcome.ok, outcome
    assert calls == ["rebind.example.test"]
    (request,) = receiver.requests
    assert request.header("Host") == f"rebind.example.test:{receiver.port}"


def test_a_client_without_the_guard_is_refused() -> None:
    with httpx.Client() as plain, pytest.raises(ValueError, match="GuardedClient"):
        call(action("http://127.0.0.1:9/"), 1, environ={}, deny=DENY, client=plain)


def test_a_custom_deny_list_from_settings(receiver: Receiver) -> None:
    settings = Settings.from_env({"ONCALL_WEBHOOK_DENY": " 127.0.0.0/8, internal.example ,"})
    assert settings.webhook_deny[: len(DEFAULT_WEBHOOK_DENY)] == DEFAULT_WEBHOOK_DENY
    deny = DenyList.from_settings(settings)
    direct = call(action(receiver.url), 2, environ={}, deny=deny)
    by_name = call(action(f"http://localhost:{receiver.port}/"), 2, environ={}, deny=deny)
    named = call(action("http://api.internal.example/"), 2, environ={}, deny=deny)
    metadata = call(action("http://169.254.169.254/"), 2, environ={}, deny=deny)
    for outcome in (direct, by_name, named, metadata):
        assert (outcome.ok, outcome.retryable) == (False, False)
        assert outcome.detail.startswith("refused:")
    assert receiver.requests == []
    assert call(action(receiver.url), 2, environ={}, deny=DENY).ok  # the default allows it


@pytest.mark.parametrize("raw", ["10.0.0.0/33", "not a host!", "1.2.3.4.5"])
def test_a_bad_deny_entry_fails_at_start(raw: str) -> None:
    with pytest.raises(SettingsError, match="ONCALL_WEBHOOK_DENY"):
        Settings.from_env({"ONCALL_WEBHOOK_DENY": raw})


def test_the_default_deny_list() -> None:
    assert Settings.from_env({}).webhook_deny == DEFAULT_WEBHOOK_DENY
    for address in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200",
                    "::ffff:169.254.169.254"):
        assert DENY.denies_address(address)
    assert DENY.denies_host("METADATA.google.internal.")
    assert not DENY.denies_address("127.0.0.1") and not DENY.denies_host("hooks.example")


def test_the_detail_never_shows_a_secret_the_receiver_echoes_escaped(
        receiver: Receiver) -> None:
    secret = 'p@ss/w"rd+1'
    receiver.reply = lambda r: Reply.text(
        json.dumps({"seen": r.header("X-Key")}) + " " + r.path, status=400)
    outcome = call(action(f"{receiver.url}/k/${{env:K}}", headers={"X-Key": "${env:K}"}), 5,
                   environ={"K": secret}, deny=DENY)
    assert outcome.status_code == 400 and not outcome.retryable
    assert "w\\\"rd" not in outcome.detail and "p%40ss" not in outcome.detail
    assert "rd+1" not in outcome.detail, outcome.detail


# --- TLS: the connection goes to the checked address, the certificate names the host -----------


def _certificates(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for `name` only (no address in it), as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def build(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
              signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(hours=1))
                   .not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_cert = build("test CA", ca_key, "test CA", ca_key, True)
    cert = build(name, key, "test CA", ca_key, False)
    paths = tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a connection could be reused

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_tls_checks_the_certificate_against_the_host_name(tmp_path: Path) -> None:
    name = "hooks.example.test"
    ca, cert, key = _certificates(tmp_path, name)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    seen: list[str | None] = []
    server_context.sni_callback = lambda _sock, sni, _ctx: seen.append(sni)  # type: ignore[assignment,misc]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        trust = ssl.create_default_context(cafile=str(ca))
        names = {name: ["127.0.0.1"], "other.example.test": ["127.0.0.1"]}
        with GuardedClient(DENY, resolver(names), verify=trust) as client:
            by_name = call(action(f"https://{name}:{port}/hook", body={"a": 1}), 5,
                           environ={}, deny=DENY, client=client)
            # same address, another name: the kept connection checked for `name` is not reused
            other = call(action(f"https://other.example.test:{port}/hook", body={"a": 1}), 5,
                         environ={}, deny=DENY, client=client)
            by_address = call(action(f"https://127.0.0.1:{port}/hook"), 5, environ={},
                              deny=DENY, client=client)
    finally:
        server.shutdown()
        server.server_close()
    assert by_name.ok, by_name
    assert seen[0] == name  # the TLS server name is the host's, not the address's
    # the certificate names the host, not the address: verification is on
    assert not by_address.ok and "CERTIFICATE_VERIFY_FAILED" in by_address.detail
    assert not other.ok and "CERTIFICATE_VERIFY_FAILED" in other.detail
