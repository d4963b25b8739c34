"""Route handlers whose work blocks run in the API's thread pool, never on its event loop.

The event loop also answers every alert: a database session or a provider SDK call made inside
an `async def` handler (Slack's `users.info` may wait 5 s) would hold every alert behind it. A
handler that blocks is therefore written as a plain function of the request and its body, and
`offloaded` makes it a route endpoint: the body is read on the event loop, then the function runs
in the same thread pool (and under the same thread limit) as ingest's database work.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

BlockingHandler = Callable[[Request, bytes], Response]
Endpoint = Callable[[Request], Awaitable[Response]]


def offloaded(handler: BlockingHandler) -> Endpoint:
    """`handler(request, body)` as an endpoint that runs it off the event loop."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        return await anyio.to_thread.run_sync(handler, request, body)

    return endpoint
