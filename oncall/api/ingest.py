"""`POST /api/v1/integrations/{name}/alerts`: authenticate, normalise, store, answer.

Order of checks, each answered with a problem document: unknown integration 404; credentials
401 (nothing stored); media type 415; JSON 400; payload 422 naming the field. Then one write
transaction runs the pipeline and commits before the 202. A database that cannot be reached
answers 503 with Retry-After and commits nothing, so the sender retries.

CloudWatch arrives through SNS, whose messages carry their own signature: the signing
certificate is fetched (HTTPS only from SNS hosts, short timeout, cached) and every message is
verified before anything else happens. A SubscriptionConfirmation is confirmed by visiting its
SubscribeURL, so an `aws sns subscribe` completes by itself.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext, database_unavailable
from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.config.types import MissingSecret, resolve_env
from oncall.core.alerts import Alert
from oncall.db.engine import write_session
from oncall.incidents import events
from oncall.ingest import auth, fastpath, fastpath_sqlite
from oncall.ingest.fastpath import fast_path_applies
from oncall.ingest.normalizers import PayloadError, normalize
from oncall.ingest.pipeline import Result, ingest

log = logging.getLogger(__name__)

PATH = "/api/v1/integrations/{name}/alerts"
CERT_TIMEOUT_SECONDS = 3.0
CERT_CACHE_SIZE = 16
CERT_CACHE_TTL_SECONDS = 3600.0
MAX_CERT_BYTES = 64 * 1024
RETRIES = 3
"""Deadlocks and serialisation failures are retried; each retry starts the transaction anew."""

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_JSON_TYPES = ("application/json",)
_SNS_TYPES = ("application/json", "text/plain")
_RETRYABLE_SQLSTATES = {"40001", "40P01"}


class Unavailable(Exception):
    """A dependency (database, SNS) cannot be reached now: 503, the sender retries."""


# --- SNS certificates and confirmations ---------------------------------------------------------


def https_get(url: str, limit: int = MAX_CERT_BYTES, timeout: float = CERT_TIMEOUT_SECONDS
              ) -> bytes:
    """GET over HTTPS with TLS verification and a short timeout (urllib verifies by default)."""
    if urlsplit(url).scheme != "https":
        raise ValueError(f"refusing to fetch {url!r}: not https")
    with urllib.request.urlopen(url, timeout=timeout) as response:
        data: bytes = response.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{url}: response larger than {limit} bytes")
    return data


class CertCache:
    """A small LRU of signing certificates: SNS uses one certificate for many messages."""

    def __init__(self, fetch: Callable[[str], bytes], size: int = CERT_CACHE_SIZE,
                 ttl: float = CERT_CACHE_TTL_SECONDS) -> None:
        self._fetch = fetch
        self._size = size
        self._ttl = ttl
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, url: str) -> bytes:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(url)
            if hit is not None and now - hit[0] < self._ttl:
                self._items.move_to_end(url)
                return hit[1]
        pem = self._fetch(url)
        with self._lock:
            self._items[url] = (now, pem)
            self._items.move_to_end(url)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return pem


def validate_subscribe_url(url: object) -> str:
    """Only SNS itself is visited: https on `sns.<region>.amazonaws.com`."""
    if not isinstance(url, str):
        raise auth.AuthError("SNS message has no SubscribeURL")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not _SNS_HOST.match(host) or parts.username:
        raise auth.AuthError(f"SubscribeURL host {host!r} is not an SNS endpoint")
    return url


def _default_visit(url: str) -> None:
    https_get(url)


# --- the handler ---------------------------------------------------------------------------------


def routes(ctx: ApiContext) -> list[BaseRoute]:
    certs = CertCache(ctx.fetch_cert or https_get)
    visit = ctx.visit_url or _default_visit

    async def receive_alerts(request: Request) -> Response:
        return await _receive(ctx, certs, visit, request)

    return [Route(PATH, receive_alerts, methods=["POST"], name="ingest")]


def _lookup(ctx: ApiContext, name: str) -> tuple[ConfigSet, Integration | None]:
    with Session(ctx.engine) as session:
        config = ctx.config(session)
    return config, config.integrations.get(name)


async def _integration(ctx: ApiContext, name: str) -> tuple[ConfigSet, Integration | None]:
    """From the cache when fresh (no thread hop, no query), else read from the database."""
    config = ctx.fresh_config()
    if config is not None:
        return config, config.integrations.get(name)
    return await run_in_threadpool(_lookup, ctx, name)


def _media_type(request: Request) -> str | None:
    raw = request.headers.get("content-type")
    if raw is None:
        return None
    return raw.split(";", 1)[0].strip().lower()


def _authenticate(ctx: ApiContext, integration: Integration, request: Request, body: bytes,
                  now: datetime) -> None:
    if integration.secret is None:
        raise auth.AuthError(f"integration {integration.name} has no secret")
    try:
        secret = resolve_env(integration.secret, ctx.environ)
    except MissingSecret as exc:
        log.error("integration %s: %s", integration.name, exc)
        raise auth.AuthError(str(exc)) from None
    if (integration.auth or "bearer") == "hmac":
        auth.verify_hmac(
            secret, body,
            request.headers.get(auth.TIMESTAMP_HEADER),
            request.headers.get(auth.SIGNATURE_HEADER),
            now,
        )
    else:
        auth.verify_bearer(request.headers.get("authorization"), secret)


def _unauthorized(integration: Integration, path: str) -> Response:
    headers = {}
    if integration.type != "cloudwatch" and (integration.auth or "bearer") == "bearer":
        headers["WWW-Authenticate"] = 'Bearer realm="oncall"'
    return problems.problem(401, "missing or invalid credentials for this integration",
                            instance=path, headers=headers)


async def _receive(ctx: ApiContext, certs: CertCache, visit: Callable[[str], None],
                   request: Request) -> Response:
    name = request.path_params["name"]
    path = request.url.path
    body = await request.body()
    now = ctx.clock()
    try:
        config, integration = await _integration(ctx, name)
    except Exception as exc:
        if database_unavailable(exc):
            return problems.unavailable(ctx.retry_after, instance=path)
        raise
    if integration is None:
        return problems.problem(404, f"no integration named {name!r} is applied", instance=path)

    sns = integration.type == "cloudwatch"
    if not sns:
        try:
            _authenticate(ctx, integration, request, body, now)
        except auth.AuthError as exc:
            log.info("ingest %s: refused: %s", name, exc)
            return _unauthorized(integration, path)

    media = _media_type(request)
    allowed = _SNS_TYPES if sns else _JSON_TYPES
    if media is not None and media not in allowed and not media.endswith("+json"):
        return problems.problem(
            415, f"expected {' or '.join(allowed)}, got {media}", instance=path,
        )
    try:
        payload: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return problems.problem(400, f"the body is not valid JSON: {exc}", instance=path)

    if sns:
        try:
            await run_in_threadpool(_verify_sns, certs, payload, now)
        except auth.AuthError as exc:
            log.info("ingest %s: SNS message refused: %s", name, exc)
            return _unauthorized(integration, path)
        except Unavailable as exc:
            log.warning("ingest %s: %s", name, exc)
            return problems.problem(503, str(exc), instance=path,
                                    headers={"Retry-After": str(ctx.retry_after)})
        kind = payload.get("Type")
        if kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
            return await _subscription(ctx, visit, integration, payload, kind, now, path)

    try:
        alerts = [a.for_integration(name) for a in normalize(integration.type, payload, now)]
    except PayloadError as exc:
        return problems.unprocessable(exc.field_path, exc.message, exc.problems, instance=path)
    except ValueError as exc:
        return problems.unprocessable("", str(exc), instance=path)

    try:
        result = await _store_fast(ctx, config, integration, alerts, now)
        if result is None:
            result = await run_in_threadpool(_store, ctx, config, integration, alerts, now)
    except Exception as exc:
        if database_unavailable(exc):
            log.warning("ingest %s: database unavailable: %s", name, exc)
            return problems.unavailable(ctx.retry_after, instance=path)
        raise
    if result.incident_ids:
        _hand_off(ctx)
    return JSONResponse(
        {
            "status": "accepted",
            "alerts": result.alert_ids,
            "incidents": result.incident_ids,
            "outcomes": result.outcomes,
        },
        status_code=202,
    )


def _hand_off(ctx: ApiContext) -> None:
    """The fast path to escalation: the rows are committed; a worker is asked to act now.
    Without it (queue down) the workers' sweepers still find the rows within a second."""
    try:
        from oncall.worker.queue import tasks_for

        tasks_for(ctx.settings).kick_soon()
    except Exception as exc:  # noqa: BLE001 - the committed rows are the promise
        log.warning("could not reach the worker queue: %s", exc)


def _verify_sns(certs: CertCache, message: Any, now: datetime) -> None:
    if not isinstance(message, dict):
        raise auth.AuthError("an SNS message is a JSON object")
    cert_url = message.get("SigningCertURL")
    if not isinstance(cert_url, str):
        raise auth.AuthError("SNS message has no SigningCertURL")
    auth.validate_signing_cert_url(cert_url)
    try:
        pem = certs.get(cert_url)
    except Exception as exc:
        raise Unavailable(f"cannot fetch the SNS signing certificate: {exc}") from exc
    auth.verify_sns(message, pem, now=now)


async def _subscription(ctx: ApiContext, visit: Callable[[str], None], integration: Integration,
                        message: dict[str, Any], kind: str, now: datetime, path: str
                        ) -> Response:
    topic = message.get("TopicArn")
    if kind == "SubscriptionConfirmation":
        try:
            url = validate_subscribe_url(message.get("SubscribeURL"))
        except auth.AuthError as exc:
            log.info("ingest %s: %s", integration.name, exc)
            return _unauthorized(integration, path)
        try:
            await run_in_threadpool(visit, url)
        except Exception as exc:  # noqa: BLE001 - any failure to confirm: SNS retries
            log.warning("ingest %s: confirming the SNS subscription failed: %s",
                        integration.name, exc)
            return problems.problem(
                503, "could not confirm the SNS subscription; SNS will retry",
                instance=path, headers={"Retry-After": str(ctx.retry_after)},
            )
    event_type = ("integration.subscription_confirmed" if kind == "SubscriptionConfirmation"
                  else "integration.unsubscribed")
    try:
        await run_in_threadpool(_record_subscription, ctx, integration, event_type, topic, now)
    except Exception as exc:
        if database_unavailable(exc):
            return problems.unavailable(ctx.retry_after, instance=path)
        raise
    status = "confirmed" if kind == "SubscriptionConfirmation" else "unsubscribed"
    return JSONResponse({"status": status, "topic": topic}, status_code=200)


def _record_subscription(ctx: ApiContext, integration: Integration, event_type: str,
                         topic: object, now: datetime) -> None:
    with write_session(ctx.engine) as session:
        row = events.record(
            session, at=now, actor=f"integration:{integration.name}", type=event_type,
            data={"topic_arn": topic},
        )
        row.subject_kind = "Integration"
        row.subject_name = integration.name


def _sqlstate(exc: OperationalError) -> str | None:
    code = getattr(exc.orig, "sqlstate", None)
    return code if isinstance(code, str) else None


async def _store_fast(ctx: ApiContext, config: ConfigSet, integration: Integration,
                      alerts: list[Alert], now: datetime) -> Result | None:
    """The common deliveries on the event loop (PostgreSQL); None: `_store` in a thread."""
    if (ctx.postgres is None or ctx.repeats is None
            or not fast_path_applies(ctx.engine.dialect.name, alerts)):
        return None
    alert, repeats = alerts[0], ctx.repeats
    try:
        repeated = await repeats.submit(integration.name, alert, now)
        if repeated is None and await repeats.wait_for_opener(integration.name, alert):
            repeated = await repeats.submit(integration.name, alert, now)
    except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
        repeated = None  # `fastpath.store` tries again, with its retries
    if repeated is not None:
        return repeated
    async with repeats.opening(integration.name, alert), ctx.postgres.connection() as conn:
        return await fastpath.store(conn, config, integration, alert, now, ctx.services,
                                    repeat_tried=True)


def _store(ctx: ApiContext, config: ConfigSet, integration: Integration, alerts: list[Alert],
           now: datetime) -> Result:
    if fastpath_sqlite.fast_path_applies(ctx.engine.dialect.name, alerts):
        stored = fastpath_sqlite.store(ctx.engine, config, integration, alerts[0], now,
                                       ctx.services)
        if stored is not None:
            return stored
    repeat_tried = fast_path_applies(ctx.engine.dialect.name, alerts)
    for attempt in range(RETRIES):
        try:
            with write_session(ctx.engine) as session:
                return ingest(session, config, integration, alerts, now=now,
                              services=ctx.services, repeat_tried=repeat_tried and attempt == 0)
        except OperationalError as exc:
            if _sqlstate(exc) not in _RETRYABLE_SQLSTATES or attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def openapi_paths() -> dict[str, Any]:
    from oncall.api.openapi import ingest_paths

    return ingest_paths()
