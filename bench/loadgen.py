"""The open-loop load generator the paging and soak benches share.

It runs in a process of its own, so that its CPU never delays the Slack peer's clock or the
bench's sampling: every request is sent at its scheduled time over keep-alive connections (the
client of bench/ingest.py), and its latency counts from that time, so a backlog shows.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import queue
import time
from collections.abc import Callable
from typing import Any

from ingest import read_response

Plan = list[tuple[float, bytes, str | None]]
"""Every request of a run: (offset in seconds, the HTTP request, a marker to time the 202 of,
or None)."""


async def drive(port: int, requests: Plan, connections: int) -> dict[str, Any]:
    """Send `requests` on schedule; each one's (offset, latency, status), and the wall-clock
    time each marked request's 202 arrived."""
    sent: list[tuple[float, float, int]] = []
    accepted: dict[str, float] = {}
    next_index = 0
    start = 0.0
    connected = 0
    go = asyncio.Event()

    async def worker() -> None:
        nonlocal next_index, connected, start
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        connected += 1
        if connected == connections:  # the clock starts once every connection is open
            start = time.perf_counter() + 0.05
            go.set()
        await go.wait()
        try:
            while next_index < len(requests):
                offset, request, marker = requests[next_index]
                next_index += 1
                delay = start + offset - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(request)
                try:
                    status = await read_response(reader)
                except (OSError, asyncio.IncompleteReadError):
                    status = 0
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                sent.append((offset, time.perf_counter() - start - offset, status))
                if marker is not None and status == 202:
                    accepted[marker] = time.time()
        finally:
            writer.close()

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return {"sent": sent, "accepted": accepted, "generator_cpu": time.process_time() - cpu}


def _run(results: Any, plan: Callable[..., Plan], plan_args: tuple[Any, ...], port: int,
         connections: int) -> None:
    results.put(asyncio.run(drive(port, plan(*plan_args), connections)))


class Load:
    """A generator process running `plan(*plan_args)` against 127.0.0.1:`port`; the plan is
    built in that process (a long run's requests are not copied between processes)."""

    def __init__(self, port: int, plan: Callable[..., Plan], plan_args: tuple[Any, ...],
                 connections: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._results = ctx.Queue()
        self._process = ctx.Process(target=_run, args=(self._results, plan, plan_args, port,
                                                       connections))
        self._process.start()

    def poll(self, timeout: float) -> dict[str, Any] | None:
        """The figures once the run is over, else None after `timeout` seconds."""
        try:
            result: dict[str, Any] = self._results.get(timeout=timeout)
        except queue.Empty:
            if not self._process.is_alive():
                raise RuntimeError("the load generator died") from None
            return None
        self._process.join()
        return result

    def wait(self) -> dict[str, Any]:
        while (result := self.poll(1.0)) is None:
            pass
        return result
