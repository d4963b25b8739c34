"""Email: what one page costs the SMTP provider on kept sessions, and on a new session each.

    .venv/bin/python bench/mail.py [--messages 600] [--threads 4] [--starttls]
        [--session-per-message]

`--threads` threads share one `SmtpProvider` (as a worker's threads do) and send `--messages`
pages to the local SMTP peer; `--starttls` makes the peer require STARTTLS with a certificate
from the throwaway CA, as a relay on the internet does. Printed: messages per second, each
send's wall time (p50, p99), the sending threads' CPU per message (the peer runs in this
process too, on its own thread, and is not counted) and the sessions the peer saw.
`--session-per-message` ends each session after one message: how every page went out before
sessions were kept. The peer is local, so the wall times hold no network round trips; a new
session costs six or seven of them (TCP, greeting, EHLO, STARTTLS, TLS, EHLO, QUIT) where a
kept one costs one (NOOP).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from cputime import cpu_reference

from oncall.notify.message import Notice, NoticeKind, Status
from oncall.notify.providers import smtp
from oncall.notify.settings import ProviderSettings
from oncall.testing.peers.smtp import SmtpPeer
from oncall.testing.peers.tls import certificates

NOTICE = Notice(kind=NoticeKind.PAGE, incident_id="01J9ZK3V7QW8", number=1,
                title="API error rate above 5%", url="http://localhost:3000/incidents/1",
                summary="Error rate 7.2% over 5m", service="checkout", priority="P1",
                status=Status.TRIGGERED, labels=(("env", "prod"),),
                ack_url="http://localhost:3000/ack/t0k3n?sig=abc&exp=1700000000")


def run(args: argparse.Namespace) -> None:
    if args.session_per_message:
        smtp.MESSAGES_PER_SESSION = 1
    os.environ["SSL_CERT_FILE"] = str(certificates().ca_file)
    with SmtpPeer(starttls=args.starttls) as peer:
        settings = ProviderSettings.from_env({"ONCALL_PUBLIC_URL": "http://localhost:3000",
                                              **peer.env()})
        provider = smtp.SmtpProvider(settings)

        def send(i: int) -> tuple[float, float, bool]:
            cpu, wall = time.thread_time(), time.perf_counter()
            ok = provider.send(f"user{i}@example.com", NOTICE).ok
            return time.perf_counter() - wall, time.thread_time() - cpu, ok

        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            results = list(pool.map(send, range(args.messages)))
        elapsed = time.perf_counter() - started
        walls = sorted(r[0] for r in results)
        failed = sum(1 for r in results if not r[2])
        print(f"{args.messages} messages, {args.threads} threads, "
              f"{'STARTTLS' if args.starttls else 'plain'}, "
              f"{'a session per message' if args.session_per_message else 'kept sessions'}: "
              f"{args.messages / elapsed:,.0f}/s, send p50 {statistics.median(walls) * 1000:.2f} ms"
              f" p99 {walls[int(len(walls) * 0.99) - 1] * 1000:.2f} ms, "
              f"CPU {sum(r[1] for r in results) / len(results) * 1000:.2f} ms per message, "
              f"{peer.connections} sessions, {len(peer.mails)} taken, {failed} failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--starttls", action="store_true")
    parser.add_argument("--session-per-message", action="store_true")
    args = parser.parse_args()
    with cpu_reference():
        run(args)


if __name__ == "__main__":
    main()
