"""A config document (a plain dict) as YAML text, keys in the format's own order.

The editors build dicts; what they hand to review and to a pull request must read like the rest
of the repo: `kind` and `name` first, then the fields in the order the config models declare
them (so a file written twice is byte-for-byte the same), small mappings on one line as the
example repo writes rotations and restrictions, and clock times quoted.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Union

import yaml
from pydantic import BaseModel

from oncall.config.models import KINDS, ActionStep, Rotation

FIRST = ("kind", "name")
ORDER_OVERRIDES: dict[type[BaseModel], tuple[str, ...]] = {
    # The repo writes `{every: 1w, start: ...}`: how often first, then from when.
    Rotation: ("every", "rrule", "start"),
}
"""Where the written order differs from the model's declaration order."""
LAST: dict[type[BaseModel], tuple[str, ...]] = {
    # `- slack: {...}` then `continue_on_error: true`: the step's kind leads its item.
    ActionStep: ("continue_on_error",),
}
"""Fields written after the others, for a model and its subclasses."""
FLOW_LIST_MAX = 7
FLOW_WIDTH = 100
"""The most characters a one-line mapping holds (roughly: keys, values and separators)."""
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
"""Quoted: YAML 1.1 readers take an unquoted 17:00 for a number (sexagesimal)."""


class _Flow(dict[str, Any]):
    """A small mapping of scalars written on one line: `rotation: {every: 1w, start: ...}`."""


_BOOL_12 = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _Dumper(yaml.SafeDumper):
    """YAML 1.2 core typing, as the loader reads (`oncall.config.yamlsource`): `on:` is a
    key, not the boolean YAML 1.1 makes of it, so it is written plain as the repo writes it."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Lists indented under their key (`layers:` then `  - name: ...`), as the repo has."""
        super().increase_indent(flow, False)


_Dumper.yaml_implicit_resolvers = {
    first: [(tag, _BOOL_12 if tag == "tag:yaml.org,2002:bool" else pattern)
            for tag, pattern in resolvers]
    for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    """Clock times quoted; text of several lines as a literal block (`|`), read as written."""
    if "\n" in value.rstrip("\n") and not any(line != line.rstrip() for line in
                                              value.splitlines()):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    style = '"' if _CLOCK.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


def _ordered(dumper: yaml.SafeDumper, value: dict[str, Any]) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items())


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Flow, _flow)
_Dumper.add_representer(dict, _ordered)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The model classes a field's annotation can hold (through lists, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin is None:
        return []
    found: list[type[BaseModel]] = []
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        args = args[:1]
    elif origin not in (list, tuple, Union, types.UnionType):
        return []
    for arg in args:
        found.extend(m for m in _models_in(arg) if m not in found)
    return found


def _aliases(model: type[BaseModel]) -> list[tuple[str, Any]]:
    """(key as written, annotation) of every field, in declaration order."""
    out = [(info.alias or name, info.annotation) for name, info in model.model_fields.items()]
    preferred = ORDER_OVERRIDES.get(model)
    if preferred:
        rank = {k: i for i, k in enumerate(preferred)}
        out.sort(key=lambda item: rank.get(item[0], len(rank)))
    last = [k for base, keys in LAST.items() if issubclass(model, base) for k in keys]
    return [item for item in out if item[0] not in last] + [item for item in out
                                                             if item[0] in last]


def _pick(candidates: list[type[BaseModel]], value: dict[str, Any]) -> type[BaseModel] | None:
    """The first candidate model that has every key of `value`."""
    for model in candidates:
        if set(value) <= {k for k, _ in _aliases(model)}:
            return model
    return None


def _canon(value: Any, candidates: list[type[BaseModel]], top: bool = False) -> Any:
    if isinstance(value, list):
        return [_canon(v, candidates) for v in value]
    if not isinstance(value, dict):
        return value
    present = {k: v for k, v in value.items() if v is not None}
    model = _pick(candidates, present)
    fields = _aliases(model) if model is not None else []
    order = [k for k in FIRST if k in present] if top else []
    order += [k for k, _ in fields if k in present and k not in order]
    order += [k for k in present if k not in order]
    annotations = dict(fields)
    out = {k: _canon(present[k], _models_in(annotations.get(k))) for k in order}
    if not top and all(_small(v) for v in out.values()) and _short(out):
        return _Flow(out)
    return out


def _short(mapping: dict[str, Any]) -> bool:
    """Fits on one line beside its key: a longer mapping is written a field a line, so no
    text is folded across lines inside quotes."""
    return sum(len(str(k)) + len(str(v)) + 4 for k, v in mapping.items()) <= FLOW_WIDTH


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _small(value: Any) -> bool:
    """Fits a one-line mapping: a scalar of one line, or a short list of them."""
    if isinstance(value, list):
        return len(value) <= FLOW_LIST_MAX and all(map(_small, value))
    return _scalar(value) and not (isinstance(value, str) and "\n" in value)


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with keys in the format's order and unset (None) fields left out."""
    model = KINDS.get(str(document.get("kind", "")))
    result: dict[str, Any] = _canon(document, [model] if model else [], top=True)
    return dict(result)


def to_yaml(document: dict[str, Any]) -> str:
    """The document as one YAML document, the same text for the same content."""
    text: str = yaml.dump(
        canonical(document), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
        default_flow_style=False,
    )
    return text
