"""Checks across documents: references resolve, no cycles, expressions compile, and warnings.

Each check reads the ConfigSet and reports at the exact YAML node that is wrong, so a reviewer
sees the problem on the line of the pull request that introduced it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from oncall.config.configset import ConfigSet, Source
from oncall.config.context import Check, Context
from oncall.config.diagnostics import Diagnostic, error, warning
from oncall.config.models import (
    ConfigObject,
    EmailStep,
    IfStep,
    Organization,
    PageStep,
    PostmortemStep,
    Runbook,
    RunbookStep,
    SlackStep,
    StatusStep,
    TeamRecipient,
    TeamsStep,
    Webhook,
    WebhookStep,
    WorkflowStep,
)
from oncall.config.schedule_checks import check_schedules
from oncall.config.suggest import did_you_mean
from oncall.config.templates import (
    NOTICE_VARIABLES,
    RUNBOOK_VARIABLES,
    STATUS_STEP_VARIABLES,
    WORKFLOW_VARIABLES,
    TemplateProblem,
    check_expression,
    check_template,
)
from oncall.config.types import has_env_reference
from oncall.config.yamlsource import Path
from oncall.core.workflows import describe_param_error, param_problems


class _Reporter:
    """Builds diagnostics positioned inside one object's document."""

    def __init__(self, config: ConfigSet, obj: ConfigObject) -> None:
        self.source: Source = config.source(obj)

    def error(self, loc: Path, message: str) -> Diagnostic:
        return error(self.source.path, self.source.position(loc), message)

    def warning(self, loc: Path, message: str) -> Diagnostic:
        return warning(self.source.path, self.source.position(loc), message)


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    return f"unknown {what} {name!r}{did_you_mean(name, known)}"


def check_references(ctx: Context) -> Iterator[Diagnostic]:
    config = ctx.config
    teams, services, users = config.teams, config.services, config.users
    schedules, policies = config.schedules, config.policies
    integrations, runbooks = config.integrations, config.runbooks

    kind_of = {
        "team": "Team",
        "user": "User",
        "schedule": "Schedule",
        "escalation policy": "EscalationPolicy",
        "service": "Service",
        "runbook": "Runbook",
        "integration": "Integration",
    }

    def ref(
        r: _Reporter, loc: Path, what: str, name: str, known: dict[str, Any]
    ) -> Iterator[Diagnostic]:
        if ctx.missing(kind_of[what], name, known):
            yield r.error(loc, _unknown(what, name, known))

    for s in schedules.values():
        r = _Reporter(config, s)
        yield from ref(r, ("team",), "team", s.team, teams)
        for i, layer in enumerate(s.layers):
            for j, email in enumerate(layer.members):
                yield from ref(r, ("layers", i, "members", j), "user", email, users)
        for i, o in enumerate(s.overrides):
            yield from ref(r, ("overrides", i, "who"), "user", o.who, users)

    kinds: dict[str, dict[str, Any]] = {"schedule": schedules, "user": users, "team": teams}
    for p in policies.values():
        r = _Reporter(config, p)
        for i, step in enumerate(p.steps):
            for j, target in enumerate(step.targets):
                yield from ref(
                    r, ("steps", i, "targets", j), target.kind, target.ref, kinds[target.kind]
                )

    for svc in services.values():
        r = _Reporter(config, svc)
        yield from ref(r, ("team",), "team", svc.team, teams)
        if svc.escalation_policy is not None:
            policy = svc.escalation_policy
            yield from ref(r, ("escalation_policy",), "escalation policy", policy, policies)
        for i, dep in enumerate(svc.depends_on):
            yield from ref(r, ("depends_on", i), "service", dep, services)
        for i, rb in enumerate(svc.runbooks):
            name = getattr(rb, "runbook", None)
            if name is not None:
                yield from ref(r, ("runbooks", i, "runbook"), "runbook", name, runbooks)

    for integ in integrations.values():
        yield from ref(_Reporter(config, integ), ("service",), "service", integ.service, services)

    for rule in config.routing_rules:
        r = _Reporter(config, rule)
        for i, name in enumerate(rule.integrations):
            yield from ref(r, ("integrations", i), "integration", name, integrations)
        if rule.service is not None:
            yield from ref(r, ("service",), "service", rule.service, services)

    for mw in config.maintenance_windows.values():
        r = _Reporter(config, mw)
        for i, name in enumerate(mw.services):
            yield from ref(r, ("services", i), "service", name, services)

    for page in config.status_pages.values():
        r = _Reporter(config, page)
        for i, component in enumerate(page.components):
            for j, name in enumerate(component.services):
                yield from ref(r, ("components", i, "services", j), "service", name, services)


def check_integrations(ctx: Context) -> Iterator[Diagnostic]:
    """A cloudwatch integration names the SNS topics it accepts: SNS signs every message from
    every AWS account alike, so without the list anyone's topic could open our incidents.

    PagerDuty and Opsgenie integrations are found by their key alone (`POST /v2/enqueue`,
    `POST /v2/alerts`), so two of one type naming the same secret could not be told apart."""
    keyed: dict[tuple[str, str], str] = {}
    for integ in sorted(ctx.config.integrations.values(), key=lambda i: i.name):
        if integ.type in ("pagerduty", "opsgenie") and integ.secret is not None:
            first = keyed.setdefault((integ.type, integ.secret), integ.name)
            if first != integ.name:
                yield _Reporter(ctx.config, integ).error(
                    ("secret",),
                    f"integration {first!r} already uses {integ.secret}: a {integ.type} key "
                    "names one integration, give each its own",
                )
    for integ in ctx.config.integrations.values():
        if integ.type != "cloudwatch":
            continue
        r = _Reporter(ctx.config, integ)
        if not integ.topic_arns:
            yield r.error(
                ("type",),
                "a cloudwatch integration needs 'topic_arns': the SNS topic ARNs it accepts "
                "(e.g. [arn:aws:sns:us-east-1:123456789012:oncall-alarms]); messages from any "
                "other topic are refused",
            )
        if integ.auth is not None:
            yield r.error(
                ("auth",),
                "'auth' does not apply to a cloudwatch integration: SNS signs its messages, and "
                "a 'secret' is checked as the HTTP Basic password of the subscription URL",
            )


def check_dependency_cycles(ctx: Context) -> Iterator[Diagnostic]:
    config = ctx.config
    services = config.services
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    reported: set[frozenset[str]] = set()
    for root in sorted(services):
        if state.get(root):
            continue
        # Iterative DFS so that a long dependency chain cannot exhaust the stack.
        path: list[str] = [root]
        iters = [iter(services[root].depends_on)]
        state[root] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
                continue
            if nxt not in services:
                continue
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    start = services[cycle[0]]
                    loc = ("depends_on", start.depends_on.index(cycle[1]))
                    yield _Reporter(config, start).error(
                        loc, "dependency cycle: " + " -> ".join(cycle)
                    )
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(services[nxt].depends_on))


def check_runbooks(ctx: Context) -> Iterator[Diagnostic]:
    config = ctx.config
    for rb in config.runbooks.values():
        r = _Reporter(config, rb)
        try:
            Draft202012Validator.check_schema(rb.parameters)
        except SchemaError as exc:
            loc = ("parameters", *exc.path)
            yield r.error(loc, f"parameters is not a valid JSON Schema: {_schema_problem(exc)}")
        yield from _webhook(r, ("webhook",), rb.webhook, RUNBOOK_VARIABLES)


_JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")


def _schema_problem(exc: SchemaError) -> str:
    """jsonschema's message, made specific for the common case of a misspelt `type`."""
    if exc.path and exc.path[-1] == "type" and isinstance(exc.instance, str):
        return (
            f"unknown type {exc.instance!r}{did_you_mean(exc.instance, _JSON_TYPES)}; "
            f"types: {', '.join(_JSON_TYPES)}"
        )
    return exc.message


_SENSITIVE_HEADER = re.compile(r"authorization|token|secret|password|api[-_]?key|signature", re.I)


def _webhook(r: _Reporter, loc: Path, hook: Webhook, names: frozenset[str]) -> Iterator[Diagnostic]:
    yield from _not_template(r, (*loc, "url"), hook.url, "url")
    for header, value in hook.headers.items():
        hloc = (*loc, "headers", header)
        if _SENSITIVE_HEADER.search(header) and not has_env_reference(value):
            yield r.error(
                hloc,
                f"header {header!r} holds a literal secret: write ${{env:NAME}} and set NAME "
                "in the environment",
            )
        yield from _not_template(r, hloc, value, f"header {header!r}")
    yield from _templates(r, (*loc, "body"), hook.body, names)


def _not_template(r: _Reporter, loc: Path, value: str, what: str) -> Iterator[Diagnostic]:
    """A url or header is sent as written: no alert text may decide where a call goes or
    which secret it carries."""
    if "{{" in value or "{%" in value:
        yield r.error(loc, f"{what} is not a template: it is sent as written, with only "
                           "${env:NAME} resolved; put incident data in the body")


def _templates(r: _Reporter, loc: Path, value: Any, names: frozenset[str]) -> Iterator[Diagnostic]:
    """Check every string inside `value` (nested mappings and lists too) as a template."""
    stack: list[tuple[Path, Any]] = [(loc, value)]
    while stack:
        here, v = stack.pop()
        if isinstance(v, str):
            if "{{" in v or "{%" in v or "{#" in v:
                problem = template_problem(v, names)
                if problem is not None:
                    yield r.error(here, problem)
        elif isinstance(v, dict):
            stack.extend(((*here, k), item) for k, item in reversed(list(v.items())))
        elif isinstance(v, list):
            stack.extend(((*here, i), item) for i, item in reversed(list(enumerate(v))))


def _expression(
    r: _Reporter, loc: Path, source: str, names: frozenset[str]
) -> Iterator[Diagnostic]:
    problem = expression_problem(source, names)
    if problem is not None:
        yield r.error(loc, problem)


# Compiling is the slowest part of validation and the same texts recur across a repo's
# workflows and runbooks, so each distinct (text, allowed names) is compiled once per process.
@lru_cache(maxsize=4096)
def template_problem(source: str, names: frozenset[str]) -> str | None:
    """What is wrong with a template over `names`, as `oncall validate` says it; None: nothing
    (also the workflow editor's inline check)."""
    try:
        check_template(source, names)
    except TemplateProblem as exc:
        return str(exc)
    return None


@lru_cache(maxsize=4096)
def expression_problem(source: str, names: frozenset[str]) -> str | None:
    """`template_problem` for a condition (`when:`, `if:`)."""
    try:
        check_expression(source, names)
    except TemplateProblem as exc:
        # Jinja parses an expression as a template: speak of the expression the user wrote.
        return str(exc).replace("end of template", "end of expression").rstrip(".")
    return None


def check_workflows(ctx: Context) -> Iterator[Diagnostic]:
    for wf in ctx.config.workflows.values():
        r = _Reporter(ctx.config, wf)
        if wf.when is not None:
            yield from _expression(r, ("when",), wf.when, WORKFLOW_VARIABLES)
        yield from _steps(ctx, r, ("steps",), wf.steps)


def _steps(
    ctx: Context, r: _Reporter, loc: Path, steps: list[WorkflowStep]
) -> Iterator[Diagnostic]:
    config = ctx.config
    names = WORKFLOW_VARIABLES

    def ref(here: Path, what: str, kind: str, name: str, known: dict[str, Any]
            ) -> Iterator[Diagnostic]:
        if ctx.missing(kind, name, known):
            yield r.error(here, _unknown(what, name, known))

    for i, step in enumerate(steps):
        here = (*loc, i)
        if isinstance(step, SlackStep):
            yield from _templates(r, (*here, "slack"), step.slack.model_dump(), names)
        elif isinstance(step, TeamsStep):
            yield from _templates(r, (*here, "teams", "text"), step.teams.text, names)
        elif isinstance(step, WebhookStep):
            yield from _webhook(r, (*here, "webhook"), step.webhook, names)
        elif isinstance(step, RunbookStep):
            action = step.runbook
            runbook = config.runbooks.get(action.name)
            if runbook is None and ctx.missing("Runbook", action.name, config.runbooks):
                message = _unknown("runbook", action.name, config.runbooks)
                yield r.error((*here, "runbook", "name"), message)
            elif runbook is not None:
                yield from _runbook_params(r, (*here, "runbook"), runbook, action.params)
            yield from _templates(r, (*here, "runbook", "params"), action.params, names)
        elif isinstance(step, EmailStep):
            for j, recipient in enumerate(step.email.to):
                if isinstance(recipient, TeamRecipient):
                    yield from ref((*here, "email", "to", j, "team"), "team", "Team",
                                   recipient.team, config.teams)
            yield from _templates(r, (*here, "email", "subject"), step.email.subject, names)
            yield from _templates(r, (*here, "email", "text"), step.email.text, names)
        elif isinstance(step, PageStep):
            page = step.page
            if page.schedule is not None:
                yield from ref((*here, "page", "schedule"), "schedule", "Schedule",
                               page.schedule, config.schedules)
            if page.team is not None:
                yield from ref((*here, "page", "team"), "team", "Team", page.team, config.teams)
            if page.user is not None:
                yield from ref((*here, "page", "user"), "user", "User", page.user, config.users)
            if page.message is not None:
                yield from _templates(r, (*here, "page", "message"), page.message, names)
        elif isinstance(step, StatusStep):
            yield from _status_step(ctx, r, (*here, "status"), step)
        elif isinstance(step, PostmortemStep):
            review = step.postmortem
            if review.template is not None:
                yield from ref((*here, "postmortem", "template"), "postmortem template",
                               "PostmortemTemplate", review.template,
                               config.postmortem_templates)
            if review.title is not None:
                yield from _templates(r, (*here, "postmortem", "title"), review.title, names)
        elif isinstance(step, IfStep):
            yield from _expression(r, (*here, "if"), step.if_, names)
            yield from _steps(ctx, r, (*here, "then"), step.then)
            yield from _steps(ctx, r, (*here, "else"), step.else_)


def _status_step(ctx: Context, r: _Reporter, loc: Path, step: StatusStep
                 ) -> Iterator[Diagnostic]:
    """A status step publishes: its page and component must exist, and its text may name the
    service and the page only, never the incident's title or labels."""
    action = step.status
    pages = ctx.config.status_pages
    page = pages.get(action.page)
    if page is None:
        if ctx.missing("StatusPage", action.page, pages):
            yield r.error((*loc, "page"), _unknown("status page", action.page, pages))
    elif action.component is not None and page.component(action.component) is None:
        known = [c.name for c in page.components]
        yield r.error((*loc, "component"),
                      f"unknown component {action.component!r} of status page {page.name!r}"
                      f"{did_you_mean(action.component, known)}; components: "
                      f"{', '.join(known)}")
    yield from _templates(r, (*loc, "text"), action.text, STATUS_STEP_VARIABLES)


def check_status_pages(ctx: Context) -> Iterator[Diagnostic]:
    """Who may read a page matches its visibility, components are told apart by name, and
    notice texts, being public, are templates over the component, the page and the status
    only."""
    for page in ctx.config.status_pages.values():
        r = _Reporter(ctx.config, page)
        if page.visibility == "partners" and not page.partners:
            yield r.error(("visibility",), "visibility 'partners' needs 'partners': the emails "
                                           "and @domains that may read the page")
        elif page.visibility != "partners" and page.partners:
            yield r.error(("partners",), "'partners' applies only to visibility 'partners' "
                                         f"(this page is {page.visibility!r})")
        seen: set[str] = set()
        for i, partner in enumerate(page.partners):
            if partner in seen:
                yield r.error(("partners", i), f"partner {partner!r} is listed twice")
            seen.add(partner)
        names: set[str] = set()
        for i, component in enumerate(page.components):
            if component.name in names:
                yield r.error(("components", i, "name"),
                              f"component {component.name!r} is listed twice: names are unique "
                              "within a page")
            names.add(component.name)
        for field, text in page.notices.model_dump().items():
            yield from _templates(r, ("notices", field), text, NOTICE_VARIABLES)


def _is_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_is_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_template(v) for v in value)
    return False


def _runbook_params(
    r: _Reporter, loc: Path, runbook: Runbook, params: dict[str, Any]
) -> Iterator[Diagnostic]:
    """Required and known names always; the literal (non-template) values against the schema,
    as the planner will check them, so a bad constant fails in CI instead of at 3 a.m."""
    name = runbook.name
    schema = runbook.parameters
    required = schema.get("required", [])
    missing = [p for p in required if isinstance(p, str) and p not in params]
    if missing:
        yield r.error(loc, f"runbook {name!r} needs parameter(s): {', '.join(missing)}")
    props = schema.get("properties")
    if isinstance(props, dict) and schema.get("additionalProperties") is False:
        for p in params:
            if p not in props:
                yield r.error((*loc, "params", p),
                              _unknown(f"parameter of runbook {name!r}:", p, props))
    templated = {p for p, v in params.items() if _is_template(v)}
    literal = {p: v for p, v in params.items() if p not in templated}
    try:
        Draft202012Validator.check_schema(schema)
        _, errors = param_problems(schema, literal)
    except Exception:  # noqa: BLE001 -- an invalid schema is reported at the runbook itself
        return
    for e in errors:
        # The set as a whole: names are checked above; with templated values left out, any
        # other whole-set rule cannot be decided before the incident.
        if not e.absolute_path and (
                templated or e.validator in ("required", "additionalProperties")):
            continue
        where: Path = (*loc, "params", *e.absolute_path)
        yield r.error(where, f"runbook {name!r}: {describe_param_error(e)}")


def check_policy_reach(ctx: Context) -> Iterator[Diagnostic]:
    """Warn about services nobody is paged for and escalation steps that reach no one."""
    config, now = ctx.config, ctx.now
    for svc in config.services.values():
        if svc.escalation_policy is None:
            yield _Reporter(config, svc).warning(
                ("name",), f"service {svc.name!r} has no escalation_policy: its alerts page no one"
            )
    for policy in config.policies.values():
        r = _Reporter(config, policy)
        for i, step in enumerate(policy.steps):
            if not any(_reaches_someone(config, t.kind, t.ref, now) for t in step.targets):
                yield r.warning(("steps", i, "targets"), f"step {i + 1} reaches no one")


def _reaches_someone(config: ConfigSet, kind: str, ref: str, now: datetime | None) -> bool:
    if kind == "user":
        return ref in config.users
    if kind == "team":
        team = config.teams.get(ref)
        return team is not None and any(m.role != "observer" for m in team.members)
    schedule = config.schedules.get(ref)
    if schedule is None:
        return False
    if now is None:
        return True
    local_now = now.astimezone(schedule.timezone).replace(tzinfo=None)
    return any(layer.until is None or layer.until > local_now for layer in schedule.layers) or any(
        o.to > local_now for o in schedule.overrides
    )


def check_organization(ctx: Context) -> Iterator[Diagnostic]:
    """At most one Organization; every platform admin is a member of some Team."""
    config = ctx.config
    orgs = sorted(
        config.of(Organization).values(),
        key=lambda o: (config.source(o).path, config.source(o).line),
    )
    if not orgs:
        return
    first = config.source(orgs[0])
    for extra in orgs[1:]:
        yield _Reporter(config, extra).error(
            ("kind",),
            "only one Organization document is allowed "
            f"(first defined at {first.path}:{first.position(('kind',)).line})",
        )
    users = config.users
    for org in orgs:
        r = _Reporter(config, org)
        seen: set[str] = set()
        for i, email in enumerate(org.admins):
            if email in seen:
                yield r.error(("admins", i), f"{email!r} is listed twice")
            seen.add(email)
            if ctx.missing("User", email, users):
                yield r.error(
                    ("admins", i),
                    f"{_unknown('user', email, users)}: a platform admin must be a member of "
                    "some Team",
                )


def check_postmortem_templates(ctx: Context) -> Iterator[Diagnostic]:
    """Which template a new postmortem takes is never ambiguous: at most one `default`, a team
    named by at most one template, every named team real, and headings told apart."""
    config = ctx.config
    templates = sorted(config.postmortem_templates.values(),
                       key=lambda t: (config.source(t).path, config.source(t).line))
    default: str | None = None
    claimed: dict[str, str] = {}
    for template in templates:
        r = _Reporter(config, template)
        if template.default:
            if default is not None:
                yield r.error(("default",), f"template {default!r} is already the default: "
                                            "at most one PostmortemTemplate may be")
            default = default or template.name
        for i, team in enumerate(template.teams):
            if ctx.missing("Team", team, config.teams):
                yield r.error(("teams", i), _unknown("team", team, config.teams))
            elif team in claimed:
                yield r.error(("teams", i), f"team {team!r} already takes template "
                                            f"{claimed[team]!r}: a team takes one template")
            else:
                claimed[team] = template.name
        titles: set[str] = set()
        for i, section in enumerate(template.sections):
            if section.title.strip().lower() in titles:
                yield r.error(("sections", i, "title"),
                              f"section {section.title!r} is listed twice")
            titles.add(section.title.strip().lower())


HEARTBEAT_MIN_INTERVAL_SECONDS = 60
"""A missed ping is looked for every few seconds and a ping crosses the network: below a
minute, a slow request or sweep would read as a missed ping."""


def check_heartbeats(ctx: Context) -> Iterator[Diagnostic]:
    """A heartbeat pages its service, so the service must exist; its interval is at least a
    minute (grace is a duration, never negative)."""
    config = ctx.config
    for beat in config.heartbeats.values():
        r = _Reporter(config, beat)
        if ctx.missing("Service", beat.service, config.services):
            yield r.error(("service",), _unknown("service", beat.service, config.services))
        if beat.interval.total_seconds < HEARTBEAT_MIN_INTERVAL_SECONDS:
            yield r.error(("interval",), f"interval {beat.interval.text!r} is shorter than the "
                                         "minimum of 1m: a heartbeat is for jobs that run at "
                                         "most once a minute")


CHECKS: list[Check] = [
    check_organization,
    check_references,
    check_integrations,
    check_dependency_cycles,
    check_runbooks,
    check_workflows,
    check_status_pages,
    check_postmortem_templates,
    check_heartbeats,
    check_policy_reach,
    check_schedules,
]


def check(
    config: ConfigSet,
    *,
    now: datetime | None = None,
    broken: set[tuple[str, str]] | None = None,
) -> list[Diagnostic]:
    ctx = Context(config, now, broken or set())
    found: list[Diagnostic] = []
    for run in CHECKS:
        found.extend(run(ctx))
    return found
