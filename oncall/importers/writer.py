"""Imported objects as a config repo: `rules/` and `schedules/` YAML plus a report.

The files are what a person would write by hand (one file per kind, schedules grouped by team,
defaults left out), so the first commit of an imported account reads like the rest of the repo.
Only the files named here are written; anything else already in the directory is left alone.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from oncall.config.models import ConfigObject, Schedule
from oncall.importers.base import Imported

REPORT = "import-report.md"
SECRETS = "secrets.env"
_RULE_FILES = {
    "Team": "teams",
    "EscalationPolicy": "escalation-policies",
    "Service": "services",
    "Integration": "integrations",
}
_QUOTED = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
"""Clock times are quoted: YAML 1.1 reads an unquoted 17:00 as a number (sexagesimal)."""


class _Dumper(yaml.SafeDumper):
    pass


class _Flow(dict[str, Any]):
    """A small mapping written on one line: `rotation: {start: ..., every: 1w}`."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = '"' if _QUOTED.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Flow, _flow)


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _compact(value: Any, top: bool = False) -> Any:
    """Nested mappings of scalars (or short lists of them) become one-line `_Flow`s, as the
    example repo writes rotations, restrictions, overrides and steps."""
    if isinstance(value, list):
        return [_compact(v) for v in value]
    if not isinstance(value, dict):
        return value
    if not top and all(_scalar(v) or (isinstance(v, list) and all(map(_scalar, v))
                                      and len(v) <= 7) for v in value.values()):
        return _Flow(value)
    return {k: _compact(v) for k, v in value.items()}


def document(obj: ConfigObject) -> dict[str, Any]:
    """The object as a YAML mapping: `kind` and `name` first, defaults left out."""
    data = obj.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    data.pop("apiVersion", None)
    head = {"kind": data.pop("kind"), "name": data.pop("name")}
    compacted: dict[str, Any] = _compact({**head, **data}, top=True)
    return compacted


def dump(objects: list[ConfigObject], comment: str) -> str:
    """A YAML stream of `objects` under a leading comment line."""
    body = yaml.dump_all([document(o) for o in objects], Dumper=_Dumper, sort_keys=False,
                         allow_unicode=True, width=100, explicit_start=False)
    return f"# {comment}\n{body}"


def _file_for(obj: ConfigObject) -> str:
    if isinstance(obj, Schedule):
        return f"schedules/{obj.team}.yaml"
    kind = _RULE_FILES.get(obj.KIND) or re.sub(r"(?<!^)(?=[A-Z])", "-", obj.KIND).lower() + "s"
    return f"rules/{kind}.yaml"


def report(imported: Imported) -> str:
    """What a person must know after the import: what was not mapped and why, and which
    environment variables the imported integrations read their keys from."""
    lines = [f"# Import from {imported.vendor}", ""]
    counts: dict[str, int] = defaultdict(int)
    for obj in imported.objects:
        counts[obj.KIND] += 1
    lines.append("Imported: " + (", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
                                  or "nothing") + ".")
    lines += ["", f"## Not mapped ({len(imported.unmapped)})", ""]
    if not imported.unmapped:
        lines.append("Everything was mapped.")
    for u in sorted(imported.unmapped, key=lambda u: (u.kind, u.name, u.source_id)):
        lines.append(f"- {u.kind} {u.name!r} ({u.source_id}): {u.reason}")
    if imported.secrets:
        lines += ["", "## Environment variables to set where oncall runs", ""]
        for name, what in sorted(imported.secrets.items()):
            lines.append(f"- `{name}`: {what}")
    return "\n".join(lines) + "\n"


def write(imported: Imported, out: Path, *, secrets: bool = False) -> list[Path]:
    """Write `imported` under `out`; returns the files written. With `secrets`, the values of
    `imported.secret_values` go to `out/secrets.env`, readable by the owner only."""
    out = Path(out)
    groups: dict[str, list[ConfigObject]] = defaultdict(list)
    for obj in imported.objects:
        groups[_file_for(obj)].append(obj)
    written: list[Path] = []
    comment = f"Imported from {imported.vendor} by `oncall import {imported.vendor}`."
    for rel in sorted(groups):
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump(groups[rel], comment), encoding="utf-8")
        written.append(path)
    for sub in ("rules", "schedules"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    path = out / REPORT
    path.write_text(report(imported), encoding="utf-8")
    written.append(path)
    if secrets and imported.secret_values:
        path = out / SECRETS
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text("".join(f"{k}={v}\n" for k, v in sorted(imported.secret_values.items())),
                        encoding="utf-8")
        written.append(path)
    return written
