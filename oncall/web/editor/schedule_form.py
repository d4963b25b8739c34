"""The schedule editor's form, as plain values, to and from a Schedule document; the live
preview of its shifts; the people search. Pure: no I/O, time passed in.

The form keeps what a person edits in the terms they think in (a weekly rotation of length 1
handing off at 09:00 from a date) and turns it into the format's terms (`every: 1w`,
`start: 2026-01-05T09:00`). Fields the editor has no controls for (overrides, handoff notices)
are carried through untouched, so editing a schedule never drops them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.config.diagnostics import Diagnostic
from oncall.config.loader import build_object
from oncall.config.models import Schedule
from oncall.config.types import WEEKDAYS
from oncall.config.yamlsource import read_documents
from oncall.core.schedule import Shift, shifts
from oncall.web.editor.document import to_yaml

ROTATION_TYPES = {"weekly": "w", "daily": "d", "hourly": "h"}
"""Rotation types with a length, and the duration unit each counts in; plus `rrule` (an RFC
5545 rule) and `custom` (any duration, as written)."""
TYPES = ("weekly", "daily", "hourly", "rrule", "custom")
EDITED = ("kind", "name", "description", "team", "timezone", "layers")
PREVIEW_DAYS = 14
SEARCH_LIMIT = 8
_SIMPLE = re.compile(r"^(\d+)([wdh])$")


def new_layer(name: str, today: date) -> dict[str, str]:
    """A weekly layer handing off at 09:00 on the next Monday."""
    monday = today + timedelta(days=(7 - today.weekday()) % 7 or 7)
    return {"name": name, "type": "weekly", "length": "1", "rrule": "",
            "start_date": monday.isoformat(), "handoff": "09:00", "until": ""}


def new_restriction() -> dict[str, str]:
    return {"days": "mon,tue,wed,thu,fri", "from": "09:00", "to": "17:00"}


@dataclass
class Form:
    fields: dict[str, str]
    """name, description, team, timezone."""
    layers: list[dict[str, str]]
    members: list[list[str]]
    restrictions: list[list[dict[str, str]]]
    kept: dict[str, Any]
    """Fields of the document the editor does not edit, written back as they were."""


def blank(team: str, timezone: str, today: date) -> Form:
    return Form({"name": "", "description": "", "team": team, "timezone": timezone},
                [new_layer("primary", today)], [[]], [[]], {})


def _rotation(layer: Mapping[str, str]) -> dict[str, Any]:
    start = f"{layer.get('start_date', '').strip()}T{layer.get('handoff', '').strip()}"
    kind, length = layer.get("type", ""), layer.get("length", "").strip()
    if kind == "rrule":
        return {"rrule": layer.get("rrule", "").strip(), "start": start}
    if kind in ROTATION_TYPES:
        return {"every": f"{length}{ROTATION_TYPES[kind]}", "start": start}
    return {"every": length, "start": start}


def _restriction(window: Mapping[str, str]) -> dict[str, Any]:
    days = [d for d in WEEKDAYS if d in window.get("days", "").split(",")]
    out: dict[str, Any] = {}
    if set(days) != set(WEEKDAYS):
        out["days"] = days
    out["from"], out["to"] = window.get("from", ""), window.get("to", "")
    return out


def to_document(form: Form) -> dict[str, Any]:
    """The Schedule document the form describes (empty optional fields left out)."""
    layers: list[dict[str, Any]] = []
    for i, layer in enumerate(form.layers):
        out: dict[str, Any] = {
            "name": layer.get("name", "").strip(),
            "members": list(form.members[i]) if i < len(form.members) else [],
            "rotation": _rotation(layer),
        }
        windows = form.restrictions[i] if i < len(form.restrictions) else []
        if windows:
            out["restrictions"] = [_restriction(w) for w in windows]
        if layer.get("until", "").strip():
            out["until"] = layer["until"].strip()
        layers.append(out)
    f = form.fields
    document: dict[str, Any] = {
        "kind": "Schedule",
        "name": f.get("name", "").strip(),
        "description": f.get("description", "").strip() or None,
        "team": f.get("team", "").strip(),
        "timezone": f.get("timezone", "").strip(),
        "layers": layers,
    }
    document.update(form.kept)
    return document


def _layer_form(raw: Mapping[str, Any]) -> dict[str, str]:
    rotation = raw.get("rotation") or {}
    start = str(rotation.get("start", ""))
    start_date, _, handoff = start.partition("T")
    layer = {"name": str(raw.get("name", "")), "type": "custom", "length": "", "rrule": "",
             "start_date": start_date, "handoff": handoff[:5], "until": str(raw.get("until", ""))}
    if "rrule" in rotation:
        layer.update(type="rrule", rrule=str(rotation["rrule"]))
        return layer
    every = str(rotation.get("every", ""))
    simple = _SIMPLE.match(every)
    if simple:
        unit = {v: k for k, v in ROTATION_TYPES.items()}[simple.group(2)]
        layer.update(type=unit, length=simple.group(1))
    else:
        layer["length"] = every
    return layer


def from_document(document: Mapping[str, Any]) -> Form:
    """The form of a Schedule document as the config repo has it."""
    raw_layers = [dict(x) for x in document.get("layers") or [] if isinstance(x, dict)]
    restrictions: list[list[dict[str, str]]] = []
    for raw in raw_layers:
        windows = []
        for w in raw.get("restrictions") or []:
            days = w.get("days") or list(WEEKDAYS)
            windows.append({"days": ",".join(str(d) for d in days),
                            "from": str(w.get("from", "")), "to": str(w.get("to", ""))})
        restrictions.append(windows)
    return Form(
        fields={"name": str(document.get("name", "")),
                "description": str(document.get("description") or ""),
                "team": str(document.get("team", "")),
                "timezone": str(document.get("timezone", ""))},
        layers=[_layer_form(x) for x in raw_layers],
        members=[[str(m) for m in x.get("members") or []] for x in raw_layers],
        restrictions=restrictions,
        kept={k: v for k, v in document.items() if k not in EDITED and k != "apiVersion"},
    )


def parse(document: dict[str, Any]) -> Schedule | None:
    """The document as the loader builds it alone (no cross-references), or None if it
    cannot be one."""
    documents, problems = read_documents(to_yaml(document), "preview.yaml")
    if problems or not documents:
        return None
    diagnostics: list[Diagnostic] = []
    built = build_object(documents[0], diagnostics)
    return built if isinstance(built, Schedule) else None


def preview_window(now: datetime) -> tuple[datetime, datetime]:
    """From the current minute, `PREVIEW_DAYS` days."""
    start = now.replace(second=0, microsecond=0)
    return start, start + timedelta(days=PREVIEW_DAYS)


def when(t: datetime, tz: ZoneInfo) -> str:
    """As `oncall shifts` prints a time: `2026-03-08 09:00 EDT`."""
    local = t.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def shift_row(s: Shift, tz: ZoneInfo) -> dict[str, str]:
    how = "gap" if s.who is None else ("override" if s.source == "override" else s.layer or "")
    who = s.who or "(no one)"
    start, end = when(s.start, tz), when(s.end, tz)
    return {"start": start, "end": end, "who": who, "layer": how,
            "line": f"{start}  {end}  {who}  {how}"}


def preview(schedule: Schedule, start: datetime, end: datetime) -> list[dict[str, str]]:
    """The final shifts over the window, in the schedule's zone, as `oncall shifts` lists
    them (config overrides included; overrides made in the app are not config)."""
    return [shift_row(s, schedule.timezone) for s in shifts(schedule, start, end)]


def search_people(people: Mapping[str, str], query: str, exclude: Iterable[str] = (),
                  limit: int = SEARCH_LIMIT) -> list[dict[str, str]]:
    """People of the config (email → name) whose email or name contains every word of
    `query`, best first: a match at the start of the name or email before one inside."""
    words = query.lower().split()
    if not words:
        return []
    skip = set(exclude)
    found = []
    for email, name in people.items():
        if email in skip:
            continue
        hay = f"{name} {email}".lower()
        if all(w in hay for w in words):
            starts = name.lower().startswith(words[0]) or email.startswith(words[0])
            found.append((0 if starts else 1, name.lower() or email, email, name))
    found.sort()
    return [{"email": e, "name": n or e} for _, _, e, n in found[:limit]]
