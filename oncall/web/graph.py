"""The service dependency graph as DOT source: statuses, colours, clusters, blast radius.

Pure: the caller reads services and open incidents from the database and hands them in; the
DOT text is built with the `graphviz` package, which quotes every name and label, so a name
from the config can never break out of its attribute. Rendering is `graph_render`'s job.

An edge points from a service to what it depends on, so a top-down layout reads like a call
stack: the storefront at the top, the platform it runs on at the bottom.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

import graphviz  # type: ignore[import-untyped]

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
ACKNOWLEDGED = "acknowledged"
HEALTHY = "healthy"
UNKNOWN = "unknown"
"""A dependency that names no service of the config."""


@dataclass(frozen=True)
class Style:
    """How one status looks: fill and label colour (WCAG AA against each other), its words."""

    fill: str
    font: str
    words: str


STYLES: Mapping[str, Style] = {
    "P1": Style("#b42318", "#ffffff", "P1 incident open"),
    "P2": Style("#c2410c", "#ffffff", "P2 incident open"),
    "P3": Style("#fcd34d", "#1f2328", "P3 incident open"),
    "P4": Style("#fef3c7", "#1f2328", "P4 incident open"),
    "P5": Style("#fef3c7", "#1f2328", "P5 incident open"),
    "open": Style("#fef3c7", "#1f2328", "incident open"),
    ACKNOWLEDGED: Style("#1d4ed8", "#ffffff", "acknowledged"),
    HEALTHY: Style("#dcfce7", "#14532d", "healthy"),
    UNKNOWN: Style("#ffffff", "#4b5563", "not in the config"),
}
"""Every status a node can have. An open (unacknowledged) incident wins over an acknowledged
one, and the highest priority among the open ones names the status."""

DIMMED = Style("#f3f4f6", "#4b5563", "outside the blast radius")
"""A node outside the blast radius being shown: grey, its status still in its label."""
FOCUS_EDGE = "#b42318"
PLAIN_EDGE = "#4b5563"
DIM_EDGE = "#c4c8cf"
FONT = "Helvetica,Arial,sans-serif"


@dataclass(frozen=True)
class GraphService:
    name: str
    team: str
    depends_on: tuple[str, ...]
    status: str
    """A key of `STYLES`: see `status_of`."""


@dataclass(frozen=True)
class LegendEntry:
    status: str
    fill: str
    font: str
    words: str


def status_of(incidents: Iterable[tuple[str, str | None]]) -> str:
    """A service's status from its unresolved incidents as (status, priority): the highest
    priority among the triggered ones, else acknowledged, else healthy."""
    open_priorities: list[str] = []
    acknowledged = False
    for status, priority in incidents:
        if status == "triggered":
            open_priorities.append(priority if priority in PRIORITIES else "open")
        elif status == "acknowledged":
            acknowledged = True
    if open_priorities:
        ranked = [p for p in PRIORITIES if p in open_priorities]
        return ranked[0] if ranked else "open"
    return ACKNOWLEDGED if acknowledged else HEALTHY


def blast_radius(services: Iterable[GraphService], root: str) -> frozenset[str]:
    """`root` and every service that depends on it, directly or through others: what an
    incident of `root` can take down with it."""
    dependents: dict[str, set[str]] = {}
    for s in services:
        for dep in s.depends_on:
            dependents.setdefault(dep, set()).add(s.name)
    found = {root}
    todo = [root]
    while todo:
        for nxt in dependents.get(todo.pop(), ()):
            if nxt not in found:
                found.add(nxt)
                todo.append(nxt)
    return frozenset(found)


def legend(statuses: Iterable[str] | None = None) -> list[LegendEntry]:
    """The legend rows, in order of severity; only `statuses` if given."""
    wanted = None if statuses is None else set(statuses)
    return [
        LegendEntry(key, st.fill, st.font, st.words)
        for key, st in STYLES.items()
        if key != "open" and (wanted is None or key in wanted)
    ]


def service_url(name: str) -> str:
    return "/services/" + quote(name, safe="")


def _node_attrs(name: str, team: str, status: str, focus: frozenset[str] | None
                ) -> dict[str, str]:
    style = STYLES[status]
    inside = focus is None or name in focus
    shown = style if inside else DIMMED
    words = style.words + ("" if focus is None else
                           (", in the blast radius" if inside else ", outside the blast radius"))
    owner = f", team {team}" if team else ""
    classes = ["service", f"status-{status}"]
    if focus is not None:
        classes.append("blast" if inside else "dimmed")
    attrs = {
        "id": f"svc-{name}",
        "class": " ".join(classes),
        "label": f"{name}\n{style.words}",
        "tooltip": f"{name} {words}{owner}",  # begins with the label, as it reads
        "fillcolor": shown.fill,
        "fontcolor": shown.font,
        "color": "#1f2328" if inside else "#8c939d",
        "penwidth": "3" if focus is not None and inside else "1",
        "style": "filled,rounded" if inside else "filled,rounded,dashed",
    }
    if status != UNKNOWN:
        attrs["URL"] = service_url(name)
    return attrs


def dot_source(
    services: Iterable[GraphService],
    *,
    team: str | None = None,
    focus: frozenset[str] | None = None,
    rankdir: str = "TB",
) -> str:
    """DOT for the services (only `team`'s if given), clustered by owner team, each node
    linking to its page; with `focus`, those nodes stand out and the rest are dimmed."""
    every = sorted(services, key=lambda s: s.name)
    known = {s.name for s in every}
    shown = [s for s in every if team is None or s.team == team]
    names = {s.name for s in shown}
    g = graphviz.Digraph(
        "services",
        graph_attr={"rankdir": rankdir, "fontname": FONT, "nodesep": "0.3", "ranksep": "0.6",
                    "bgcolor": "#ffffff", "compound": "true"},
        node_attr={"shape": "box", "fontname": FONT, "fontsize": "12", "margin": "0.12,0.06"},
        edge_attr={"color": PLAIN_EDGE, "arrowsize": "0.7"},
    )
    by_team: dict[str, list[GraphService]] = {}
    for s in shown:
        by_team.setdefault(s.team, []).append(s)
    for owner in sorted(by_team):
        with g.subgraph(name=f"cluster_team_{owner}") as c:
            c.attr(label=f"team {owner}", id=f"team-{owner}", fontname=FONT, fontsize="13",
                   style="rounded,filled", fillcolor="#f8f9fa", color="#8c939d",
                   fontcolor="#1f2328")
            for s in by_team[owner]:
                c.node(s.name, **_node_attrs(s.name, s.team, s.status, focus))
    missing = sorted({d for s in shown for d in s.depends_on if d not in known})
    for name in missing:
        g.node(name, **_node_attrs(name, "", UNKNOWN, focus))
    for s in shown:
        for dep in sorted(set(s.depends_on)):
            if dep not in names and dep in known:
                continue  # another team's service, filtered out
            hot = focus is not None and s.name in focus and dep in focus
            colour = FOCUS_EDGE if hot else (PLAIN_EDGE if focus is None else DIM_EDGE)
            g.edge(s.name, dep, color=colour, penwidth="2.5" if hot else "1")
    source: str = g.source
    return source
