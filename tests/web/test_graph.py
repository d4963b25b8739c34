"""The dependency graph's DOT: statuses, blast radius, colours, clusters, filter, escaping."""

from __future__ import annotations

import pytest

from oncall.web import graph
from oncall.web.graph import GraphService
from oncall.web.state.services import next_zoom, parse_incident_id

SMALL = [
    GraphService("web", "shop", ("api",), "healthy"),
    GraphService("api", "shop", ("db", "ghost"), "P2"),
    GraphService("db", "infra", (), "acknowledged"),
]

GOLDEN = """digraph services {
\tgraph [bgcolor="#ffffff" compound=true fontname="Helvetica,Arial,sans-serif" nodesep=0.3 \
rankdir=TB ranksep=0.6]
\tnode [fontname="Helvetica,Arial,sans-serif" fontsize=12 margin="0.12,0.06" shape=box]
\tedge [arrowsize=0.7 color="#4b5563"]
\tsubgraph cluster_team_infra {
\t\tcolor="#8c939d" fillcolor="#f8f9fa" fontcolor="#1f2328" \
fontname="Helvetica,Arial,sans-serif" fontsize=13 id="team-infra" label="team infra" \
style="rounded,filled"
\t\tdb [label="db
acknowledged" URL="/services/db" class="service status-acknowledged" color="#1f2328" \
fillcolor="#1d4ed8" fontcolor="#ffffff" id="svc-db" penwidth=1 style="filled,rounded" \
tooltip="db acknowledged, team infra"]
\t}
\tsubgraph cluster_team_shop {
\t\tcolor="#8c939d" fillcolor="#f8f9fa" fontcolor="#1f2328" \
fontname="Helvetica,Arial,sans-serif" fontsize=13 id="team-shop" label="team shop" \
style="rounded,filled"
\t\tapi [label="api
P2 incident open" URL="/services/api" class="service status-P2" color="#1f2328" \
fillcolor="#c2410c" fontcolor="#ffffff" id="svc-api" penwidth=1 style="filled,rounded" \
tooltip="api P2 incident open, team shop"]
\t\tweb [label="web
healthy" URL="/services/web" class="service status-healthy" color="#1f2328" \
fillcolor="#dcfce7" fontcolor="#14532d" id="svc-web" penwidth=1 style="filled,rounded" \
tooltip="web healthy, team shop"]
\t}
\tghost [label="ghost
not in the config" class="service status-unknown" color="#1f2328" fillcolor="#ffffff" \
fontcolor="#4b5563" id="svc-ghost" penwidth=1 style="filled,rounded" \
tooltip="ghost not in the config"]
\tapi -> db [color="#4b5563" penwidth=1]
\tapi -> ghost [color="#4b5563" penwidth=1]
\tweb -> api [color="#4b5563" penwidth=1]
}
"""


def test_golden_dot_of_a_small_config() -> None:
    assert graph.dot_source(SMALL) == GOLDEN


@pytest.mark.parametrize(
    ("incidents", "status"),
    [
        ([], "healthy"),
        ([("acknowledged", "P1")], "acknowledged"),
        ([("triggered", "P3"), ("acknowledged", "P1")], "P3"),
        ([("triggered", "P3"), ("triggered", "P1"), ("triggered", "P2")], "P1"),
        ([("triggered", None)], "open"),
        ([("triggered", None), ("triggered", "P4")], "P4"),
        ([("resolved", "P1")], "healthy"),
    ],
)
def test_status_of(incidents: list[tuple[str, str | None]], status: str) -> None:
    assert graph.status_of(incidents) == status


CHAIN = [
    GraphService("web", "shop", ("api", "cdn"), "healthy"),
    GraphService("mobile", "shop", ("api",), "healthy"),
    GraphService("api", "shop", ("db",), "healthy"),
    GraphService("db", "infra", ("k8s",), "healthy"),
    GraphService("k8s", "infra", (), "healthy"),
    GraphService("cdn", "infra", (), "healthy"),
    GraphService("a", "x", ("b",), "healthy"),
    GraphService("b", "x", ("a",), "healthy"),  # a cycle ends
]


@pytest.mark.parametrize(
    ("root", "radius"),
    [
        ("k8s", {"k8s", "db", "api", "web", "mobile"}),
        ("api", {"api", "web", "mobile"}),
        ("cdn", {"cdn", "web"}),
        ("web", {"web"}),
        ("a", {"a", "b"}),
        ("missing", {"missing"}),
    ],
)
def test_blast_radius_is_everything_that_depends_on_the_root(root: str, radius: set[str]
                                                              ) -> None:
    assert graph.blast_radius(CHAIN, root) == radius


def test_focus_highlights_the_radius_and_dims_the_rest() -> None:
    source = graph.dot_source(CHAIN, focus=graph.blast_radius(CHAIN, "api"))
    for name in ("api", "web", "mobile"):
        assert 'class="service status-healthy blast"' in _node_line(source, name)
        assert "penwidth=3" in _node_line(source, name)
    for name in ("db", "k8s", "cdn"):
        line = _node_line(source, name)
        assert "dimmed" in line and graph.DIMMED.fill in line and "dashed" in line
        assert "outside the blast radius" in line
    assert f'web -> api [color="{graph.FOCUS_EDGE}" penwidth=2.5]' in source
    assert f'api -> db [color="{graph.DIM_EDGE}" penwidth=1]' in source


def _node_line(source: str, name: str) -> str:
    start = source.index(f"\t{name} [")
    return source[start:source.index("]", start)]


def test_team_filter_keeps_one_cluster_and_its_own_edges() -> None:
    source = graph.dot_source(CHAIN, team="infra")
    assert "cluster_team_infra" in source and "cluster_team_shop" not in source
    assert "\tweb [" not in source and "\tapi [" not in source
    assert "db -> k8s" in source and "api -> db" not in source


def test_names_are_quoted_by_graphviz() -> None:
    hostile = [GraphService('x" URL="javascript:alert(1)', "t", ('y"]; z [', ), "healthy")]
    source = graph.dot_source(hostile)
    assert 'URL="javascript' not in source.replace('\\"', "")
    assert '"x\\" URL=\\"javascript:alert(1)"' in source
    assert "/services/x%22%20URL%3D%22javascript%3Aalert%281%29" in source


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize(
    "style", [*graph.STYLES.values(), graph.DIMMED], ids=[*graph.STYLES, "dimmed"])
def test_every_label_passes_wcag_aa_contrast_on_its_fill(style: graph.Style) -> None:
    assert contrast(style.fill, style.font) >= 4.5


def test_contrast_helper_agrees_with_wcag() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0
    assert round(contrast("#777777", "#ffffff"), 2) == 4.48


def test_legend_names_every_status_once_in_words() -> None:
    entries = graph.legend()
    assert [e.status for e in entries] == ["P1", "P2", "P3", "P4", "P5", "acknowledged",
                                           "healthy", "unknown"]
    assert all(e.words for e in entries)
    assert [e.status for e in graph.legend({"P1", "healthy"})] == ["P1", "healthy"]


@pytest.mark.parametrize(
    ("current", "step", "zoom"),
    [(100, 1, 150), (100, -1, 75), (400, 1, 400), (25, -1, 25), (110, -1, 100), (110, 1, 150)],
)
def test_next_zoom(current: int, step: int, zoom: int) -> None:
    assert next_zoom(current, step) == zoom


@pytest.mark.parametrize(
    ("raw", "found"),
    [("12", 12), ("#12", 12), (" 7 ", 7), ("", None), (None, None), ("x1", None),
     ("-3", None), ("1" * 20, None)],
)
def test_parse_incident_id(raw: object, found: int | None) -> None:
    assert parse_incident_id(raw) == found
