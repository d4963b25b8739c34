"""CPU seconds used by groups of processes over a measured interval, read from /proc (Linux).

On a 2-core machine the server, PostgreSQL, Redis and the load generator share the CPU, so
"how much CPU does one alert cost, and where" says more than a rate alone.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _stat(pid: int) -> tuple[str, int, float] | None:
    """(command name, parent pid, CPU seconds) of a live process."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _all() -> dict[int, tuple[str, int, float]]:
    out = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None:
                out[int(entry.name)] = stat
    return out


def tree(root: int) -> Callable[[dict[int, tuple[str, int, float]]], Iterable[int]]:
    """A process and all its descendants."""
    def select(procs: dict[int, tuple[str, int, float]]) -> Iterable[int]:
        members = {root}
        grew = True
        while grew:
            grew = False
            for pid, (_, parent, _) in procs.items():
                if parent in members and pid not in members:
                    members.add(pid)
                    grew = True
        return [pid for pid in members if pid in procs]
    return select


def named(*names: str) -> Callable[[dict[int, tuple[str, int, float]]], Iterable[int]]:
    """Every process whose command name is one of `names` (postgres, redis-server)."""
    def select(procs: dict[int, tuple[str, int, float]]) -> Iterable[int]:
        return [pid for pid, (name, _, _) in procs.items() if name in names]
    return select


def _machine() -> tuple[int, int]:
    """(steal ticks, all ticks) of the whole machine since boot, from /proc/stat."""
    fields = [int(f) for f in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[7], sum(fields[:8])


class CpuMeter:
    """`start()`, run the load, `stop()`: CPU seconds per group over the interval.

    A process that exits during the interval takes its CPU with it, so the groups measured
    should outlive the interval (servers, databases). `steal` is the share of the machine's
    CPU time its hypervisor gave to other guests over the interval: on a shared virtual
    machine that, not the code, is what moves a figure from one run to the next.
    """

    def __init__(self, **groups: Callable[[dict[int, tuple[str, int, float]]], Iterable[int]]
                 ) -> None:
        self.groups = groups
        self._before: dict[int, float] = {}
        self._machine = (0, 0)
        self.steal = 0.0

    def start(self) -> None:
        self._before = {pid: cpu for pid, (_, _, cpu) in _all().items()}
        self._machine = _machine()

    def stop(self) -> dict[str, float]:
        procs = _all()
        steal, ticks = _machine()
        self.steal = (steal - self._machine[0]) / max(1, ticks - self._machine[1])
        return {
            name: sum(procs[pid][2] - self._before.get(pid, 0.0) for pid in select(procs))
            for name, select in self.groups.items()
        }


def settle(*roots: int, quiet: float = 0.1, within: float = 60.0) -> float:
    """Wait until the process trees under `roots` use less than `quiet` of a core over half a
    second: servers that answer their first request may still be starting sibling processes,
    importing and connecting, and that CPU would be charged to the first measured second.
    Returns the seconds waited."""
    import time

    started = time.monotonic()
    selects = [tree(root) for root in roots]

    def used() -> float:
        procs = _all()
        return sum(procs[pid][2] for select in selects for pid in select(procs))

    before = used()
    while time.monotonic() - started < within:
        time.sleep(0.5)
        now = used()
        if now - before < quiet * 0.5:
            break
        before = now
    return time.monotonic() - started


SPEED_LOOP = "for i in range(10_000_000): pass"


def cpu_speed() -> float:
    """Seconds of the same plain Python loop in a fresh interpreter: the reference every
    benchmark prints beside its figures, so that a slow hour and a fast one can be compared
    (on this kind of machine it has ranged from 0.22 s to 1.6 s)."""
    import subprocess
    import sys
    import time

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", SPEED_LOOP], check=True)
    return time.perf_counter() - start


def speed_line(before: float, after: float | None = None) -> str:
    """The reference as printed: measured before the run, and after it when given."""
    measured = f"{before:.2f} s" if after is None else f"{before:.2f} s before, {after:.2f} s after"
    return f"CPU speed: `python -c \"{SPEED_LOOP}\"` {measured}"


@contextmanager
def cpu_reference() -> Iterator[None]:
    """Print the CPU speed reference, measured before and after what runs inside."""
    before = cpu_speed()
    try:
        yield
    finally:
        print(speed_line(before, cpu_speed()), flush=True)
