"""Fixtures for the HTTP API: the example organisation plus one integration of every type,
secrets in the environment, an SNS signer with a local certificate, API keys, and a real
uvicorn server in a thread for tests that need one."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from oncall.api.app import create_api
from oncall.api.keys import create_key
from oncall.config.configset import ConfigSet, Source
from oncall.config.diagnostics import Position
from oncall.config.models import Integration
from oncall.config.yamlsource import Document
from oncall.db.engine import write_session
from oncall.db.models import AlertDeliveryRow, AlertRow, AuditEventRow, IncidentRow
from oncall.ingest.auth import sns_string_to_sign
from oncall.reconcile.apply import Origin, apply_config
from oncall.settings import Settings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PAYLOADS = Path(__file__).resolve().parents[1] / "ingest" / "payloads"

SECRETS = {
    "PROM_PROD_WEBHOOK_SECRET": "prom-s3cret",
    "DATADOG_WEBHOOK_SECRET": "dd-s3cret",
    "SYNTHETICS_WEBHOOK_TOKEN": "synth-s3cret",
    "NEWRELIC_WEBHOOK_SECRET": "nr-s3cret",
    "GRAFANA_WEBHOOK_SECRET": "grafana-s3cret",
    "BACKUP_HMAC_SECRET": "backup-hmac-key",
}

EXTRA_INTEGRATIONS: list[dict[str, Any]] = [
    {"name": "newrelic-prod", "type": "newrelic", "service": "checkout-api",
     "secret": "${env:NEWRELIC_WEBHOOK_SECRET}"},
    {"name": "grafana-prod", "type": "grafana", "service": "checkout-api",
     "secret": "${env:GRAFANA_WEBHOOK_SECRET}"},
    {"name": "cloudwatch-prod", "type": "cloudwatch", "service": "checkout-api",
     "topic_arns": ["arn:aws:sns:us-east-1:123456789012:oncall-alarms",
                    "arn:aws:sns:eu-west-1:123456789012:oncall-alarms"]},
    {"name": "backup-jobs", "type": "generic", "service": "payments-db", "auth": "hmac",
     "secret": "${env:BACKUP_HMAC_SECRET}"},
]

BEARER = {
    "prometheus-prod": "prom-s3cret",
    "datadog-prod": "dd-s3cret",
    "synthetic-checks": "synth-s3cret",
    "newrelic-prod": "nr-s3cret",
    "grafana-prod": "grafana-s3cret",
}

RESPONDER = "marcus.bell@northwind.example"
OBSERVER = "eve.larsen@northwind.example"


def payload(provider: str, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / provider / f"{name}.json").read_text("utf-8"))
    return data


def with_integrations(config: ConfigSet) -> ConfigSet:
    """The example organisation plus one integration of every type (and an HMAC one)."""
    out = ConfigSet(objects={k: dict(v) for k, v in config.objects.items()},
                    sources=dict(config.sources))
    for spec in EXTRA_INTEGRATIONS:
        obj = Integration.model_validate({"kind": "Integration", **spec})
        out.add(obj, Source(Document("rules/integrations.yaml", None, Position(1, 1))))
    return out


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return SECRETS


@pytest.fixture
def api_engine(migrated_engine: Engine, example_config: ConfigSet) -> Engine:
    origin = Origin(actor="tests", source="tests", revision=None, now=NOW - timedelta(days=1))
    apply_config(migrated_engine, with_integrations(example_config), origin)
    return migrated_engine


# --- SNS ---------------------------------------------------------------------------------------


@dataclass
class SnsSigner:
    key: rsa.RSAPrivateKey
    pem: bytes
    fetched: list[str] = field(default_factory=list)
    visited: list[str] = field(default_factory=list)

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        out = dict(message)
        out["SignatureVersion"] = version
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(sns_string_to_sign(out), padding.PKCS1v15(), algorithm)
        out["Signature"] = base64.b64encode(signature).decode("ascii")
        return out

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.pem

    def visit(self, url: str) -> None:
        self.visited.append(url)


@pytest.fixture(scope="session")
def sns_key() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(datetime.now(UTC) + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def sns(sns_key: tuple[rsa.RSAPrivateKey, bytes]) -> SnsSigner:
    return SnsSigner(*sns_key)


# --- the app -----------------------------------------------------------------------------------


@dataclass
class Api:
    app: Starlette
    client: TestClient
    engine: Engine
    clock: list[datetime]

    def post(self, integration: str, body: Any, headers: dict[str, str] | None = None,
             token: str | None = None) -> httpx.Response:
        sent = dict(headers or {})
        secret = token if token is not None else BEARER.get(integration)
        if secret is not None and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {secret}"
        raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        sent.setdefault("Content-Type", "application/json")
        return self.client.post(f"/api/v1/integrations/{integration}/alerts", content=raw,
                                headers=sent)

    def count(self, model: type[Any]) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(model)) or 0

    def incidents(self) -> list[IncidentRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(IncidentRow).order_by(IncidentRow.id)))

    def alerts(self) -> list[AlertRow]:
        with Session(self.engine) as session:
            return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))

    def stored(self) -> tuple[int, int, int]:
        """(deliveries, alerts, incidents): what a refused request must leave unchanged."""
        return (self.count(AlertDeliveryRow), self.count(AlertRow), self.count(IncidentRow))

    def events(self, incident_id: int | None = None) -> list[AuditEventRow]:
        with Session(self.engine) as session:
            stmt = select(AuditEventRow).order_by(AuditEventRow.id)
            if incident_id is not None:
                stmt = stmt.where(AuditEventRow.incident_id == incident_id)
            return list(session.scalars(stmt))

    def key(self, email: str, name: str = "tests") -> str:
        with write_session(self.engine) as session:
            return create_key(session, f"{name}-{email}", email, self.clock[0]).key


@pytest.fixture
def make_api(api_engine: Engine, secrets_env: dict[str, str], sns: SnsSigner,
             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., Api]]:
    monkeypatch.chdir(tmp_path)  # on PostgreSQL without Redis the queue file is made here
    clients: list[TestClient] = []

    def build(**context: Any) -> Api:
        clock = [context.pop("now", NOW)]
        app = create_api(
            Settings(database_url=str(api_engine.url)), api_engine,
            clock=lambda: clock[0], fetch_cert=sns.fetch, visit_url=sns.visit,
            config_recheck=0.0, **context,
        )
        client = TestClient(app, raise_server_exceptions=False)
        clients.append(client)
        return Api(app, client, api_engine, clock)

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


# --- a real server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    engine: Engine
    port: int


@pytest.fixture
def live_server(api_engine: Engine, secrets_env: dict[str, str],
                monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Server]:
    """The API on a real uvicorn in a thread, against the test database, on the real clock,
    started as `oncall api` starts it (its lifespan loads the config and opens the pool)."""
    monkeypatch.chdir(tmp_path)  # on PostgreSQL without Redis the queue file is made here
    app = create_api(Settings(database_url=str(api_engine.url)), api_engine, config_recheck=0.0)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="on", backlog=512)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", api_engine, port)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def load_payload() -> Callable[[str, str], dict[str, Any]]:
    """`load_payload(provider, name)`: a captured payload from tests/ingest/payloads."""
    return payload


@pytest.fixture
def now() -> datetime:
    """The clock of the `api` fixture's app."""
    return NOW


@pytest.fixture
def unused_port() -> Callable[[], int]:
    """`unused_port()`: a free TCP port on 127.0.0.1."""
    return free_port
