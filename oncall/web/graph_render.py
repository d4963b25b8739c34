"""DOT source to sanitised SVG with Graphviz's `dot`: cached, bounded in time, off the loop.

The layout depends only on the DOT text, so the result is cached by its SHA-256: every
browser that opens /services with the same services and statuses gets the same drawing without
running `dot` again. A missing `dot`, a layout that takes too long or a failed run raise
`GraphUnavailable` with a sentence the page can show.
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import threading
from collections import OrderedDict

import graphviz  # type: ignore[import-untyped]
from graphviz.backend import dot_command, execute  # type: ignore[import-untyped]

from oncall.web import svg

TIMEOUT_S = 10.0
CACHE_SIZE = 64


class GraphUnavailable(RuntimeError):
    """The graph could not be drawn; the message says why, for the page."""


_cache: OrderedDict[str, svg.CleanSvg] = OrderedDict()
_lock = threading.Lock()


def _run_dot(source: str, timeout: float) -> str:
    cmd = dot_command.command("dot", "svg")
    try:
        done = execute.run_check(cmd, input=source, encoding="utf-8", capture_output=True,
                                 timeout=timeout)
    except graphviz.ExecutableNotFound as exc:
        raise GraphUnavailable(
            "Graphviz is not installed on the server (no `dot` on its PATH): "
            "install it (`make graphviz`, or the `graphviz` package) to draw the graph."
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise GraphUnavailable(f"Laying out the graph took longer than {timeout:g} s.") from exc
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or "").strip().splitlines()[:1]
        raise GraphUnavailable("Graphviz could not draw the graph"
                               + (f": {detail[0][:200]}" if detail else ".")) from exc
    out: str = done.stdout
    return out


def _key(source: str, label: str) -> str:
    return hashlib.sha256(f"{label}\0{source}".encode()).hexdigest()


def cached(source: str, label: str) -> svg.CleanSvg | None:
    """The drawing of `source` if this process drew it before: the page shows it with its
    first answer instead of asking for it in a second round trip."""
    with _lock:
        found = _cache.get(_key(source, label))
        if found is not None:
            _cache.move_to_end(_key(source, label))
        return found


def render(source: str, label: str, timeout: float = TIMEOUT_S) -> svg.CleanSvg:
    """The drawing of `source`, sanitised; from the cache when this source was drawn before."""
    key = _key(source, label)
    found = cached(source, label)
    if found is not None:
        return found
    try:
        drawn = svg.clean(_run_dot(source, timeout), label)
    except svg.NotAGraph as exc:
        raise GraphUnavailable(f"Graphviz wrote something that is not a graph: {exc}") from exc
    with _lock:
        _cache[key] = drawn
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return drawn


async def render_async(source: str, label: str, timeout: float = TIMEOUT_S) -> svg.CleanSvg:
    """`render` in a worker thread, so a layout never holds up the event loop."""
    return await asyncio.to_thread(render, source, label, timeout)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
