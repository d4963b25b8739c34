"""Per-process histograms: observed where the work happens, merged across processes through
prometheus-client's multiprocess directory, and served on a worker's own port."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from oncall.observability import metrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def _value(text: str, name: str, **labels: str) -> float | None:
    return _samples(text).get((name, tuple(sorted(labels.items()))))


def test_observations_show_in_this_process_exposition() -> None:
    before = _value(generate_latest(metrics.registry()).decode(), "oncall_ingest_seconds_count",
                    type="datadog") or 0.0
    metrics.observe_ingest("datadog", 0.02)
    metrics.observe_provider_call("sms", "twilio_sms", metrics.RETRYABLE, 1.5)
    metrics.observe_first_page("sms", 12.0)
    metrics.observe_sweep(0.3, queue_depth=4)
    text = generate_latest(metrics.registry()).decode()
    assert _value(text, "oncall_ingest_seconds_count", type="datadog") == before + 1
    assert (_value(text, "oncall_provider_call_seconds_bucket", channel="sms",
                   provider="twilio_sms", outcome="retryable", le="1.0") or 0) < (
        _value(text, "oncall_provider_call_seconds_bucket", channel="sms",
               provider="twilio_sms", outcome="retryable", le="2.0") or 0)
    assert (_value(text, "oncall_alert_to_first_page_seconds_count", channel="sms") or 0) >= 1
    assert _value(text, "oncall_queue_depth") == 4
    assert (_value(text, "oncall_sweep_lag_seconds_count") or 0) >= 1


CHILD = textwrap.dedent("""
    import sys
    from oncall.observability import metrics
    metrics.observe_provider_call("sms", "twilio_sms", metrics.SENT, 0.2)
    metrics.observe_ingest("prometheus", 0.01)
    metrics.observe_sweep(0.1, queue_depth=int(sys.argv[1]))
    if sys.argv[2] == "stay":
        sys.stdout.write("ready\\n"); sys.stdout.flush(); sys.stdin.read()
""")


def _child(directory: Path, depth: int, stay: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, metrics.MULTIPROC_ENV: str(directory)}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(depth), "stay" if stay else "go"],
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def test_processes_sharing_the_directory_are_merged(tmp_path: Path) -> None:
    for depth in (3, 5):
        assert _child(tmp_path, depth).wait(timeout=60) == 0
    alive = _child(tmp_path, 9, stay=True)
    try:
        assert alive.stdout is not None and alive.stdout.readline() == "ready\n"
        text = generate_latest(metrics.registry(path=str(tmp_path))).decode()
    finally:
        alive.communicate("", timeout=60)
    assert _value(text, "oncall_provider_call_seconds_count", channel="sms",
                  provider="twilio_sms", outcome="sent") == 3
    assert _value(text, "oncall_ingest_seconds_count", type="prometheus") == 3
    assert _value(text, "oncall_sweep_lag_seconds_count") == 3
    # the queue depth of live workers only: the two that exited marked themselves dead
    assert _value(text, "oncall_queue_depth") == 9
    after = generate_latest(metrics.registry(path=str(tmp_path))).decode()
    assert _value(after, "oncall_queue_depth") is None  # the last one has exited too
    assert _value(after, "oncall_sweep_lag_seconds_count") == 3  # totals stay


def test_a_worker_serves_its_metrics_on_its_own_port() -> None:
    metrics.observe_sweep(0.05)
    server = metrics.serve(0, "127.0.0.1")
    try:
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert (_value(text, "oncall_sweep_lag_seconds_count") or 0) >= 1
    assert "oncall_incidents" not in text  # the database figures are the API's alone
