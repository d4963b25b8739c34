"""`POST /api/v1/integrations/{name}/alerts`: authenticate, normalise, store, answer.

Order of checks, each answered with a problem document: unknown integration 404; credentials
401 (nothing stored); media type 415; JSON 400 (also nested deeper than
`limits.MAX_JSON_DEPTH`); payload 422 naming the field, 413 over `limits.MAX_ALERTS_PER_REQUEST`.
The body is parsed only after the credentials are checked. Then one write transaction runs the
pipeline and commits before the 202; a signed (HMAC) delivery claims its signature in that same
transaction, and a signature claimed before is a replay: 409, nothing stored. A database that
cannot be reached answers 503 with Retry-After and commits nothing, so the sender retries.

CloudWatch arrives through SNS, whose messages carry their own signature. A `secret` on a
cloudwatch integration is checked first (HTTP Basic, which SNS sends for a subscription URL
`https://user:secret@host/...`). Then, cheapest first: the message must come from one of the
integration's `topic_arns` (else 403: a signature only proves SNS sent it, and anyone with an
AWS account can make SNS send us anything), name a genuine SNS certificate URL and carry a
signature of the right shape; only then is the certificate fetched (HTTPS, short timeout,
cached, failures cached too, one fetch per URL at a time) and the signature verified. A
SubscriptionConfirmation is confirmed by visiting its SubscribeURL, so an `aws sns subscribe`
completes by itself.
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

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems, throttle
from oncall.api.app import ApiContext, database_unavailable, log_unavailable
from oncall.api.openapi import UNAVAILABLE, json_body, problem, ref
from oncall.api.routing import Operation
from oncall.config.configset import ConfigSet
from oncall.config.models import Integration
from oncall.config.types import MissingSecret, resolve_env
from oncall.db.engine import read_session, write_session
from oncall.incidents import events
from oncall.ingest import auth, limits, replays
from oncall.ingest.normalizers import PayloadError, normalize
from oncall.observability import ingest as observed

log = logging.getLogger(__name__)

PATH = "/api/v1/integrations/{name}/alerts"
CERT_TIMEOUT_SECONDS = 3.0
CERT_CACHE_SIZE = 16
CERT_CACHE_TTL_SECONDS = 3600.0
CERT_FAILURE_TTL_SECONDS = 60.0
"""A certificate URL that could not be fetched is not tried again for this long."""
CERT_FAILURE_CACHE_SIZE = 256
MAX_CERT_BYTES = 64 * 1024

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_JSON_TYPES = ("application/json",)
_SNS_TYPES = ("application/json", "text/plain")


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
    """A small LRU of signing certificates: SNS uses one certificate for many messages.

    Failures are cached too (`CERT_FAILURE_TTL_SECONDS`, in an LRU of their own so they cannot
    push out the good ones), and concurrent requests for one URL wait for a single fetch.
    """

    def __init__(self, fetch: Callable[[str], bytes], size: int = CERT_CACHE_SIZE,
                 ttl: float = CERT_CACHE_TTL_SECONDS,
                 failure_ttl: float = CERT_FAILURE_TTL_SECONDS,
                 failure_size: int = CERT_FAILURE_CACHE_SIZE) -> None:
        self._fetch = fetch
        self._size = size
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._failure_size = failure_size
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._failures: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._pending: dict[str, threading.Event] = {}

    def get(self, url: str) -> bytes:
        while True:
            now = time.monotonic()
            with self._lock:
                hit = self._items.get(url)
                if hit is not None and now - hit[0] < self._ttl:
                    self._items.move_to_end(url)
                    return hit[1]
                failed = self._failures.get(url)
                if failed is not None and now - failed[0] < self._failure_ttl:
                    raise ValueError(f"{failed[1]} (cached failure)")
                pending = self._pending.get(url)
                if pending is None:
                    pending = self._pending[url] = threading.Event()
                    break
            pending.wait(CERT_TIMEOUT_SECONDS * 2)  # another thread is fetching it: its result
        try:
            pem = self._fetch(url)
        except Exception as exc:
            with self._lock:
                self._failures[url] = (time.monotonic(), str(exc) or type(exc).__name__)
                self._failures.move_to_end(url)
                while len(self._failures) > self._failure_size:
                    self._failures.popitem(last=False)
            raise
        else:
            with self._lock:
                self._items[url] = (now, pem)
                self._items.move_to_end(url)
                self._failures.pop(url, None)
                while len(self._items) > self._size:
                    self._items.popitem(last=False)
            return pem
        finally:
            with self._lock:
                del self._pending[url]
            pending.set()


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
    purger = replays.Purger()

    async def receive_alerts(request: Request) -> Response:
        return await _receive(ctx, certs, visit, purger, request)

    return [Route(PATH, receive_alerts, methods=["POST"], name="ingest")]


def _lookup(ctx: ApiContext, name: str) -> tuple[ConfigSet, Integration | None]:
    with read_session(ctx.engine) as session:
        config = ctx.config(session)
    return config, config.integrations.get(name)


async def _integration(ctx: ApiContext, name: str) -> tuple[ConfigSet, Integration | None]:
    """From the cache when fresh (no thread hop, no query), else read from the database."""
    config = ctx.fresh_config()
    if config is not None:
        return config, config.integrations.get(name)
    return await run_in_threadpool(_lookup, ctx, name)


async def applied_integration(ctx: ApiContext, name: str, path: str
                              ) -> tuple[ConfigSet, Integration] | Response:
    """The applied config and the integration a delivery names, or the answer to give: 404
    for an unknown integration, 503 while the database is unavailable."""
    try:
        config, integration = await _integration(ctx, name)
    except Exception as exc:
        if database_unavailable(exc):
            log_unavailable(log, f"ingest {name}", exc)
            return problems.unavailable(ctx.retry_after, instance=path)
        raise
    if integration is None:
        return problems.problem(404, f"no integration named {name!r} is applied", instance=path)
    return config, integration


def media_type(request: Request) -> str | None:
    raw = request.headers.get("content-type")
    if raw is None:
        return None
    return raw.split(";", 1)[0].strip().lower()


def authenticate_delivery(ctx: ApiContext, integration: Integration, request: Request, body: bytes,
                  now: datetime) -> auth.HmacProof | None:
    """The integration's secret, checked before the body is parsed; the HMAC proof, if signed.

    A cloudwatch integration without a secret is authenticated later, by SNS's signature."""
    cloudwatch = integration.type == "cloudwatch"
    if integration.secret is None:
        if cloudwatch:
            return None
        raise auth.AuthError(f"integration {integration.name} has no secret")
    try:
        secret = resolve_env(integration.secret, ctx.environ)
    except MissingSecret as exc:
        log.error("integration %s: %s", integration.name, exc)
        raise auth.AuthError(str(exc)) from None
    authorization = request.headers.get("authorization")
    if cloudwatch:
        auth.verify_basic(authorization, secret)
        return None
    if (integration.auth or "bearer") == "hmac":
        return auth.verify_hmac(
            secret, body,
            request.headers.get(auth.TIMESTAMP_HEADER),
            request.headers.get(auth.SIGNATURE_HEADER),
            now,
        )
    auth.verify_bearer(authorization, secret)
    return None


def unauthorized(integration: Integration, path: str) -> Response:
    headers = {}
    if integration.type == "cloudwatch":
        if integration.secret is not None:  # SNS sends Basic credentials after this challenge
            headers["WWW-Authenticate"] = 'Basic realm="oncall"'
    elif (integration.auth or "bearer") == "bearer":
        headers["WWW-Authenticate"] = 'Bearer realm="oncall"'
    return problems.problem(401, "missing or invalid credentials for this integration",
                            instance=path, headers=headers)


def _forbidden_topic(integration: Integration, path: str, exc: auth.ForeignTopic) -> Response:
    if integration.topic_arns:
        log.warning("ingest %s: SNS message refused: %s", integration.name, exc)
    else:
        log.error("ingest %s: the integration has no topic_arns, so every SNS message is "
                  "refused; add the topics it accepts (oncall validate reports this)",
                  integration.name)
    return problems.problem(403, "this integration does not accept messages from that SNS topic",
                            instance=path)


RECEIVE_ALERTS: Operation = {
    "operationId": "postAlerts",
    "summary": "Send alerts from a monitoring tool",
    "description": "The body is the tool's own payload (see docs/integrations.md). "
                   "Accepted only after it is stored.",
    "tags": ["ingest"],
    "security": [{"integrationBearer": []}, {"integrationHmac": []}],
    "parameters": [
        {
            "name": "name",
            "in": "path",
            "required": True,
            "description": "The Integration's name in the config",
            "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]*$", "maxLength": 63},
            "examples": {"generic": {"value": "synthetic-checks"}},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    "responses": {
        "200": json_body(ref("SubscriptionAnswer"),
                         "SNS subscription confirmed or unsubscription recorded"),
        "202": json_body(ref("Accepted"), "Stored; the alert and incident ids"),
        "400": problem("The body is not JSON, or nested deeper than 32 levels"),
        "401": problem("Missing or wrong credentials; nothing was stored"),
        "403": problem("An SNS message from a topic the integration does not "
                       "list in topic_arns; nothing was stored or confirmed"),
        "404": problem("No integration of that name is applied"),
        "409": problem("A signed request already accepted (HMAC replay); "
                       "nothing was stored again"),
        "413": problem("The body is larger than 1 MB, or holds more than 500 alerts"),
        "415": problem("The body is not JSON"),
        "422": problem("The payload is not one this integration reads (or an "
                       "alert has too many labels); invalid-params names the field"),
        "503": UNAVAILABLE,
    },
}


async def _receive(ctx: ApiContext, certs: CertCache, visit: Callable[[str], None],
                   purger: replays.Purger, request: Request) -> Response:
    arrived, started = time.time(), time.perf_counter()
    name = request.path_params["name"]
    path = request.url.path
    body = await request.body()
    now = ctx.clock()
    found = await applied_integration(ctx, name, path)
    if isinstance(found, Response):
        return found
    config, integration = found
    if integration.type == "pagerduty":  # the key is in the body: PagerDuty's own answers
        from oncall.api import pagerduty
        return observed.answered(integration.type, started, await pagerduty.receive_at_integration(
            ctx, config, integration, body, now))
    if integration.type == "opsgenie":  # Authorization: GenieKey, Opsgenie's own answers
        from oncall.api import opsgenie
        return observed.answered(integration.type, started, await opsgenie.receive_at_integration(
            ctx, integration, config, request, body, now))

    sns = integration.type == "cloudwatch"
    try:
        proof = authenticate_delivery(ctx, integration, request, body, now)
    except auth.AuthError as exc:
        log.info("ingest %s: refused: %s", name, exc)
        return unauthorized(integration, path)
    mark = (replays.Mark(integration.name, proof.digest, proof.expires_at)
            if proof is not None else None)
    admitted = await throttle.admit_alert(ctx, config, integration)
    if not admitted.allowed:  # counted against the sender only once it proved who it is
        return throttle.too_many(admitted, f"integration {name}", path)

    media = media_type(request)
    allowed = _SNS_TYPES if sns else _JSON_TYPES
    if media is not None and media not in allowed and not media.endswith("+json"):
        return problems.problem(
            415, f"expected {' or '.join(allowed)}, got {media}", instance=path,
        )
    try:
        payload: Any = limits.loads(body)
    except limits.TooDeep as exc:
        return problems.problem(400, f"the body is not acceptable JSON: {exc}", instance=path)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return problems.problem(400, f"the body is not valid JSON: {exc}", instance=path)

    if sns:
        try:
            message = auth.check_sns_message(payload, integration.topic_arns)
        except auth.ForeignTopic as exc:
            return _forbidden_topic(integration, path, exc)
        except auth.AuthError as exc:
            log.info("ingest %s: SNS message refused: %s", name, exc)
            return unauthorized(integration, path)
        try:
            await run_in_threadpool(_verify_sns, certs, message, now)
        except auth.AuthError as exc:
            log.info("ingest %s: SNS message refused: %s", name, exc)
            return unauthorized(integration, path)
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
        if exc.status != 422:
            return problems.problem(exc.status, str(exc), instance=path,
                                    invalid_params=exc.problems)
        return problems.unprocessable(exc.field_path, exc.message, exc.problems, instance=path)
    except ValueError as exc:
        return problems.unprocessable("", str(exc), instance=path)

    try:
        result = await ctx.ingest.accept(config, integration, alerts, now, ctx.services, mark)
    except replays.Replayed as exc:
        log.warning("ingest %s: refused a replayed signed request: %s", name, exc)
        return problems.problem(
            409, "this signed request was accepted before; nothing was stored (sign every "
            "delivery anew, with its own timestamp)", instance=path,
        )
    except Exception as exc:
        if database_unavailable(exc):
            log_unavailable(log, f"ingest {name}", exc)
            return problems.unavailable(ctx.retry_after, instance=path)
        raise
    if mark is not None and purger.due():
        await run_in_threadpool(_purge_replays, ctx, now)
    if result.incident_ids:
        ctx.wake()
    observed.accepted(name, integration.type, result.incident_ids, result.outcomes,
                      len(alerts), arrived, started)
    return JSONResponse(
        {
            "status": "accepted",
            "alerts": result.alert_ids,
            "incidents": result.incident_ids,
            "outcomes": result.outcomes,
        },
        status_code=202,
    )


def _purge_replays(ctx: ApiContext, now: datetime) -> None:
    try:
        replays.Purger.purge(ctx.engine, now)
    except Exception as exc:  # noqa: BLE001 - the delivery is committed; the next purge retries
        log.warning("could not purge expired replay claims: %s", exc)


def _verify_sns(certs: CertCache, message: Any, now: datetime) -> None:
    """After `auth.check_sns_message`: fetch (or reuse) the certificate and verify."""
    cert_url = message["SigningCertURL"]
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
            return unauthorized(integration, path)
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


def openapi_paths() -> dict[str, Any]:
    return {PATH: {"post": RECEIVE_ALERTS}}
