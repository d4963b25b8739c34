"""Editor documents as YAML: the format's key order whatever order the editor built them in,
the same text every time, and text the loader reads back to the same document."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from oncall.config.loader import load_text
from oncall.web.editor.document import canonical, to_yaml

SCHEDULE: dict[str, Any] = {
    "layers": [{
        "restrictions": [{"to": "17:00", "from": "09:00", "days": ["mon", "fri"]}],
        "rotation": {"start": "2026-01-05T09:00", "every": "1w"},
        "members": ["a@example.com", "b@example.com"],
        "name": "weekly",
    }],
    "timezone": "Europe/London",
    "description": None,
    "team": "t",
    "name": "s",
    "kind": "Schedule",
}


@pytest.mark.parametrize(("document", "keys"), [
    (SCHEDULE, ["kind", "name", "team", "timezone", "layers"]),
    ({"steps": [], "repeat": 1, "name": "p", "kind": "EscalationPolicy"},
     ["kind", "name", "repeat", "steps"]),
    ({"members": [], "name": "t", "kind": "Team", "description": "d"},
     ["kind", "name", "description", "members"]),
    ({"zzz": 1, "name": "x", "kind": "Unknown"}, ["kind", "name", "zzz"]),
])
def test_top_level_keys_follow_the_format(document: dict[str, Any], keys: list[str]) -> None:
    assert list(canonical(document)) == keys


@pytest.mark.parametrize(("path", "keys"), [
    (("layers", 0), ["name", "members", "rotation", "restrictions"]),
    (("layers", 0, "rotation"), ["every", "start"]),
    (("layers", 0, "restrictions", 0), ["days", "from", "to"]),
])
def test_nested_keys_follow_the_models(path: tuple[Any, ...], keys: list[str]) -> None:
    node: Any = canonical(SCHEDULE)
    for step in path:
        node = node[step]
    assert list(node) == keys


def test_the_text_is_stable_and_reads_back() -> None:
    shuffled = dict(reversed(list(SCHEDULE.items())))
    text = to_yaml(SCHEDULE)
    assert text == to_yaml(shuffled) == to_yaml(yaml.safe_load(text))
    assert text.startswith("kind: Schedule\nname: s\nteam: t\n")
    assert '{days: [mon, fri], from: "09:00", to: "17:00"}' in text
    assert "description" not in text
    team = "kind: Team\nname: t\nmembers: [{email: a@example.com}, {email: b@example.com}]\n"
    result = load_text(team + "---\n" + text)
    assert result.errors == []
    schedule = result.config.schedules["s"]
    assert schedule.layers[0].restrictions[0].days == ["mon", "fri"]
