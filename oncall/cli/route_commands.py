"""`oncall route test`: where an alert would go and who it would page, from config alone.

Modelled on `amtool config routes test`: the first line is the destination list (services, or
`dropped`), what follows explains it. Exit 0 when the alert pages someone, 1 when the config
has errors or the alert would page no one (dropped, in maintenance, nobody on call), 2 on usage.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from oncall.config.configset import ConfigSet
from oncall.config.diagnostics import render
from oncall.config.loader import ConfigDirError, load
from oncall.config.suggest import did_you_mean
from oncall.config.types import Target
from oncall.core.routing import Destination, Route, route
from oncall.core.schedule import who_at

_LABEL_ARG = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def register(sub: Any) -> None:
    p = sub.add_parser("route", help="test how alerts are routed")
    route_sub = p.add_subparsers(dest="route_command", metavar="COMMAND",
                                 parser_class=type(p))
    t = route_sub.add_parser(
        "test",
        help="show the rules, service, priority, group key and who is paged for an alert",
        description="Route an alert given as labels through the config, as ingest would.",
    )
    t.add_argument("--integration", required=True, metavar="NAME",
                   help="the Integration the alert arrives on")
    t.add_argument("--config", default=".", metavar="DIR", help="config repo (default: .)")
    t.add_argument("--at", metavar="TIME",
                   help="ISO 8601 instant, e.g. 2026-12-05T02:00+00:00 (default: now; "
                        "a time without offset is UTC)")
    t.add_argument("labels", nargs="*", metavar="label=value")
    t.set_defaults(handler=route_test)
    p.set_defaults(handler=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def usage_error(message: str) -> int:
    print(f"oncall route test: error: {message}", file=sys.stderr)
    return 2


def parse_labels(items: Sequence[str]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for item in items:
        m = _LABEL_ARG.match(item)
        if m is None:
            raise ValueError(f"invalid label {item!r}: expected name=value")
        value = m.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        labels[m.group(1)] = value
    return labels


def parse_at(text: str | None) -> datetime:
    if text is None or text == "now":
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid --at {text!r}: expected an ISO 8601 time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def resolve_target(config: ConfigSet, target: Target, at: datetime) -> list[str]:
    """Whom a target reaches at `at`: the schedule's person on call, the user, the team's
    members who can respond (observers are not paged)."""
    if target.kind == "user":
        return [target.ref]
    if target.kind == "team":
        team = config.teams.get(target.ref)
        return [m.email for m in team.members if m.role != "observer"] if team else []
    schedule = config.schedules.get(target.ref)
    if schedule is None:
        return []
    who = who_at(schedule, at)
    return [who] if who else []


def paged(config: ConfigSet, dest: Destination, at: datetime) -> list[str]:
    """Lines saying who the first escalation step that reaches someone would page now."""
    service = config.services.get(dest.service or "")
    if service is None:
        return [f"service {dest.service!r} is not defined: no one"]
    if service.escalation_policy is None:
        return ["no one (the service has no escalation_policy)"]
    policy = config.policies.get(service.escalation_policy)
    if policy is None:
        return [f"no one (escalation policy {service.escalation_policy!r} is not defined)"]
    lines: list[str] = []
    for number, step in enumerate(policy.steps, start=1):
        reached: list[str] = []
        parts: list[str] = []
        for target in step.targets:
            users = resolve_target(config, target, at)
            parts.append(f"{target} → {', '.join(users) if users else 'no one'}")
            reached.extend(u for u in users if u not in reached)
        prefix = f"policy {policy.name} step {number}: "
        lines.append(prefix + "; ".join(parts))
        if reached:
            return [", ".join(reached), *lines]
    return ["no one (no step of the policy reaches anyone now)", *lines]


def _labels_text(labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def print_route(config: ConfigSet, result: Route, labels: dict[str, str], at: datetime,
                out: TextIO) -> bool:
    """Print the route; True when someone would be paged."""
    names = [d.service if d.service else "dropped" for d in result.destinations]
    print(",".join(names), file=out)
    print("", file=out)
    integration = config.integrations[result.integration]
    print(f"integration: {integration.name} ({integration.type}), fallback service "
          f"{integration.service}", file=out)
    print(f"labels:      {_labels_text(labels)}", file=out)
    print(f"at:          {at.isoformat()}", file=out)
    print("", file=out)
    print("rules:", file=out)
    if not result.evaluated:
        print("  (no routing rules)", file=out)
    for step in result.evaluated:
        mark = "✓" if step.matched else "·"
        note = "matched" + (", continue" if step.continued else "") if step.matched else (
            step.reason)
        print(f"  {mark} {step.order:>5} {step.rule}: {note}", file=out)
    if result.fallback:
        print("  no rule matched: the integration's service", file=out)
    anyone = False
    for dest in result.destinations:
        print("", file=out)
        if dest.dropped:
            print(f"dropped by rule {dest.rule}: recorded, pages no one", file=out)
            continue
        origin = f"rule {dest.rule}" if dest.rule else f"integration {result.integration}"
        print(f"service:     {dest.service} (via {origin})", file=out)
        print(f"priority:    {dest.priority} (from {dest.priority_from})", file=out)
        grouping = f"group_by {', '.join(dest.group_by)}" if dest.group_by else "dedup key"
        print(f"group key:   {dest.group_key} ({grouping})", file=out)
        if dest.in_maintenance:
            print(f"maintenance: yes ({', '.join(dest.maintenance)}): recorded, pages no one",
                  file=out)
            continue
        print("maintenance: no", file=out)
        first, *explain = paged(config, dest, at)
        print(f"would page:  {first}", file=out)
        for line in explain:
            print(f"             {line}", file=out)
        anyone = anyone or not first.startswith("no one")
    return anyone


def route_test(args: argparse.Namespace) -> int:
    try:
        labels = parse_labels(args.labels)
        at = parse_at(args.at)
    except ValueError as exc:
        return usage_error(str(exc))
    try:
        result = load(args.config, now=at)
    except ConfigDirError as exc:
        return usage_error(str(exc))
    if result.errors:
        print(render(result.errors, "text"), file=sys.stderr)
        print(f"{args.config}: invalid config: fix the errors above first", file=sys.stderr)
        return 1
    config = result.config
    if args.integration not in config.integrations:
        hint = did_you_mean(args.integration, list(config.integrations))
        return usage_error(f"unknown integration {args.integration!r}{hint}")
    outcome = route(config, args.integration, labels, at)
    return 0 if print_route(config, outcome, labels, at, sys.stdout) else 1
