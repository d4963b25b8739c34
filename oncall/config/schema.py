"""The JSON Schema of the config format, for editors and third-party validators.

One schema covers every kind: a document is validated against the kind its `kind` names, so
yaml-language-server offers completion per kind and check-jsonschema can lint a repo in CI.
Cross-document checks (references, cycles) are only done by `oncall validate`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from oncall.config.models import KINDS

SCHEMA_FILENAME = "oncall.schema.json"
SCHEMA_ID = "https://oncall.dev/schema/v1/oncall.schema.json"


def json_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    for kind, cls in KINDS.items():
        schema = TypeAdapter(cls).json_schema(by_alias=True, ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[kind] = schema
        branches.append(
            {
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": {"$ref": f"#/$defs/{kind}"},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "oncall configuration document",
        "type": "object",
        "required": ["kind", "name"],
        "properties": {"kind": {"enum": list(KINDS)}},
        "allOf": branches,
        "$defs": defs,
    }


def format_schema() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=False) + "\n"
