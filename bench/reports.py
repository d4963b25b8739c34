"""Report query speed on a year of history: 100,000 incidents and 1,000,000 timeline rows.

Creates a scratch PostgreSQL database, migrates it, applies the example organisation, and fills
it with COPY: `--incidents` incidents over the year before now across every service
(priorities, acknowledge and resolve delays drawn from skewed distributions), and
`--timeline` timeline rows, of which `--page-share` are page notifications (sent, to members
of the incident's team, on a mix of channels) and the rest audit events of those incidents.
People get the time zones their schedules run in. Then each section times its queries; the
reports section times every report query, and the whole report, for one team and for the
whole organisation over 30 days and over a year: the median of `--runs` runs, each in a fresh
session. Target: every query under 1 s.

    .venv/bin/python bench/reports.py --incidents 100000 --timeline 1000000 --runs 5

A section is a function of the filled database returning its timings; add one to SECTIONS.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from cputime import cpu_speed
from ingest import drop_database, prepare, scratch_database
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from oncall.db.applied import read_applied
from oncall.db.engine import make_engine

TARGET_S = 1.0
CHANNELS = ("push", "push", "sms", "sms", "voice", "email", "slack")
PRIORITIES = (("P1", 0.05), ("P2", 0.15), ("P3", 0.40), ("P4", 0.20), ("P5", 0.05),
              (None, 0.15))
AUDIT_TYPES = ("incident.alert", "incident.escalated", "incident.note",
               "incident.priority_changed")
ZONES = {"payments": "America/New_York", "storefront": "Europe/London",
         "data": "Asia/Kolkata", "platform": None}
"""Each team's people's time zone (platform's follow-the-sun people have none: UTC)."""


@dataclass
class Bench:
    """What every section gets: the filled database and the instant the history ends at."""

    engine: Engine
    url: str
    now: datetime
    args: argparse.Namespace


@dataclass(frozen=True)
class Timing:
    what: str
    scope: str
    days: int
    rows: int
    median_s: float
    max_s: float
    target_s: float = TARGET_S


Section = tuple[str, Callable[[Bench], list[Timing]]]


# --- filling -------------------------------------------------------------------------------------


def _pick_priority(rng: random.Random) -> str | None:
    x = rng.random()
    for priority, share in PRIORITIES:
        if x < share:
            return priority
        x -= share
    return None


def _conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def fill(url: str, incidents: int, timeline: int, page_share: float, now: datetime,
         seed: int = 7) -> tuple[int, int]:
    """(page notifications, audit events) written, with COPY and triggers off (the workflow
    inbox trigger would queue every event for the worker, which is not what is measured)."""
    rng = random.Random(seed)
    with psycopg.connect(_conninfo(url), autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")
        services = conn.execute("SELECT id, team_name FROM services").fetchall()
        members: dict[str, list[tuple[int, str]]] = {}
        for team, user_id, email in conn.execute(
                "SELECT m.team_name, u.id, u.email FROM team_memberships m "
                "JOIN users u ON u.id = m.user_id WHERE m.role <> 'observer'"):
            members.setdefault(team, []).append((user_id, email))
        for team, zone in ZONES.items():
            conn.execute("UPDATE users SET time_zone = %s WHERE id IN (SELECT user_id FROM "
                         "team_memberships WHERE team_name = %s)", (zone, team))
        year = 365 * 86400
        made: list[tuple[int, datetime, str]] = []
        start_id = conn.execute("SELECT coalesce(max(id), 0) FROM incidents").fetchone()
        next_id = (start_id[0] if start_id else 0) + 1
        with conn.cursor().copy(
                "COPY incidents (id, title, status, priority, urgency, service_id, group_key, "
                "labels, escalation_generation, escalation_cycle, escalation_step, version, "
                "alert_count, triggered_at, acknowledged_at, resolved_at, updated_at) "
                "FROM STDIN") as copy:
            for i in range(incidents):
                service_id, team = rng.choice(services)
                triggered = now - timedelta(seconds=rng.randrange(year))
                ack = (triggered + timedelta(seconds=rng.lognormvariate(5.2, 1.0))
                       if rng.random() < 0.85 else None)
                resolved = (max(ack or triggered, triggered + timedelta(
                    seconds=rng.lognormvariate(7.8, 1.1))) if rng.random() < 0.95 else None)
                if resolved is not None and resolved > now:
                    resolved = None
                if ack is not None and ack > now:
                    ack = None
                status = "resolved" if resolved else "acknowledged" if ack else "triggered"
                incident_id = next_id + i
                copy.write_row((incident_id, f"bench incident {i}", status,
                                _pick_priority(rng), "high", service_id, f"bench-{i}", "{}",
                                0, 0, 0, 1, 1, triggered, ack, resolved,
                                resolved or ack or triggered))
                made.append((incident_id, triggered, team))
        pages = int(timeline * page_share)
        with conn.cursor().copy(
                "COPY notifications (idempotency_key, incident_id, user_id, channel, address, "
                "kind, status, attempt_count, next_attempt_at, created_at, sent_at) "
                "FROM STDIN") as copy:
            for n in range(pages):
                incident_id, triggered, team = rng.choice(made)
                user_id, email = rng.choice(members[team])
                sent = triggered + timedelta(seconds=rng.randrange(1, 1800))
                if sent > now:
                    sent = now
                copy.write_row((f"bench-page-{n}", incident_id, user_id, rng.choice(CHANNELS),
                                email, "page", "sent", 1, sent, sent, sent))
        audits = timeline - pages
        with conn.cursor().copy(
                "COPY audit_events (at, actor, type, incident_id, data) FROM STDIN") as copy:
            for n in range(audits):
                incident_id, triggered, _ = made[n % len(made)] if n < len(made) else (
                    rng.choice(made))
                kind = "incident.triggered" if n < len(made) else rng.choice(AUDIT_TYPES)
                at = triggered if n < len(made) else triggered + timedelta(
                    seconds=rng.randrange(1, 7200))
                copy.write_row((min(at, now), "bench", kind, incident_id, "{}"))
        conn.execute("SELECT setval(pg_get_serial_sequence('incidents', 'id'), "
                     "(SELECT max(id) FROM incidents))")
        conn.commit()
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return pages, audits


# --- the reports section -------------------------------------------------------------------------


def _time(engine: Engine, runs: int, work: Callable[[Session], Any]) -> tuple[float, float, int]:
    """(median s, max s, rows) of `work` over `runs` fresh sessions."""
    took: list[float] = []
    rows = 0
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            result = work(session)
            took.append(time.perf_counter() - started)
        rows = len(result) if hasattr(result, "__len__") else 1
    return statistics.median(took), max(took), rows


def reports(bench: Bench) -> list[Timing]:
    from oncall.core.reports import Period, offset_changes
    from oncall.core.schedule import shifts
    from oncall.reports import queries
    from oncall.reports.service import Filter, build, schedules_for
    from oncall.schedules_service import effective_schedule

    engine, runs = bench.engine, bench.args.runs
    with Session(engine) as session:
        config = read_applied(session)
    out: list[Timing] = []
    for scope_name, team in (("team payments", "payments"), ("organisation", None)):
        for days in (30, 365):
            period = Period(bench.now - timedelta(days=days), bench.now)
            flt = Filter(team=team)
            with Session(engine) as session:
                where = queries.scope(session, team, None)
                user_ids = [u for u, _, _ in queries.page_counts(session, where, period)]

            def hours(session: Session, flt: Filter = flt, period: Period = period) -> Any:
                return [shifts(effective_schedule(session, s, period.since, period.until),
                               period.since, period.until)
                        for s in schedules_for(config, flt)]

            with Session(engine) as session:
                changes = offset_changes(queries.time_zones(session), period)

            steps: list[tuple[str, Callable[[Session], Any]]] = [
                ("scope (services)", lambda s, t=team: queries.scope(s, t, None).services),
                ("priority_counts", lambda s, w=where, p=period: queries.priority_counts(s, w, p)),
                ("duration_ranks (MTTA)", lambda s, w=where, p=period: queries.duration_ranks(
                    s, w, p, "acknowledged")[1]),
                ("duration_ranks (MTTR)", lambda s, w=where, p=period: queries.duration_ranks(
                    s, w, p, "resolved")[1]),
                ("page_counts", lambda s, w=where, p=period: queries.page_counts(s, w, p)),
                ("time_zones + offset changes", lambda s, p=period: offset_changes(
                    queries.time_zones(s), p)),
                ("page_slots (night pages)", lambda s, w=where, p=period, c=changes:
                 queries.page_slots(s, w, p, c)),
                ("people", lambda s, u=user_ids: queries.people(s, u)),
                ("schedules + app overrides", hours),
                ("whole report (build)", lambda s, f=flt, p=period: [build(s, config, f, p)]),
            ]
            for what, work in steps:
                median, worst, rows = _time(engine, runs, work)
                out.append(Timing(what, scope_name, days, rows, median, worst))
                print(f"  {scope_name:<13} {days:>3} d  {what:<26} {median * 1000:8.1f} ms "
                      f"(max {worst * 1000:.1f}, {rows} rows)", flush=True)
    return out


# --- the postmortem timeline section -----------------------------------------------------------

TIMELINE_TARGET_S = 1.5
TIMELINE_EVENTS = 5_000


def postmortem_timeline(bench: Bench) -> list[Timing]:
    """A postmortem over two incidents whose timelines hold 5,000 events between them (pages,
    deliveries, notes, escalations, workflow steps), in a database of a year's history: the
    time to build what its editor shows (timeline merged with the author's choices, key
    figures), and its two exports."""
    from oncall.incidents.actors import Actor
    from oncall.postmortems import export, service

    engine, runs, now = bench.engine, bench.args.runs, bench.now
    rng = random.Random(11)
    with Session(engine) as session:
        config = read_applied(session)
        ids = [row[0] for row in session.execute(text(
            "SELECT i.id FROM incidents i JOIN services s ON s.id = i.service_id "
            "WHERE s.name = 'checkout-api' AND i.resolved_at IS NOT NULL "
            "ORDER BY i.id DESC LIMIT 2"))]
        users = [row[0] for row in session.execute(text(
            "SELECT u.id FROM users u JOIN team_memberships m ON m.user_id = u.id "
            "WHERE m.team_name = 'payments'"))]
        starts = dict(session.execute(text(
            "SELECT id, triggered_at FROM incidents WHERE id = ANY(:ids)"), {"ids": ids}).all())
    kinds = [("notification.sent", True), ("notification.delivered", True),
             ("incident.note", False), ("incident.escalated", False),
             ("workflow.step_succeeded", False), ("incident.alert", False)]
    with psycopg.connect(_conninfo(bench.url), autocommit=False) as conn:
        conn.execute("SET session_replication_role = replica")
        with conn.cursor().copy("COPY audit_events (at, actor, type, incident_id, data) "
                                "FROM STDIN") as copy:
            for n in range(TIMELINE_EVENTS):
                incident_id = ids[n % len(ids)]
                kind, personal = kinds[rng.randrange(len(kinds))]
                data = json.dumps(
                    {"user_id": rng.choice(users), "channel": "sms", "provider": "twilio",
                     "kind": "page"} if personal else
                    {"text": "still looking", "step": 1, "workflow": "p1-broadcast"})
                at = starts[incident_id] + timedelta(seconds=n)
                copy.write_row((at, "system:bench", kind, incident_id, data))
        conn.commit()
    with Session(engine) as session, session.begin():
        pm = service.open_postmortem(session.connection(), config, Actor.system(), ids, now).id

    def view(session: Session) -> Any:
        return service.view(session.connection(), config, Actor.system(), pm, now).timeline

    with Session(engine) as session:
        built = service.view(session.connection(), config, Actor.system(), pm, now)
    steps: list[tuple[str, Callable[[Session], Any]]] = [
        ("view (timeline + figures)", view),
        ("Markdown export", lambda s: [export.markdown(service.view(
            s.connection(), config, Actor.system(), pm, now))]),
        ("printable page", lambda s: [export.printable(service.view(
            s.connection(), config, Actor.system(), pm, now))]),
    ]
    out = []
    for what, work in steps:
        median, worst, rows = _time(engine, runs, work)
        out.append(Timing(what, f"{len(built.timeline):,} events", 0, rows, median, worst,
                          TIMELINE_TARGET_S))
        print(f"  {what:<28} {median * 1000:8.1f} ms (max {worst * 1000:.1f}, {rows} rows)",
              flush=True)
    return out


SECTIONS: list[Section] = [("Reports", reports), ("Postmortem timeline", postmortem_timeline)]
"""Each section times its own queries on the same filled database."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--timeline", type=int, default=1_000_000,
                        help="audit events plus page notifications")
    parser.add_argument("--page-share", type=float, default=0.25,
                        help="share of the timeline rows that are page notifications")
    parser.add_argument("--runs", type=int, default=5, help="runs per query (median shown)")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args()

    loop = cpu_speed()
    print(f"CPU speed: `python -c \"for i in range(10_000_000): pass\"` {loop:.2f} s",
          flush=True)
    url, user = scratch_database()
    engine = None
    failed = 0
    try:
        prepare(url)
        now = datetime.now(UTC).replace(microsecond=0)
        started = time.perf_counter()
        pages, audits = fill(url, args.incidents, args.timeline, args.page_share, now)
        print(f"filled {args.incidents} incidents, {pages} pages, {audits} audit events in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        engine = make_engine(url)
        with engine.connect() as conn:
            size = conn.execute(text("SELECT pg_size_pretty(pg_database_size("
                                     "current_database()))")).scalar()
        print(f"database size {size}", flush=True)
        bench = Bench(engine, url, now, args)
        for title, section in SECTIONS:
            print(f"\n## {title}", flush=True)
            timings = section(bench)
            print("\n| scope | period | query | rows | median | max |")
            print("|---|--:|---|--:|--:|--:|")
            for t in timings:
                print(f"| {t.scope} | {t.days} d | {t.what} | {t.rows:,} | "
                      f"{t.median_s * 1000:.1f} ms | {t.max_s * 1000:.1f} ms |")
            slow = [t for t in timings if t.median_s >= t.target_s]
            failed += len(slow)
            print(f"over target: {len(slow)}")
    finally:
        if engine is not None:
            engine.dispose()
        if not args.keep:
            drop_database(url, user)
        else:
            print(f"kept {url}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
