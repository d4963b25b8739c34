"""`oncall workflow test`: which workflows an alert's incident would fire, and every rendered
step, from config alone. Nothing is called: URLs and headers are shown as written, with their
`${env:NAME}` references unresolved.

The alert is routed exactly as `oncall route test` routes it (the same code prints the same
explanation), then each paging destination becomes the incident ingest would open and is
planned by `oncall.core.workflows`. Exit 0 when every step of every fired workflow planned
cleanly, 1 on a step error, an invalid config or an alert that cannot be read, 2 on usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from oncall.cli.route_commands import parse_at, print_route
from oncall.config.configset import ConfigSet
from oncall.config.diagnostics import render
from oncall.config.loader import ConfigDirError, load
from oncall.config.models import Integration
from oncall.config.suggest import did_you_mean
from oncall.core.alerts import Alert
from oncall.core.routing import Destination, route
from oncall.core.workflows import (
    EVENTS,
    Decision,
    PlannedStep,
    WorkflowEventView,
    WorkflowIncident,
    decide,
)

_STATUS_AFTER = {"incident.acknowledged": "acknowledged", "incident.resolved": "resolved"}
_SAMPLE_DATA: dict[str, dict[str, Any]] = {"incident.note_added": {"text": "(the note's text)"}}
"""`event.data` as the audit event carries it (a note's text), with a stand-in value."""


def register(sub: Any) -> None:
    p = sub.add_parser("workflow", help="test which workflows an alert would fire")
    wf_sub = p.add_subparsers(dest="workflow_command", metavar="COMMAND", parser_class=type(p))
    t = wf_sub.add_parser(
        "test",
        help="show the workflows an alert's incident fires and every rendered step",
        description="Route an alert as ingest would, then plan the workflows its incident "
                    "fires on EVENT; nothing is called.",
    )
    t.add_argument("--event", required=True, choices=EVENTS, metavar="EVENT",
                   help=f"the incident event: {', '.join(EVENTS)}")
    t.add_argument("--alert", required=True, metavar="FILE",
                   help="the payload as the integration receives it (JSON)")
    t.add_argument("--integration", metavar="NAME",
                   help="the Integration the alert arrives on (default: the config's only "
                        "generic integration)")
    t.add_argument("--config", default=".", metavar="DIR", help="config repo (default: .)")
    t.add_argument("--at", metavar="TIME",
                   help="ISO 8601 instant (default: now; a time without offset is UTC)")
    t.set_defaults(handler=workflow_test)
    p.set_defaults(handler=lambda _args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def usage_error(message: str) -> int:
    print(f"oncall workflow test: error: {message}", file=sys.stderr)
    return 2


def _integration(config: ConfigSet, name: str | None) -> Integration:
    """The named integration, else the only generic one; ValueError says what to pass."""
    if name is not None:
        found = config.integrations.get(name)
        if found is None:
            hint = did_you_mean(name, list(config.integrations))
            raise ValueError(f"unknown integration {name!r}{hint}")
        return found
    generic = [i for _, i in sorted(config.integrations.items()) if i.type == "generic"]
    if len(generic) != 1:
        known = ", ".join(sorted(config.integrations)) or "none"
        raise ValueError(f"pass --integration NAME (the config has {len(generic)} generic "
                         f"integrations; integrations: {known})")
    return generic[0]


def workflow_test(args: argparse.Namespace) -> int:
    try:
        at = parse_at(args.at)
    except ValueError as exc:
        return usage_error(str(exc))
    try:
        text = Path(args.alert).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return usage_error(f"{args.alert}: {getattr(exc, 'strerror', None) or exc}")
    try:
        result = load(args.config, now=at)
    except ConfigDirError as exc:
        return usage_error(str(exc))
    if result.errors:
        print(render(result.errors, "text"), file=sys.stderr)
        print(f"{args.config}: invalid config: fix the errors above first", file=sys.stderr)
        return 1
    config = result.config
    try:
        integration = _integration(config, args.integration)
    except ValueError as exc:
        return usage_error(str(exc))
    alerts = _read_alerts(args.alert, text, integration, at)
    if alerts is None:
        return 1
    failed = False
    for number, alert in enumerate(alerts):
        if number:
            print("", file=sys.stdout)
        failed |= _test_alert(config, integration, alert, args.event, at, sys.stdout)
    return 1 if failed else 0


def _read_alerts(path: str, text: str, integration: Integration, at: datetime
                 ) -> list[Alert] | None:
    from oncall.ingest.normalizers import PayloadError, normalize

    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"{path}:{exc.lineno}:{exc.colno}: error: invalid JSON: {exc.msg}", file=sys.stderr)
        return None
    try:
        alerts = normalize(integration.type, payload, at)
    except PayloadError as exc:
        print(f"{path}: error: not a {integration.type} payload: {exc}", file=sys.stderr)
        return None
    if not alerts:
        print(f"{path}: error: the payload holds no alert", file=sys.stderr)
        return None
    return [a.for_integration(integration.name) for a in alerts]


def _test_alert(config: ConfigSet, integration: Integration, alert: Alert, event: str,
                at: datetime, out: TextIO) -> bool:
    """Route, plan and print one alert; True when a fired step failed to plan."""
    routed = route(config, integration.name, alert.labels, at, alert.dedup_key)
    print_route(config, routed, dict(alert.labels), at, out)
    failed = False
    for dest in routed.destinations:
        if not dest.pages or dest.service not in config.services:
            continue
        incident = _incident(config, alert, dest, event, at)
        actor = f"integration:{integration.name}" if event == "incident.triggered" else (
            "system:oncall")
        view = WorkflowEventView(event, None, actor, _SAMPLE_DATA.get(event, {}))
        decisions = decide(view, incident, config, at)
        print("", file=out)
        failed |= _print_decisions(config, incident, event, decisions, out)
    return failed


def _incident(config: ConfigSet, alert: Alert, dest: Destination, event: str, at: datetime
              ) -> WorkflowIncident:
    """The incident ingest would open for this destination (not yet numbered: id 0)."""
    from oncall.db.models import IncidentRow, fit

    service = config.services[dest.service or ""]
    return WorkflowIncident(
        id=0, title=fit(IncidentRow.title, alert.summary), description=None,
        status=_STATUS_AFTER.get(event, "triggered"), priority=dest.priority,
        urgency=service.urgency, labels=dict(alert.labels), service=service.name,
        triggered_at=at,
    )


def _print_decisions(config: ConfigSet, incident: WorkflowIncident, event: str,
                     decisions: list[Decision], out: TextIO) -> bool:
    print(f"workflows on {event} of the {incident.service} incident "
          f"({incident.priority}, {incident.title!r}):", file=out)
    if not decisions:
        print("  (no workflows)", file=out)
    failed = False
    fired = [d for d in decisions if d.run is not None]
    for d in fired:
        assert d.run is not None
        source = config.source(config.workflows[d.workflow])
        count = len(d.run.steps)
        print(f"  ✓ {d.workflow} ({source.path}:{source.line}): "
              f"{count} step{'s' if count != 1 else ''}", file=out)
        for step in d.run.steps:
            failed |= step.error is not None
            _print_step(step, out)
    for d in decisions:
        if d.run is None:
            print(f"  · {d.workflow}: {d.reason}", file=out)
    errors = sum(1 for d in fired if d.run for s in d.run.steps if s.error)
    summary = (f"{len(fired)} of {len(decisions)} workflow{'s' if len(decisions) != 1 else ''} "
               f"fire")
    if errors:
        summary += f"; {errors} step{'s' if errors != 1 else ''} failed to plan"
    print(f"{summary}; nothing was called", file=out)
    return failed


_INDENT = " " * 10


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _field(name: str, value: str) -> str:
    label = f"{name}:".ljust(9)
    return f"{_INDENT}{label}{value.replace(chr(10), chr(10) + _INDENT + ' ' * 9)}"


def _print_step(step: PlannedStep, out: TextIO) -> None:
    a = step.action
    title = step.kind
    if step.kind == "runbook":
        title += f" {a.get('runbook', a.get('name', ''))}"
    mark = "✗" if step.error else " "
    print(f"    {mark}{step.index} {step.path}: {title}", file=out)
    lines: list[str] = []
    if step.error:
        lines.append(_field("error", step.error))
    elif step.kind == "slack":
        lines += [_field("channel", a["channel"]), _field("text", a["text"])]
    elif step.kind == "teams":
        lines += [_field("webhook", a["webhook"]), _field("text", a["text"])]
    elif step.kind == "email":
        lines += [_field("to", ", ".join(a["to"])), _field("subject", a["subject"]),
                  _field("text", a["text"])]
    elif step.kind == "page":
        (kind, name), = a["target"].items()
        lines.append(_field("page", f"{kind} {name}"))
        if a["message"]:
            lines.append(_field("message", a["message"]))
    elif step.kind == "status":
        where = a["page"] + (f" ({a['component']})" if a.get("component") else "")
        lines += [_field("page", where), _field("state", a["state"]),
                  _field("text", a["text"])]
    elif step.kind == "postmortem":
        lines.append(_field("opens", "the incident's postmortem (or finds it)"))
        if a.get("template"):
            lines.append(_field("template", a["template"]))
        if a.get("title"):
            lines.append(_field("title", a["title"]))
    else:  # webhook, runbook
        if step.kind == "runbook":
            lines.append(_field("params", _json(a["params"])))
        lines.append(_field("url", f"{a['method']} {a['url']}"))
        headers = [f"{name}: {value}" for name, value in a["headers"].items()]
        if headers:
            lines.append(_field("headers", "\n".join(headers)))
        lines.append(_field("body", _json(a["body"])))
    limits = f"retries {step.retries}, timeout {step.timeout_seconds:g}s"
    if "max_response_bytes" in a and not step.error:
        limits += f", reads at most {a['max_response_bytes']} bytes"
    if step.continue_on_error:
        limits += ", continue on error"
    lines.append(f"{_INDENT}{limits}")
    if step.error and not step.continue_on_error:
        lines.append(f"{_INDENT}the run would stop here: later steps are cancelled")
    for line in lines:
        print(line, file=out)
