"""The one outbound HTTP call of `webhook` and `runbook` steps (and Teams cards), made safe.

A step's URL comes from config, but its host may be a name anyone with DNS control can point
anywhere, and its body carries alert data. So:

- `${env:NAME}` is resolved in the URL and header values only, never in the body (an alert
  title holding `${env:X}` stays text), and every resolved value is masked in the detail.
- The target is checked against the `DenyList` before any byte is sent: the host name, and
  every address it resolves to. The connection then goes to an address that was checked
  (`GuardedTransport` pins the request to it, keeping the Host header and TLS name), so a DNS
  answer that changes between the check and the connect cannot reach a denied address.
- Redirects are not followed (a 3xx is a failed call), proxies from the environment are not
  used (they would make the proxy, not the target, the checked address).
- The whole call has a deadline, and at most `max_response_bytes` of the response are read.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from oncall.config.types import MissingSecret, env_names, resolve_env
from oncall.notify.providers.base import retryable_status
from oncall.settings import DEFAULT_WEBHOOK_DENY, Settings
from oncall.workflows.outcome import DETAIL_LIMIT, StepOutcome, bounded, elapsed_ms, failed

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "oncall-workflows"
MAX_TLS_POOLS = 256
"""HTTPS hosts whose connections a shared client keeps (one pool per host name)."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""Methods that carry the rendered body; GET and DELETE send none."""

Resolver = Callable[[str, int], list[str]]
"""(host, port) -> the addresses a connection could go to."""
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `getaddrinfo` gives for the host, in its order, once each."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class DenyList:
    """Targets no step may call: networks (checked against every resolved address) and host
    names (a name also covers its subdomains)."""

    networks: tuple[Network, ...] = ()
    hosts: tuple[str, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> DenyList:
        """From CIDRs, addresses and host names, as `oncall.settings.parse_webhook_deny`
        checked them."""
        networks: list[Network] = []
        hosts: list[str] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.append(entry.rstrip(".").lower())
        return cls(tuple(networks), tuple(hosts))

    @classmethod
    def default(cls) -> DenyList:
        return cls.of(DEFAULT_WEBHOOK_DENY)

    @classmethod
    def from_settings(cls, settings: Settings) -> DenyList:
        return cls.of(settings.webhook_deny)

    def denies_host(self, host: str) -> bool:
        name = host.rstrip(".").lower()
        if any(name == h or name.endswith("." + h) for h in self.hosts):
            return True
        try:
            return self.denies_address(name.strip("[]"))
        except ValueError:
            return False  # a name, not an address literal: its addresses are checked later

    def denies_address(self, address: str) -> bool:
        """Raises ValueError for something that is not an address."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)  # ::ffff:169.254.169.254 is 169.254.169.254
        return any(c in net for c in candidates for net in self.networks)


class TargetDenied(Exception):
    """The target is on the deny list (or resolves to an address that is): nothing was sent."""


class GuardedTransport(httpx.BaseTransport):
    """Checks each request's host and every address it resolves to against the deny list,
    then sends the request to a checked address (Host header and TLS server name stay the
    host's), trying the next checked address if one refuses the connection.

    Connections are pooled by address, so HTTPS gets a pool per host name: a connection
    whose certificate was checked for one name is never reused for another name that
    happens to resolve to the same address."""

    def __init__(self, deny: DenyList, resolve: Resolver = system_resolver,
                 verify: ssl.SSLContext | bool = True) -> None:
        self.deny = deny
        self.resolve = resolve
        # certificates may come from SSL_CERT_FILE; proxies never come from the environment
        self._tls_context = httpx.create_ssl_context(verify=verify, trust_env=True)
        self._plain = self._transport()
        self._by_host: dict[str, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def _transport(self) -> httpx.HTTPTransport:
        return httpx.HTTPTransport(verify=self._tls_context, trust_env=False, retries=0)

    def _inner(self, url: httpx.URL) -> httpx.HTTPTransport:
        if url.scheme != "https":
            return self._plain
        with self._lock:
            inner = self._by_host.get(url.host)
            if inner is None:
                if len(self._by_host) >= MAX_TLS_POOLS:  # the oldest goes (closed when idle)
                    self._by_host.pop(next(iter(self._by_host)))
                inner = self._by_host[url.host] = self._transport()
            return inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        host = url.host
        if self.deny.denies_host(host):
            raise TargetDenied(f"{host} is on the webhook deny list")
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            addresses = [host] if _is_address(host) else self.resolve(host, port)
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        if not addresses:
            raise httpx.ConnectError(f"cannot resolve {host}: no address", request=request)
        for address in addresses:
            try:
                denied = self.deny.denies_address(address)
            except ValueError:
                denied = True  # not an address we can check: never connect to it
            if denied:
                raise TargetDenied(
                    f"{host} resolves to {address}, which is on the webhook deny list")
        if url.scheme == "https" and not _is_address(host):
            request.extensions = {**request.extensions, "sni_hostname": host}
        inner = self._inner(url)
        last: httpx.ConnectError | None = None
        for address in addresses:
            request.url = url.copy_with(host=address.split("%", 1)[0])
            try:
                return inner.handle_request(request)
            except httpx.ConnectError as exc:
                last = exc
        assert last is not None
        raise last

    def close(self) -> None:
        with self._lock:
            pools = [self._plain, *self._by_host.values()]
            self._by_host.clear()
        for pool in pools:
            pool.close()


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class GuardedClient(httpx.Client):
    """The only client step calls use: the deny list checked on every connection, no
    redirects, no proxies from the environment. A worker may share one across steps
    (keep-alive connections were checked when they were opened)."""

    def __init__(self, deny: DenyList, resolve: Resolver = system_resolver,
                 verify: ssl.SSLContext | bool = True) -> None:
        """`verify`: the TLS trust (tests pass their own CA); the certificate is checked
        against the URL's host name even though the connection goes to an address."""
        super().__init__(transport=GuardedTransport(deny, resolve, verify),
                         follow_redirects=False, trust_env=False)
        self.deny = deny


@dataclass(frozen=True)
class _Prepared:
    method: str
    url: str
    headers: dict[str, str]
    content: bytes | None
    limit: int
    secrets: tuple[str, ...]


def json_body(body: Any) -> bytes:
    """The bytes a call sends for a JSON `body`: what a signature over the body must cover."""
    return json.dumps(body, ensure_ascii=False).encode()


def _prepare(action: Mapping[str, Any], environ: Mapping[str, str]) -> _Prepared:
    """The request of `action`: `${env:…}` resolved in the URL and header values only."""
    secrets: list[str] = []

    def resolve(text: str) -> str:
        names = env_names(text)
        if not names:
            return text
        resolved = resolve_env(text, environ)
        secrets.extend(str(environ[name]) for name in names)
        secrets.append(resolved)
        return resolved

    url = resolve(str(action["url"]))
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError("the URL is not http(s) once its ${env:…} references are resolved")
    headers = {str(k): resolve(str(v)) for k, v in (action.get("headers") or {}).items()}
    method = str(action.get("method") or "POST").upper()
    content = None
    if method in BODY_METHODS and action.get("content") is not None:
        content = str(action["content"]).encode()  # JSON text made and signed by the caller
    elif method in BODY_METHODS and action.get("body") is not None:
        content = json_body(action["body"])
    if content is not None and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    given = {k.lower() for k in headers}
    if "accept-encoding" not in given:
        headers["Accept-Encoding"] = "identity"  # the raw bytes read are the bytes counted
    if "user-agent" not in given:
        headers["User-Agent"] = USER_AGENT
    limit = action.get("max_response_bytes")
    limit = DEFAULT_MAX_RESPONSE_BYTES if limit is None else max(0, int(limit))
    return _Prepared(method, url, headers, content, limit, tuple(secrets))


def call(action: Mapping[str, Any], timeout: float, *, environ: Mapping[str, str],
         deny: DenyList, client: httpx.Client | None = None,
         resolve: Resolver = system_resolver) -> StepOutcome:
    """Make the call `action` describes ({"url", "method", "headers", "body" or "content"
    (JSON text sent as is), "max_response_bytes"}) within `timeout` seconds in all.

    `client`, if given, must be a `GuardedClient` over the same deny list: a plain client
    would connect without the check (a programming error: ValueError). Never raises for a
    failed call."""
    started = time.monotonic()
    if client is not None and not (isinstance(client, GuardedClient) and client.deny == deny):
        raise ValueError("step calls need an oncall.workflows.http.GuardedClient(deny)")
    try:
        prepared = _prepare(action, environ)
    except MissingSecret as exc:  # names the variable, never a value
        return failed(str(exc), started, retryable=False)
    except (KeyError, TypeError, ValueError) as exc:
        return failed(f"bad webhook action: {type(exc).__name__}: {exc}", started,
                      retryable=False)
    secrets = prepared.secrets
    if not prepared.url.startswith(("http://", "https://")):
        return failed("bad webhook URL: not http(s)", started, retryable=False)
    owned = client is None
    http = client if client is not None else GuardedClient(deny, resolve)
    deadline = started + timeout
    try:
        with http.stream(prepared.method, prepared.url, headers=prepared.headers,
                         content=prepared.content, timeout=timeout) as response:
            body, cut = _read(response, prepared.limit, deadline)
            status = response.status_code
            location = response.headers.get("location")
    except TargetDenied as exc:
        return failed(f"refused: {exc}", started, retryable=False, secrets=secrets)
    except httpx.TimeoutException as exc:
        return failed(f"timeout after {timeout:g}s: {type(exc).__name__} {exc}".rstrip(),
                      started, retryable=True, secrets=secrets)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        return failed(f"bad webhook URL: {exc}", started, retryable=False, secrets=secrets)
    except (httpx.TransportError, OSError) as exc:
        return failed(f"network error: {type(exc).__name__}: {exc}", started, retryable=True,
                      secrets=secrets)
    except Exception as exc:  # noqa: BLE001 - an unforeseen error is a failed, unretried step
        return failed(f"{type(exc).__name__}: {exc}", started, retryable=False,
                      secrets=secrets)
    finally:
        if owned:
            http.close()
    return _outcome(status, body, cut, prepared.limit, location, secrets, started)


def _read(response: httpx.Response, limit: int, deadline: float) -> tuple[bytes, bool]:
    """At most `limit` bytes of the body, and whether there was more; the rest is never read.
    A server trickling bytes past the deadline is a timeout like a silent one."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("the response outlasted the step's timeout")
        room = limit - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _outcome(status: int, body: bytes, cut: bool, limit: int, location: str | None,
             secrets: tuple[str, ...], started: float) -> StepOutcome:
    ok = 200 <= status < 300
    text = body.decode("utf-8", errors="replace")
    head = f"HTTP {status}"
    if 300 <= status < 400:
        head += f" (redirect to {location or '?'} not followed)"
    suffix = f" [response cut at {limit} bytes]" if cut else ""
    detail = bounded(f"{head}: {text}" if text.strip() else head, secrets,
                     limit=DETAIL_LIMIT, suffix=suffix)
    return StepOutcome(ok=ok, retryable=not ok and retryable_status(status), status_code=status,
                       detail=detail, duration_ms=elapsed_ms(started))
