"""Backlog drain: how fast `--workers` worker processes page a backlog of new incidents.

    .venv/bin/python bench/drain.py [--backend production|embedded] [--incidents 3000]
        [--workers 1] [--threads 4] [--rate 500]

`--workers` × `oncall worker --threads N` start and settle, then are held (SIGSTOP) while
`--incidents` alerts are posted to `oncall api` at `--rate` per second, each opening an incident
whose first step is due at once (the ingest kicks queue up as well). Then the workers are let go
(SIGCONT), and the bench times, through the local Slack peer, how long they take to send every
incident's first message: the incidents paged per second, from their release to the last
first page. This is what a burst after a worker
outage costs, and, with the API and the load generator idle while it is measured, it shows
what more worker processes add where the paging alone fills the machine (the scale test).
"""

from __future__ import annotations

import argparse
import os
import signal
import time

from cputime import CpuMeter, cpu_reference, named, tree
from paging import CORES, first_pages, peer_env, post_alerts, running_stack

from oncall.testing.peers import SlackPeer


def run(args: argparse.Namespace) -> None:
    users = {"alice@example.com": "UALICE", "bob@example.com": "UBOB"}
    with (SlackPeer(users=users, tls=args.provider_tls) as slack,
          running_stack(args.backend, args.workers, args.threads, peer_env(slack)) as stack):
        slack.slow(args.provider_latency)
        api_pid, *workers = (p.pid for p in stack.procs.procs)
        for pid in workers:  # started and settled, then held while the backlog builds
            os.kill(pid, signal.SIGSTOP)
        accepted, errors, _cpu = post_alerts(stack.api, args.rate, args.incidents / args.rate)
        if errors or slack.requests:
            raise SystemExit(f"backlog not built: {errors} errors, "
                             f"{len(slack.requests)} Slack requests before any worker ran")
        meter = CpuMeter(workers=lambda procs: [
            pid for root in workers for pid in tree(root)(procs)], api=tree(api_pid),
            postgres=named("postgres"), redis=named("redis-server"), bench=tree(os.getpid()))
        meter.start()
        started = time.time()
        for pid in workers:
            os.kill(pid, signal.SIGCONT)
        first = first_pages(slack, accepted, wait=600)
        cpu = meter.stop()
        elapsed = max(first.values(), default=started) - started
        cpu["bench"] -= cpu["workers"] + cpu["api"]  # its children; what is left is the peer
        paged = len(first)
        print(f"{args.backend}: {args.workers} worker process(es) × {args.threads} threads "
              f"paged {paged}/{len(accepted)} incidents in {elapsed:.1f} s: "
              f"{paged / elapsed:.0f} incidents/s; CPU per incident "
              + ", ".join(f"{name} {1000 * seconds / max(1, paged):.2f} ms"
                          for name, seconds in cpu.items())
              + f"; machine busy {100 * sum(cpu.values()) / elapsed / CORES:.0f}%"
              f", steal {100 * meter.steal:.0f}%", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["embedded", "production"], default="production")
    parser.add_argument("--incidents", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=500.0,
                        help="alerts per second while the backlog is built")
    parser.add_argument("--workers", type=int, default=1, help="`oncall worker` processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--provider-latency", type=float, default=0.0, metavar="SECONDS",
                        help="the Slack peer answers each call this long after it arrived")
    parser.add_argument("--provider-tls", action="store_true",
                        help="the Slack peer speaks HTTPS, as Slack does (the workers trust "
                             "its throwaway CA)")
    run(parser.parse_args())


if __name__ == "__main__":
    with cpu_reference():
        main()
