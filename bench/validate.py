"""Benchmark: how long `oncall validate` takes to load and check a large config repo.

Generates a realistic config of 2,000 objects (teams, schedules, policies, services with
dependencies, integrations, routing rules, runbooks, workflows, maintenance windows, status
pages) spread over many multi-document files in a temporary directory, then times
`oncall.config.loader.load()` on it and prints the median of several runs.

    .venv/bin/python bench/validate.py [--objects 2000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cputime import cpu_reference

from oncall.config import checks, types
from oncall.config.loader import load

ZONES = ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Sydney", "Etc/UTC"]

# Objects per team, so that a team's share of the mix reads like the example organisation.
SERVICES_PER_TEAM = 12
RULES_PER_TEAM = 12
SCHEDULES_PER_TEAM = 2
INTEGRATIONS_PER_TEAM = 3
RUNBOOKS_PER_TEAM = 2
WORKFLOWS_PER_TEAM = 4
WINDOWS_PER_TEAM = 1
PAGES_PER_TEAM = 2
PER_TEAM = (
    2  # the Team and its EscalationPolicy
    + SERVICES_PER_TEAM
    + RULES_PER_TEAM
    + SCHEDULES_PER_TEAM
    + INTEGRATIONS_PER_TEAM
    + RUNBOOKS_PER_TEAM
    + WORKFLOWS_PER_TEAM
    + WINDOWS_PER_TEAM
    + PAGES_PER_TEAM
)


def _team_docs(t: int) -> tuple[list[str], list[str], list[str]]:
    """(rules/, schedules/, workflows/) documents of team t."""
    team = f"team-{t:03d}"
    people = [f"person-{t:03d}-{i}@corp.example" for i in range(8)]
    rules: list[str] = []
    members = "\n".join(
        f"  - {{email: {p}, name: Person {t} {i}, role: {'admin' if i == 0 else 'responder'}}}"
        for i, p in enumerate(people)
    )
    rules.append(f"kind: Team\nname: {team}\nmembers:\n{members}\n")
    rules.append(
        f"kind: EscalationPolicy\nname: {team}\nrepeat: 2\nsteps:\n"
        f"  - targets: [schedule:{team}-primary]\n    timeout: 5m\n"
        f"  - targets: [schedule:{team}-secondary, user:{people[0]}]\n    timeout: 10m\n"
        f"  - targets: [team:{team}]\n    timeout: 15m\n"
    )
    services = [f"{team}-svc-{s:02d}" for s in range(SERVICES_PER_TEAM)]
    for s, name in enumerate(services):
        deps = services[s + 1 : s + 3]
        if t > 0 and s == 0:
            deps = [*deps, f"team-{t - 1:03d}-svc-05"]
        rules.append(
            f"kind: Service\nname: {name}\ndescription: Service {s} of {team}\nteam: {team}\n"
            f"escalation_policy: {team}\nurgency: {'high' if s % 3 else 'low'}\n"
            f'depends_on: [{", ".join(deps)}]\nslack_channel: "#{team}"\n'
            f"runbooks:\n  - {{title: Runbook, url: https://wiki.corp.example/{name}}}\n"
            f"  - {{runbook: {team}-restart}}\n"
        )
    types = ["alertmanager", "datadog", "generic"]
    integrations = [f"{team}-{kind}" for kind in types[:INTEGRATIONS_PER_TEAM]]
    for name, kind in zip(integrations, types, strict=False):
        env = name.upper().replace("-", "_")
        rules.append(
            f"kind: Integration\nname: {name}\ntype: {kind}\nservice: {services[0]}\n"
            f"secret: ${{env:{env}_SECRET}}\n"
        )
    for r in range(RULES_PER_TEAM):
        body = (
            f"kind: RoutingRule\nname: {team}-rule-{r:02d}\norder: {t * 100 + r}\n"
            f"integrations: [{integrations[r % len(integrations)]}]\nmatchers:\n"
            f'  - env="prod"\n  - alertname=~"{team.title()}Alert{r}.*"\n'
            f'  - severity!="info"\n'
        )
        if r == RULES_PER_TEAM - 1:
            body += "drop: true\n"
        else:
            body += (
                f"service: {services[r % len(services)]}\npriority: P{r % 5 + 1}\n"
                f"group_by: [alertname, cluster]\ncontinue: {'true' if r % 4 == 0 else 'false'}\n"
            )
        rules.append(body)
    for w in range(WINDOWS_PER_TEAM):
        rules.append(
            f"kind: MaintenanceWindow\nname: {team}-upgrade-{w}\nservices: [{services[1]}]\n"
            f"from: 2026-12-0{w + 1}T01:00\nto: 2026-12-0{w + 1}T03:00\n"
            f"timezone: {ZONES[t % len(ZONES)]}\n"
        )
    for p in range(PAGES_PER_TEAM):
        rules.append(
            f"kind: StatusPage\nname: {team}-page-{p}\ntitle: {team} status {p}\n"
            f"visibility: {'public' if p == 0 else 'private'}\ncomponents:\n"
            f"  - {{name: API, services: [{services[2 * p]}, {services[2 * p + 1]}]}}\n"
            f"  - {{name: Web, services: [{services[2 * p + 4]}]}}\n"
        )

    schedules: list[str] = []
    zone = ZONES[t % len(ZONES)]
    for which in ("primary", "secondary")[:SCHEDULES_PER_TEAM]:
        offset = 0 if which == "primary" else 4
        rota = ", ".join(people[offset : offset + 4])
        schedules.append(
            f"kind: Schedule\nname: {team}-{which}\nteam: {team}\ntimezone: {zone}\nlayers:\n"
            f"  - name: weekly\n    members: [{rota}]\n"
            f"    rotation: {{every: 1w, start: 2026-01-05T09:00}}\n"
            f"  - name: office-hours\n    members: [{people[offset]}, {people[offset + 1]}]\n"
            f"    rotation: {{every: 1d, start: 2026-01-05T09:00}}\n    restrictions:\n"
            f'      - {{days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00"}}\n'
            f"overrides:\n  - {{who: {people[offset + 2]}, from: 2026-12-24T00:00, "
            f"to: 2026-12-26T00:00}}\n"
        )

    workflows: list[str] = []
    for r in range(RUNBOOKS_PER_TEAM):
        name = f"{team}-restart" if r == 0 else f"{team}-runbook-{r}"
        workflows.append(
            f"kind: Runbook\nname: {name}\nparameters:\n  type: object\n"
            f"  properties: {{region: {{type: string, enum: [us-east-1, eu-west-1]}}}}\n"
            f"  required: [region]\nwebhook:\n"
            f"  url: https://automation.corp.example/jobs/{t}/{r}\n"
            f'  headers: {{Authorization: "Bearer ${{env:AUTOMATION_TOKEN}}"}}\n'
            f'  body: {{extra_vars: {{region: "{{{{ params.region }}}}"}}}}\n'
            f"timeout: 60s\nretries: 2\n"
        )
    for w in range(WORKFLOWS_PER_TEAM):
        workflows.append(
            f"kind: Workflow\nname: {team}-flow-{w}\non: [incident.triggered, incident.escalated]\n"
            f'when: incident.priority in ["P1", "P2"] and service.team == "{team}"\nsteps:\n'
            f'  - slack: {{channel: "#{team}", text: "{{{{ incident.priority }}}} '
            f'{{{{ incident.title }}}}"}}\n'
            f'  - if: incident.priority == "P1"\n    then:\n'
            f"      - runbook: {{name: {team}-restart, params: "
            f'{{region: "{{{{ incident.labels.region }}}}"}}}}\n'
            f'  - webhook: {{url: "https://hooks.corp.example/{team}", '
            f'body: {{id: "{{{{ incident.id }}}}"}}}}\n'
        )
    return rules, schedules, workflows


def generate(root: Path, objects: int) -> int:
    """Write a config repo of about `objects` objects under root; return the exact count."""
    teams = max(1, round(objects / PER_TEAM))
    for d in ("rules", "schedules", "workflows"):
        (root / d).mkdir(parents=True, exist_ok=True)
    count = 0
    for t in range(teams):
        rules, schedules, workflows = _team_docs(t)
        half = len(rules) // 2  # a team's rules over two files, as teams tend to split them
        (root / "rules" / f"team-{t:03d}.yaml").write_text("---\n".join(rules[:half]))
        (root / "rules" / f"team-{t:03d}-routing.yaml").write_text("---\n".join(rules[half:]))
        (root / "schedules" / f"team-{t:03d}.yaml").write_text("---\n".join(schedules))
        (root / "workflows" / f"team-{t:03d}.yaml").write_text("---\n".join(workflows))
        count += len(rules) + len(schedules) + len(workflows)
    return count


def _forget_caches() -> None:
    """Empty the per-process memo caches, so every run costs what one `oncall validate` does."""
    for module in (checks, types):
        for value in vars(module).values():
            clear = getattr(value, "cache_clear", None)
            if callable(clear):
                clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        count = generate(root, args.objects)
        files = sum(1 for _ in root.rglob("*.yaml"))
        result = load(root, now=now)  # warm-up: imports, zone data, compiled regexes
        if result.diagnostics:
            for d in result.diagnostics[:20]:
                print(d.as_text(), file=sys.stderr)
            print(
                f"generated config is not clean: {len(result.diagnostics)} diagnostics",
                file=sys.stderr,
            )
            return 1
        assert len(result.config) == count, (len(result.config), count)
        times = []
        for _ in range(args.runs):
            _forget_caches()
            started = time.perf_counter()
            load(root, now=now)
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(
        f"load() of {count} objects in {files} files: median {median:.3f} s over {args.runs} runs "
        f"(min {min(times):.3f} s, max {max(times):.3f} s)"
    )
    return 0


if __name__ == "__main__":
    with cpu_reference():
        code = main()
    raise SystemExit(code)
