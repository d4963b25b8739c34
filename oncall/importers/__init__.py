"""Importers: another paging vendor's account (PagerDuty, Opsgenie, Grafana OnCall) as our
config files, with a parity check of who is on call.

Each vendor module has `VENDOR`, `TOKEN_ENV`, `DEFAULT_URL`, `live_source(api_url, token,
environ)` and `read(source, *, since, days)` (see `base.py`).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from types import ModuleType

_MODULES = {
    "pagerduty": "oncall.importers.pagerduty",
    "opsgenie": "oncall.importers.opsgenie",
    "grafana-oncall": "oncall.importers.grafana_oncall",
}


class _Registry(Mapping[str, ModuleType]):
    """Vendor name -> module, imported on first use: `oncall import pagerduty` loads only
    the PagerDuty importer."""

    def __getitem__(self, name: str) -> ModuleType:
        return importlib.import_module(_MODULES[name])

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


VENDORS: Mapping[str, ModuleType] = _Registry()
"""Vendor name (as typed after `oncall import`) -> the module that reads it."""
