"""`oncall incident show ID`: an incident, its timeline and its delivery trail, from the CLI.

The trail answers "was she paged, how, and what did the provider say?" during an incident
review, without the web app.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from oncall.cli.db_commands import add_database_option, database_url
from oncall.db.engine import make_engine
from oncall.db.migrate import DatabaseNotMigrated, require_current
from oncall.incidents.events import is_run_event, workflow_summary
from oncall.incidents.queries import Delivery, delivery_trail, incident_detail
from oncall.settings import SettingsError


def register(sub: Any) -> None:
    p = sub.add_parser("incident", help="look at an incident: timeline and delivery trail")
    inner = p.add_subparsers(dest="incident_command", metavar="COMMAND", parser_class=type(p))
    show = inner.add_parser("show", help="an incident, its timeline and every notification")
    show.add_argument("id", type=int, help="the incident number")
    show.add_argument("--format", choices=["text", "json"], default="text")
    add_database_option(show)
    show.set_defaults(handler=show_incident)
    p.set_defaults(handler=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


"""Characters of a step's response or error shown on one timeline line."""


def _trail_lines(trail: list[Delivery]) -> list[str]:
    lines: list[str] = []
    for d in trail:
        n = d.notification
        who = d.person or n.address
        lines.append(
            f"  {_when(n.created_at)}  {n.kind:<12} {n.channel:<6} {who}  -> {n.status}"
            + (f" ({n.last_error})" if n.last_error and n.status != "sent" else "")
        )
        for a in d.attempts:
            took = (
                f" in {(a.finished_at - a.started_at).total_seconds() * 1000:.0f} ms"
                if a.finished_at
                else ""
            )
            detail = a.error or a.provider_message_id or ""
            lines.append(
                f"      attempt {a.attempt} via {a.provider} at {_when(a.started_at)}: "
                f"{a.outcome}{took}{' — ' + detail if detail else ''}"
            )
    return lines


def show_incident(args: argparse.Namespace) -> int:
    try:
        engine = make_engine(database_url(args))
        require_current(engine)
        with Session(engine) as session:
            detail = incident_detail(session, args.id)
            trail = delivery_trail(session, args.id) if detail else []
            if detail is None:
                print(f"oncall: error: incident {args.id} does not exist", file=sys.stderr)
                return 1
            incident = detail.item.incident
            if args.format == "json":
                print(json.dumps(_as_json(detail, trail), indent=2, default=str))
                return 0
            print(f"#{incident.id} [{incident.status}] {incident.priority or '-'} {incident.title}")
            print(
                f"service {detail.item.service} · team {detail.item.team} · "
                f"triggered {_when(incident.triggered_at)} UTC · alerts {incident.alert_count}"
            )
            print("\ntimeline (UTC):")
            for event in detail.timeline:
                extra = ""
                if is_run_event(event.type):
                    extra = " " + workflow_summary(event.type, event.data or {})
                elif event.data:
                    extra = " " + ", ".join(f"{k}={v}" for k, v in event.data.items())
                print(f"  {_when(event.at)}  {event.type:<28} {event.actor}{extra}")
            print("\ndelivery trail (UTC):")
            print("\n".join(_trail_lines(trail)) or "  nothing was sent")
            return 0
    except (SettingsError, DatabaseNotMigrated) as exc:
        print(f"oncall: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SettingsError) else 1
    except SQLAlchemyError as exc:
        print(f"oncall: error: cannot read the database: {exc.__class__.__name__}", file=sys.stderr)
        return 1


def _as_json(detail: Any, trail: list[Delivery]) -> dict[str, Any]:
    incident = detail.item.incident
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "priority": incident.priority,
        "service": detail.item.service,
        "timeline": [
            {"at": e.at, "type": e.type, "actor": e.actor, "data": e.data} for e in detail.timeline
        ],
        "deliveries": [
            {
                "kind": d.notification.kind,
                "channel": d.notification.channel,
                "to": d.person or d.notification.address,
                "status": d.notification.status,
                "error": d.notification.last_error,
                "attempts": [
                    {
                        "attempt": a.attempt,
                        "provider": a.provider,
                        "outcome": a.outcome,
                        "at": a.started_at,
                        "error": a.error,
                        "provider_message_id": a.provider_message_id,
                    }
                    for a in d.attempts
                ],
            }
            for d in trail
        ],
    }
