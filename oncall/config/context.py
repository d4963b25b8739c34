"""What every cross-document check reads, and the shape of a check."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from oncall.config.configset import ConfigSet
from oncall.config.diagnostics import Diagnostic

Check = Callable[["Context"], Iterable[Diagnostic]]


class Context:
    """What every check reads: the config, the instant to look ahead from, and what is missing.

    Documents that failed validation are absent from the ConfigSet; references to them are not
    reported again, and user references are not checked at all when a Team failed.
    """

    def __init__(
        self, config: ConfigSet, now: datetime | None, broken: set[tuple[str, str]]
    ) -> None:
        self.config = config
        self.now = now
        self.broken = broken
        self.teams_broken = any(kind == "Team" for kind, _ in broken)

    def missing(self, kind: str, name: str, known: Iterable[str]) -> bool:
        if name in known:
            return False
        if kind == "User":
            return not self.teams_broken
        return (kind, name) not in self.broken
