"""What the status page tests share: an organisation written as YAML, loaded and applied."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from oncall.config.configset import ConfigSet
from oncall.config.loader import load
from oncall.reconcile.apply import Origin, apply_config


def load_yaml(root: Path, text: str) -> ConfigSet:
    """`text` as the one config file under `root`, loaded; it must validate."""
    (root / "rules").mkdir(parents=True, exist_ok=True)
    (root / "rules" / "shop.yaml").write_text(text)
    result = load(root)
    assert result.ok, [d.as_text() for d in result.errors]
    return result.config


def apply_yaml(engine: Engine, root: Path, text: str, now: datetime) -> ConfigSet:
    """`load_yaml`, then applied to `engine` as of `now`."""
    config = load_yaml(root, text)
    apply_config(engine, config, Origin(actor="tests", source="tests", revision=None, now=now))
    return config
