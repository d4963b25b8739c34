"""Benchmark: `oncall import pagerduty` of a large account, parity over 28 days included.

Generates recorded responses of an account with 200 schedules (each a weekly layer under a
weekday business-hours layer, with an override), 500 users and 300 services with Events API v2
keys, with PagerDuty's final schedules rendered by the reference renderer of the test peer
(not timed). Then times the whole command in-process: reading the saved responses, writing
rules/ and schedules/, and the shift-by-shift parity check, and prints the median of several
runs. `--live` reads the same responses through PagerDuty's own client from a local TLS peer.

    .venv/bin/python bench/importers.py [--schedules 200] [--users 500] [--services 300]
                                        [--days 28] [--runs 3] [--live]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cputime import cpu_speed

from oncall.cli.main import main
from oncall.testing.peers.pagerduty_api import PagerDutyApiPeer, save_account, synthetic_account
from oncall.testing.peers.tls import certificates

SINCE = datetime(2026, 10, 19, tzinfo=UTC)


def run_once(argv: list[str]) -> tuple[float, int, str]:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(argv)
    return time.perf_counter() - start, code, out.getvalue()


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", type=int, default=200)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--live", action="store_true",
                        help="through PagerDuty's client and a local TLS peer")
    args = parser.parse_args()

    loop = cpu_speed()
    started = time.perf_counter()
    account = synthetic_account(args.schedules, args.users, args.services, SINCE, args.days)
    generated = time.perf_counter() - started
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="oncall-bench-import-") as tmp:
        saved = Path(tmp) / "saved"
        save_account(account, saved)
        with contextlib.ExitStack() as stack:
            if args.live:
                peer = stack.enter_context(PagerDutyApiPeer(account, token="bench"))
                os.environ.update(PAGERDUTY_API_TOKEN="bench",
                                  SSL_CERT_FILE=str(certificates().ca_file))
                where = ["--api-url", peer.url, "--since", SINCE.isoformat()]
            else:
                where = ["--from", str(saved)]
            for i in range(args.runs):
                out = Path(tmp) / f"out-{i}"
                elapsed, code, text = run_once(["import", "pagerduty", *where, "--out", str(out),
                                                "--check-parity", str(args.days)])
                if code != 0:
                    print(text[-2000:], file=sys.stderr)
                    return 1
                times.append(elapsed)
        files = sum(1 for p in (Path(tmp) / "out-0").rglob("*") if p.is_file())

    print(f"CPU speed: `python -c \"for i in range(10_000_000): pass\"` {loop:.2f} s")
    how = "live API through PagerDuty's client over TLS" if args.live else "saved responses"
    print(f"import pagerduty ({how}): {args.schedules} schedules, {args.users} users, "
          f"{args.services} services -> {files} files, parity over {args.days} days: "
          f"median {statistics.median(times):.2f} s of {args.runs} runs "
          f"(min {min(times):.2f} s, max {max(times):.2f} s); "
          f"generating the recorded responses took {generated:.1f} s (not timed)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main_bench())
