"""Per-process Prometheus metrics: what only a running process sees (how long an ingest took,
how long a page waited for its first send, each provider call, the sweeper's lag).

The figures read from the database are not here: `oncall.api.metrics` computes them at scrape
time, so any process answers for the whole deployment. These are per process, and several
processes serve (`oncall api --workers N`, several `oncall worker`s), so with
`PROMETHEUS_MULTIPROC_DIR` set every process writes its samples to files in that directory
(prometheus-client's multiprocess mode, chosen when the library is first imported) and a scrape
merges them (`process_collector`). Without it, a process exposes only its own samples.

Where a worker's samples are served: the API's `/metrics` merges the shared directory (workers
on the same machine as an API process, same directory), and `serve` exposes them on a port of
their own (`oncall worker --metrics-port`) for workers elsewhere. docs/operations.md says which
to scrape.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable, Iterator
from typing import Final
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"

PROCESS = CollectorRegistry()
"""This process's own metrics (read directly only outside multiprocess mode)."""

INGEST_SECONDS = Histogram(
    "oncall_ingest_seconds",
    "Time from an alert delivery's arrival to its 202 answer, per integration type.",
    ["type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=PROCESS,
)
FIRST_PAGE_SECONDS = Histogram(
    "oncall_alert_to_first_page_seconds",
    "Time from an incident's trigger to its first page handed to a provider, per channel.",
    ["channel"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0),
    registry=PROCESS,
)
PROVIDER_CALL_SECONDS = Histogram(
    "oncall_provider_call_seconds",
    "Duration of each notification provider call, per channel, provider and outcome "
    "(sent, retryable, failed, raised).",
    ["channel", "provider", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
    registry=PROCESS,
)
SWEEP_LAG_SECONDS = Histogram(
    "oncall_sweep_lag_seconds",
    "How late a worker's sweep started after it was due.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
    registry=PROCESS,
)
QUEUE_DEPTH = Gauge(
    "oncall_queue_depth",
    "Tasks waiting in the worker queue, as the latest sweep of a live worker saw it.",
    multiprocess_mode="livemostrecent",
    registry=PROCESS,
)

SENT, RETRYABLE, FAILED, RAISED = "sent", "retryable", "failed", "raised"
"""A provider call's outcome label: sent; failed and worth a retry; failed for good; raised."""


def multiproc_dir(environ: os._Environ[str] | dict[str, str] | None = None) -> str | None:
    """The shared directory of multiprocess mode, or None when each process is on its own."""
    value = (os.environ if environ is None else environ).get(MULTIPROC_ENV, "").strip()
    return value or None


def observe_ingest(integration_type: str, seconds: float) -> None:
    INGEST_SECONDS.labels(integration_type).observe(max(seconds, 0.0))


def observe_first_page(channel: str, seconds: float) -> None:
    FIRST_PAGE_SECONDS.labels(channel).observe(max(seconds, 0.0))


def observe_provider_call(channel: str, provider: str, outcome: str, seconds: float) -> None:
    PROVIDER_CALL_SECONDS.labels(channel, provider, outcome).observe(max(seconds, 0.0))


def observe_queue_depth(depth: int) -> None:
    QUEUE_DEPTH.set(depth)


def observe_sweep(lag_seconds: float, queue_depth: int | None = None) -> None:
    """One sweep: how late it started, and (when the queue could be read) its depth."""
    SWEEP_LAG_SECONDS.observe(max(lag_seconds, 0.0))
    if queue_depth is not None:
        QUEUE_DEPTH.set(queue_depth)


class _Merged:
    """Several collectors exposed as one."""

    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = tuple(collectors)

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def process_collector(path: str | None = None) -> Collector:
    """Every process's samples from the shared directory in multiprocess mode (`path`, or
    `PROMETHEUS_MULTIPROC_DIR`), else this process's own."""
    path = path or multiproc_dir()
    if path is not None:
        return MultiProcessCollector(None, path=path)  # type: ignore[no-untyped-call]
    return PROCESS


def registry(*extra: Collector, path: str | None = None) -> CollectorRegistry:
    """A registry for one exposition: the `extra` collectors, then the processes' samples."""
    reg = CollectorRegistry()
    reg.register(_Merged((*extra, process_collector(path))))
    return reg


def serve(port: int, addr: str = "0.0.0.0") -> WSGIServer:
    """Expose the process metrics on `port` from a daemon thread (a worker has no HTTP
    server of its own); in multiprocess mode, every process's of the shared directory.
    Returns the server (`shutdown()` stops it)."""
    server, _thread = start_http_server(port, addr, registry=registry())
    return server


def _exited() -> None:
    path = multiproc_dir()
    if path is not None:
        mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]


if multiproc_dir() is not None:
    # A live-mode gauge of a process that ended stops counting (its histograms' files stay:
    # they are totals). A killed process is not seen here; its gauge goes when the directory
    # is emptied at the next start (docs/operations.md).
    atexit.register(_exited)
