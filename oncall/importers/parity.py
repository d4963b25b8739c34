"""Parity: who the vendor says is on call against who our schedule engine says, shift by shift.

The vendor's own final (rendered) schedule is the reference; ours is computed from the written
YAML by the same code as `oncall shifts`, so a passing check means the files themselves are
right, not only the objects in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

from oncall.config.loader import ConfigDirError, load
from oncall.core.schedule import shifts
from oncall.importers.base import Imported, ImportFailed, RenderedShift

Timeline = list[tuple[datetime, datetime, str | None]]


@dataclass(frozen=True)
class Difference:
    """From `at` (until `until`) the vendor has `expected` on call and we have `actual`
    (None: no one)."""

    schedule: str
    at: datetime
    expected: str | None
    actual: str | None
    until: datetime | None = None

    def __str__(self) -> str:
        end = f" until {self.until:%Y-%m-%dT%H:%MZ}" if self.until is not None else ""
        return (f"{self.schedule}: at {self.at:%Y-%m-%dT%H:%MZ}{end} {self.expected or '(no one)'}"
                f" is on call in the source, {self.actual or '(no one)'} here")


def _expected(rendered: list[RenderedShift], lo: datetime, hi: datetime) -> Timeline:
    """The vendor's entries clipped to the window; uncovered time is no one."""
    out: Timeline = []
    t = lo
    for r in sorted(rendered, key=lambda r: r.start):
        start, end = max(r.start.astimezone(UTC), lo), min(r.end.astimezone(UTC), hi)
        if end <= start:
            continue
        if start > t:
            out.append((t, start, None))
        out.append((max(start, t), end, r.who.lower() if r.who else None))
        t = max(t, end)
    if t < hi:
        out.append((t, hi, None))
    return [s for s in out if s[0] < s[1]]


def compare(name: str, expected: Timeline, actual: Timeline) -> list[Difference]:
    """Walk both timelines (each tiling the same window) and report every stretch where they
    disagree, merged while the disagreement stays the same."""
    cuts = sorted({t for s in expected + actual for t in (s[0], s[1])})
    found: list[Difference] = []
    i = j = 0
    for a, b in pairwise(cuts):
        while expected[i][1] <= a:
            i += 1
        while actual[j][1] <= a:
            j += 1
        want, got = expected[i][2], actual[j][2]
        if want == got:
            continue
        last = found[-1] if found else None
        if last is not None and last.until == a and (last.expected, last.actual) == (want, got):
            found[-1] = Difference(name, last.at, want, got, b)
        else:
            found.append(Difference(name, a, want, got, b))
    return found


def check(imported: Imported, config_dir: Path) -> list[Difference]:
    """Every difference between `imported.rendered` and the schedules in `config_dir` over
    `imported.window`, in schedule then time order. Raises ImportFailed if the directory is
    not a valid config repo or a rendered schedule has no schedule there."""
    if imported.window is None:
        raise ImportFailed("no parity window: the source's final schedules were not read")
    try:
        result = load(config_dir)
    except ConfigDirError as exc:
        raise ImportFailed(str(exc)) from None
    if result.errors:
        first = sorted(result.errors, key=lambda d: d.sort_key())[0]
        raise ImportFailed(f"the imported config is invalid: {first.as_text()}")
    lo, hi = (t.astimezone(UTC) for t in imported.window)
    found: list[Difference] = []
    for name in sorted(imported.rendered):
        schedule = result.config.schedules.get(name)
        if schedule is None:
            raise ImportFailed(f"schedule {name!r} is not in {config_dir}")
        actual: Timeline = [(s.start.astimezone(UTC), s.end.astimezone(UTC), s.who)
                            for s in shifts(schedule, lo, hi)]
        found += compare(name, _expected(imported.rendered[name], lo, hi), actual)
    return found
