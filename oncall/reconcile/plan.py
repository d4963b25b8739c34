"""The plan: what applying a config would change, per object and per field. Pure.

Both sides are `ObjectState`s: the desired side comes from a validated ConfigSet, the current side
is read from the database by `oncall.reconcile.state`. Users are an object kind of their own here
(email, name, roles, and `platform_admin: true` for the people `Organization.admins` names),
derived from Teams, so a membership change reads as a change to the person.
A rename is a delete and a create: names are identities, and nothing guesses otherwise.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from oncall.config.configset import ConfigSet

Key = tuple[str, str]
Action = Literal["create", "update", "delete"]
FORMATS = ("text", "json", "markdown")

USER = "User"
KIND_ORDER = (
    "Organization",
    "Team",
    USER,
    "Schedule",
    "EscalationPolicy",
    "Service",
    "Integration",
    "RoutingRule",
    "MaintenanceWindow",
    "Runbook",
    "Workflow",
    "StatusPage",
)
IDENTITY_FIELDS = ("apiVersion", "kind", "name")
UNMANAGED_WHEN_ABSENT = {USER: frozenset({"name"})}
"""Fields the config may leave unset, in which case the app (or SSO) owns them."""


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class ObjectState:
    kind: str
    name: str
    spec: dict[str, Any]
    source_path: str | None = None
    source_line: int | None = None
    drift: bool = False
    """Current side only: the row no longer matches what the reconciler wrote."""

    @property
    def key(self) -> Key:
        return (self.kind, self.name)

    @property
    def source(self) -> str | None:
        if self.source_path is None:
            return None
        return f"{self.source_path}:{self.source_line}" if self.source_line else self.source_path


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: Any = ABSENT
    after: Any = ABSENT

    @property
    def marker(self) -> str:
        if self.before is ABSENT:
            return "+"
        if self.after is ABSENT:
            return "-"
        return "~"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.before is not ABSENT:
            out["before"] = self.before
        if self.after is not ABSENT:
            out["after"] = self.after
        return out


@dataclass(frozen=True)
class Change:
    action: Action
    kind: str
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    fields: tuple[FieldChange, ...] = ()
    source: str | None = None
    drift: bool = False

    @property
    def key(self) -> Key:
        return (self.kind, self.name)


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    relocated: tuple[ObjectState, ...] = ()
    """Objects whose spec is unchanged but whose file or line moved: updated, not reported."""
    total: int = 0
    """Objects in the desired config (users included)."""
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def summary(self) -> str:
        if not self.changes:
            return f"No changes: the database matches the config ({self.total} objects)."
        return (
            f"Plan: {self.count('create')} to create, {self.count('update')} to update, "
            f"{self.count('delete')} to delete."
        )


def spec_hash(spec: Mapping[str, Any]) -> str:
    canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def desired_state(config: ConfigSet) -> dict[Key, ObjectState]:
    """Every object of a validated config as the reconciler stores it, plus one User per email."""
    desired: dict[Key, ObjectState] = {}
    for obj in config:
        dumped = obj.model_dump(mode="json", by_alias=True)
        spec = {k: v for k, v in dumped.items() if k not in IDENTITY_FIELDS}
        source = config.source(obj)
        desired[(obj.KIND, obj.name)] = ObjectState(
            obj.KIND, obj.name, spec, source.path, source.line
        )
    admins = config.platform_admins
    for email, user in config.users.items():
        user_spec: dict[str, Any] = {"roles": dict(sorted(user.roles.items()))}
        if user.name is not None:
            user_spec = {"name": user.name, **user_spec}
        if email in admins:
            user_spec["platform_admin"] = True
        desired[(USER, email)] = ObjectState(USER, email, user_spec)
    return desired


def make_plan(desired: Mapping[Key, ObjectState], current: Mapping[Key, ObjectState]) -> Plan:
    changes: list[Change] = []
    relocated: list[ObjectState] = []
    for key in sorted(desired.keys() | current.keys(), key=_sort_key):
        want, have = desired.get(key), current.get(key)
        if have is None and want is not None:
            changes.append(Change("create", *key, None, want.spec, source=want.source))
        elif want is None and have is not None:
            changes.append(
                Change("delete", *key, have.spec, None, source=have.source, drift=have.drift)
            )
        elif want is not None and have is not None:
            before = _managed(have.spec, want.spec, key[0])
            fields = tuple(diff_fields(before, want.spec))
            if fields:
                changes.append(
                    Change("update", *key, have.spec, want.spec, fields, want.source, have.drift)
                )
            elif (want.source_path, want.source_line) != (have.source_path, have.source_line):
                relocated.append(want)
    return Plan(
        tuple(changes),
        tuple(relocated),
        total=len(desired),
        counts=dict(Counter(k for k, _ in desired)),
    )


def _sort_key(key: Key) -> tuple[int, str, str]:
    kind, name = key
    rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    return (rank, kind, name)


def _managed(have: dict[str, Any], want: dict[str, Any], kind: str) -> dict[str, Any]:
    unmanaged = UNMANAGED_WHEN_ABSENT.get(kind, frozenset())
    if not unmanaged:
        return have
    return {k: v for k, v in have.items() if k not in unmanaged or k in want}


def diff_fields(before: Any, after: Any, path: str = "") -> Iterable[FieldChange]:
    """Field-level differences; lists are aligned (difflib) so an insertion reads as one line."""
    if isinstance(before, dict) and isinstance(after, dict):
        keys = list(after) + sorted(k for k in before if k not in after)
        for k in keys:
            sub = f"{path}.{k}" if path else str(k)
            if k not in before:
                yield FieldChange(sub, ABSENT, after[k])
            elif k not in after:
                yield FieldChange(sub, before[k], ABSENT)
            else:
                yield from diff_fields(before[k], after[k], sub)
        return
    if isinstance(before, list) and isinstance(after, list):
        yield from _diff_lists(before, after, path)
        return
    if before != after or type(before) is not type(after):
        yield FieldChange(path, before, after)


def _diff_lists(before: list[Any], after: list[Any], path: str) -> Iterable[FieldChange]:
    a = [json.dumps(x, sort_keys=True) for x in before]
    b = [json.dumps(x, sort_keys=True) for x in after]
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for offset in range(i2 - i1):
                yield from diff_fields(
                    before[i1 + offset], after[j1 + offset], f"{path}[{j1 + offset}]"
                )
            continue
        for i in range(i1, i2):
            yield FieldChange(f"{path}[{i}]", before[i], ABSENT)
        for j in range(j1, j2):
            yield FieldChange(f"{path}[{j}]", ABSENT, after[j])


# --- rendering -------------------------------------------------------------------------------

_MARK = {"create": "+", "update": "~", "delete": "-"}


def _value(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True)


def _field_line(f: FieldChange) -> str:
    if f.marker == "+":
        return f"+ {f.path}: {_value(f.after)}"
    if f.marker == "-":
        return f"- {f.path}: {_value(f.before)}"
    return f"~ {f.path}: {_value(f.before)} -> {_value(f.after)}"


def _header(c: Change) -> str:
    line = f"{_MARK[c.action]} {c.action} {c.kind} {c.name}"
    if c.source:
        line += f"  ({c.source})"
    if c.drift:
        line += "  [drift: changed outside the reconciler]"
    if c.action == "delete" and c.kind == USER:
        line += "  [memberships only; contact methods and history are kept]"
    return line


def render_text(plan: Plan) -> str:
    lines: list[str] = []
    for c in plan.changes:
        lines.append(_header(c))
        lines.extend("    " + _field_line(f) for f in c.fields)
    if lines:
        lines.append("")
    lines.append(plan.summary())
    return "\n".join(lines) + "\n"


def render_markdown(plan: Plan) -> str:
    out = [f"### oncall plan\n\n**{plan.summary()}**\n"]
    if plan.changes:
        rows = ["| Kind | Create | Update | Delete |", "|---|---:|---:|---:|"]
        by_kind: dict[str, Counter[str]] = {}
        for c in plan.changes:
            by_kind.setdefault(c.kind, Counter())[c.action] += 1
        for kind, n in by_kind.items():
            rows.append(f"| {kind} | {n['create']} | {n['update']} | {n['delete']} |")
        out.append("\n".join(rows) + "\n")
        body: list[str] = []
        for c in plan.changes:
            body.append(_header(c).replace("~", "!", 1))
            for f in c.fields:
                text = _field_line(f)
                body.append(("!" if f.marker == "~" else f.marker) + "     " + text[2:])
        out.append("```diff\n" + "\n".join(body) + "\n```\n")
    return "\n".join(out)


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "changes": [
            {
                "action": c.action,
                "kind": c.kind,
                "name": c.name,
                "source": c.source,
                "drift": c.drift,
                "fields": [f.to_json() for f in c.fields],
                "before": c.before,
                "after": c.after,
            }
            for c in plan.changes
        ],
        "summary": {
            "create": plan.count("create"),
            "update": plan.count("update"),
            "delete": plan.count("delete"),
            "objects": plan.total,
        },
    }


def render(plan: Plan, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(plan_json(plan), indent=2, ensure_ascii=False) + "\n"
    if fmt == "markdown":
        return render_markdown(plan)
    return render_text(plan)
