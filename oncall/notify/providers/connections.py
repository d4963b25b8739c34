"""Kept-alive HTTP(S) connections to providers, one pool per provider in each process.

A provider library that opens a connection per call (slack-sdk's WebClient over urllib,
pywebpush without a session, Teams' incoming webhooks over urllib) pays a TCP and TLS
handshake on every page: on a worker, 2.7 ms of CPU a Slack call over TLS against 0.7 ms on a
kept connection, and the handshake's round trips before the provider even sees the request.
The pools here keep connections open between calls and hand them to any thread.

No retries here: a call is one attempt, and the dispatcher decides about the next one
(backoff, the circuit breaker, the next channel). A connection the provider closed while idle
is noticed before it is reused, so it costs a new connection, not a failed page.
"""

from __future__ import annotations

import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request

import requests
import urllib3
from requests.adapters import HTTPAdapter

CONNECTIONS_PER_HOST = 32
"""Connections kept per provider host: a channel's send threads (`oncall worker
--send-threads`, 32 by default) each hold at most one at a time. More calls at once than this
still go out, on connections that are closed after the call."""


def pool(ssl_context: ssl.SSLContext | None = None, proxy: str | None = None
         ) -> urllib3.PoolManager:
    """A pool for one provider; `ssl_context` None trusts the system's store (and
    `SSL_CERT_FILE`), as urllib does."""
    if ssl_context is None:
        ssl_context = ssl.create_default_context()
    if proxy:
        return urllib3.ProxyManager(proxy, maxsize=CONNECTIONS_PER_HOST, retries=False,
                                    ssl_context=ssl_context)
    return urllib3.PoolManager(maxsize=CONNECTIONS_PER_HOST, retries=False,
                               ssl_context=ssl_context)


class Pools:
    """Pools for a provider whose URLs come from config (webhooks): the environment's proxy
    for each URL as urllib would choose it (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`), and a
    pool per proxy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pools: dict[str | None, urllib3.PoolManager] = {}

    def for_url(self, url: str) -> urllib3.PoolManager:
        proxy = env_proxy(url)
        with self._lock:
            found = self._pools.get(proxy)
            if found is None:
                found = self._pools[proxy] = pool(proxy=proxy)
            return found


def env_proxy(url: str) -> str | None:
    """The proxy urllib's own opener would send `url` through, None for a direct call."""
    parts = urllib.parse.urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.netloc):
        return None
    return proxy


def session() -> requests.Session:
    """A requests session kept by one provider whose library takes one (web push); requests
    trusts `REQUESTS_CA_BUNDLE` or certifi's store, and sends no retries of its own. Like the
    pools it follows no redirect: one raises `requests.TooManyRedirects` before it is
    followed."""
    kept = requests.Session()
    kept.max_redirects = 0
    adapter = HTTPAdapter(pool_maxsize=CONNECTIONS_PER_HOST, max_retries=0)
    kept.mount("https://", adapter)
    kept.mount("http://", adapter)
    return kept


def post(http: urllib3.PoolManager, url: str, body: bytes | None, headers: dict[str, str],
         timeout: float) -> urllib3.BaseHTTPResponse:
    """One POST, its whole answer read (whatever its status). Connection failures and
    timeouts are raised as urllib's `URLError` (an `OSError`), as the SDKs' own urllib calls
    raise them, so every provider's failure handling reads them the same way; a URL that
    cannot be parsed is a `ValueError`."""
    try:
        return http.request("POST", url, body=body, headers=headers,
                            timeout=urllib3.Timeout(connect=timeout, read=timeout),
                            redirect=False, preload_content=True)
    except urllib3.exceptions.LocationValueError as exc:
        raise ValueError(str(exc)) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise urllib.error.URLError(exc) from exc
