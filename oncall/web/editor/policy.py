"""The escalation policy editor's form, and the document it writes.

The form holds what a person typed, as text, so nothing they type is lost or coerced on the way
to the YAML: `repeat: "two"` reaches the document as written and `oncall validate`'s own checks
report it. Every operation returns a new form; the Reflex state only stores it.
"""

from __future__ import annotations

import re
from typing import Any

from oncall.config.configset import ConfigSet
from oncall.config.models import EscalationPolicy

PolicyForm = dict[str, Any]
"""{"name", "description", "repeat": text, "steps": [{"timeout": text, "targets": [text]}]}"""

DEFAULT_TIMEOUT = "5m"
_INT = re.compile(r"^[0-9]+$")


def blank_form(name: str = "") -> PolicyForm:
    """A new policy: one step with nobody yet, so the first thing to do is obvious."""
    return {"name": name, "description": "", "repeat": "0",
            "steps": [{"timeout": DEFAULT_TIMEOUT, "targets": []}]}


def form_of(policy: EscalationPolicy) -> PolicyForm:
    """An applied policy, ready to edit."""
    return {
        "name": policy.name,
        "description": policy.description or "",
        "repeat": str(policy.repeat),
        "steps": [{"timeout": str(step.timeout), "targets": [str(t) for t in step.targets]}
                  for step in policy.steps],
    }


def _number(text: str) -> int | str:
    """Digits become the integer the format wants; anything else goes through as typed, for
    validation to name."""
    stripped = text.strip()
    return int(stripped) if _INT.match(stripped) else stripped


def document(form: PolicyForm) -> dict[str, Any]:
    """The YAML document of the form, in the format's canonical key order and without fields
    at their default."""
    doc: dict[str, Any] = {"kind": EscalationPolicy.KIND, "name": form["name"].strip()}
    description = form["description"].strip()
    if description:
        doc["description"] = description
    repeat = _number(form["repeat"])
    if repeat not in (0, ""):
        doc["repeat"] = repeat
    doc["steps"] = [
        {"targets": [t for t in step["targets"] if t],
         "timeout": step["timeout"].strip()}
        for step in form["steps"]
    ]
    return doc


def canonical(policy: EscalationPolicy) -> dict[str, Any]:
    """An applied policy as the editor would write it: what a round trip must reproduce."""
    dumped = policy.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    doc = {"kind": dumped.pop("kind"), "name": dumped.pop("name")}
    doc.update(dumped)
    return doc


# --- operations on the steps -----------------------------------------------------------------


def _steps(form: PolicyForm) -> list[dict[str, Any]]:
    return [{"timeout": s["timeout"], "targets": list(s["targets"])} for s in form["steps"]]


def with_steps(form: PolicyForm, steps: list[dict[str, Any]]) -> PolicyForm:
    return {**form, "steps": steps}


def add_step(form: PolicyForm) -> PolicyForm:
    steps = _steps(form)
    last = steps[-1]["timeout"] if steps else DEFAULT_TIMEOUT
    return with_steps(form, [*steps, {"timeout": last, "targets": []}])


def remove_step(form: PolicyForm, index: int) -> PolicyForm:
    """The last step stays: a policy needs at least one, and an empty form explains nothing."""
    steps = _steps(form)
    if len(steps) <= 1 or not 0 <= index < len(steps):
        return form
    del steps[index]
    return with_steps(form, steps)


def move_step(form: PolicyForm, index: int, delta: int) -> PolicyForm:
    steps = _steps(form)
    other = index + delta
    if not (0 <= index < len(steps) and 0 <= other < len(steps)):
        return form
    steps[index], steps[other] = steps[other], steps[index]
    return with_steps(form, steps)


def set_timeout(form: PolicyForm, index: int, value: str) -> PolicyForm:
    steps = _steps(form)
    if 0 <= index < len(steps):
        steps[index]["timeout"] = value
    return with_steps(form, steps)


def add_target(form: PolicyForm, index: int, target: str) -> PolicyForm:
    steps = _steps(form)
    target = target.strip()
    if target and 0 <= index < len(steps) and target not in steps[index]["targets"]:
        steps[index]["targets"].append(target)
    return with_steps(form, steps)


def remove_target(form: PolicyForm, index: int, target: str) -> PolicyForm:
    steps = _steps(form)
    if 0 <= index < len(steps):
        steps[index]["targets"] = [t for t in steps[index]["targets"] if t != target]
    return with_steps(form, steps)


# --- who a step may page ----------------------------------------------------------------------


def target_label(target: str, config: ConfigSet) -> str:
    """How a target reads on the page: a person by name, a schedule or team as such."""
    kind, _, ref = target.partition(":")
    if kind == "user":
        user = config.users.get(ref)
        return f"{user.name} ({ref})" if user is not None and user.name else ref
    if kind in ("schedule", "team"):
        return f"{kind} {ref}"
    return target


def schedule_choices(config: ConfigSet) -> list[str]:
    return [f"schedule:{name}" for name in sorted(config.schedules)]


def team_choices(config: ConfigSet) -> list[str]:
    return [f"team:{name}" for name in sorted(config.teams)]


def people_matching(config: ConfigSet, query: str, limit: int = 8) -> list[dict[str, str]]:
    """People whose name or email holds every word of `query`, for the person search."""
    words = query.lower().split()
    if not words:
        return []
    found: list[dict[str, str]] = []
    for email, user in sorted(config.users.items()):
        hay = f"{email} {user.name or ''}".lower()
        if all(w in hay for w in words):
            found.append({"target": f"user:{email}", "label": target_label(f"user:{email}",
                                                                            config)})
            if len(found) >= limit:
                break
    return found


def display_steps(form: PolicyForm, config: ConfigSet) -> list[dict[str, Any]]:
    """The steps as the page shows them: number, timeout, and each target with its label."""
    return [
        {"index": i, "number": str(i + 1), "timeout": s["timeout"],
         "targets": [{"target": t, "label": target_label(t, config)} for t in s["targets"]]}
        for i, s in enumerate(form["steps"])
    ]


def applied_form(config: ConfigSet, name: str) -> PolicyForm | None:
    policy = config.policies.get(name)
    return form_of(policy) if policy is not None else None
