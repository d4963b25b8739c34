"""Running `dot`: the drawing, its sanitising, the cache, and what a missing `dot` says.

These need Graphviz's `dot` (`make graphviz`); under CI=true a missing `dot` fails instead of
skipping, so the graph is never shipped untested.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import graphviz  # type: ignore[import-untyped]
import pytest

from oncall.web import graph, graph_render, svg
from oncall.web.graph import GraphService

from .test_graph import CHAIN, SMALL


@pytest.fixture(autouse=True)
def needs_dot() -> Iterator[None]:
    if shutil.which("dot") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Graphviz `dot` is missing and CI=true: run `make graphviz`")
        pytest.skip("Graphviz `dot` is not installed")
    graph_render.clear_cache()
    yield
    graph_render.clear_cache()


def test_one_node_per_service_linking_to_its_page() -> None:
    drawn = graph_render.render(graph.dot_source(SMALL), "Dependency graph of 3 services")
    markup = drawn.markup
    assert markup.startswith('<svg xmlns="http://www.w3.org/2000/svg" viewBox=')
    assert 'role="group" aria-label="Dependency graph of 3 services"' in markup
    assert markup.count('class="node service') == 4  # web, api, db and the unknown ghost
    for name in ("web", "api", "db"):
        assert f'href="/services/{name}"' in markup
    assert 'href="/services/ghost"' not in markup  # not a service: no page to open
    assert 'aria-label="api P2 incident open, team shop"' in markup
    # the link's name begins with its visible text, the label's lines apart as words
    assert re.search(r">api</text>\s+<text[^>]*>P2 incident open</text>", markup)
    assert markup.count('class="edge"') == 3
    assert "xlink" not in markup and "<!--" not in markup and "<?xml" not in markup
    assert drawn.width_pt > 0 and drawn.height_pt > 0


def test_the_cache_runs_dot_once_per_source(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []
    real = graph_render._run_dot

    def counting(source: str, timeout: float) -> str:
        runs.append(source)
        return real(source, timeout)

    monkeypatch.setattr(graph_render, "_run_dot", counting)
    source = graph.dot_source(SMALL)
    first = graph_render.render(source, "g")
    assert graph_render.render(source, "g") is first
    graph_render.render(graph.dot_source(SMALL, team="shop"), "g")
    assert len(runs) == 2


def test_a_missing_dot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(graph_render.GraphUnavailable, match="Graphviz is not installed"):
        graph_render.render(graph.dot_source(SMALL), "g")


def test_a_layout_past_its_time_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: Any, **kwargs: Any) -> Any:
        raise subprocess.TimeoutExpired(["dot"], kwargs["timeout"])

    monkeypatch.setattr(graph_render.execute, "run_check", slow)
    with pytest.raises(graph_render.GraphUnavailable, match=r"longer than 0\.5 s"):
        graph_render.render(graph.dot_source(SMALL), "g", timeout=0.5)


def test_broken_dot_source_is_an_error_not_a_crash() -> None:
    with pytest.raises(graph_render.GraphUnavailable, match="could not draw"):
        graph_render.render("digraph { a -> }", "g")


def bench_services(n: int = 200, edges: int = 400) -> list[GraphService]:
    """`n` services of four teams joined by `edges` dependencies on earlier ones, as
    bench/ui.py makes them."""
    pick = random.Random(7)
    teams = ("payments", "platform", "data", "storefront")
    pairs = sorted({(a, pick.randrange(a)) for a in range(1, n) for _ in range(3)})[:edges]
    needs: dict[int, list[str]] = {}
    for a, b in pairs:
        needs.setdefault(a, []).append(f"bench-svc-{b:03d}")
    statuses = ["healthy"] * 8 + ["P1", "P3", "acknowledged"]
    return [GraphService(f"bench-svc-{i:03d}", teams[i % 4], tuple(needs.get(i, [])),
                         pick.choice(statuses)) for i in range(n)]


def test_200_services_and_400_edges_lay_out_well_under_a_second() -> None:
    services = bench_services()
    assert sum(len(s.depends_on) for s in services) == 400
    source = graph.dot_source(services, rankdir="LR")
    started = time.perf_counter()
    drawn = graph_render.render(source, "g")
    took = time.perf_counter() - started
    assert drawn.markup.count('class="node service') == 200
    assert took < 1.0, f"laying out 200 services took {took:.2f} s"
    started = time.perf_counter()
    graph_render.render(source, "g")
    assert time.perf_counter() - started < 0.01  # cached


SNEAKY = """<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY x "boom">]>
<svg width="10pt" height="20pt" viewBox="0 0 10 20" onload="alert(1)"
 xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
<script>alert(2)</script>
<g id="graph0" class="graph" onclick="alert(3)" style="background:url(x)">
<title>&lt;img src=x&gt;</title>
<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>
<a xlink:href="javascript:alert(5)" xlink:title="t"><text x="1" y="2">evil</text></a>
<a xlink:href="https://evil.example/"><text>away</text></a>
<a xlink:href="/services/web" xlink:title="web &quot;&gt;&lt;script&gt;"><text x="1">web</text></a>
<image href="https://evil.example/x.png"/>
<text x="1" y="2" fill="red" onmouseover="alert(6)">ok &lt;b&gt;</text>
</g>
</svg>"""


def test_the_sanitiser_keeps_the_drawing_and_nothing_else() -> None:
    clean = svg.clean(SNEAKY, "label").markup
    for bad in ("onload", "onclick", "onmouseover", "<script", "foreignObject",
                "javascript:", "evil.example", "<image", "style=", "<div", "xlink", "<img"):
        assert bad not in clean, bad
    assert '<a href="/services/web" aria-label="web &quot;&gt;&lt;script&gt;">' in clean
    assert "<title>&lt;img src=x&gt;</title>" in clean  # the title's text, escaped again
    assert '<text fill="red" x="1" y="2">ok &lt;b&gt;</text>' in clean
    assert '<g class="graph" id="graph0">' in clean
    assert svg.clean(SNEAKY, "l").width_pt == 10.0 and svg.clean(SNEAKY, "l").height_pt == 20.0


@pytest.mark.parametrize("text", ["", "not svg", "<svg><g></svg>", "<html></html>",
                                  '<svg xmlns="http://example.com/other"></svg>'])
def test_the_sanitiser_refuses_what_is_not_a_graph(text: str) -> None:
    with pytest.raises(svg.NotAGraph):
        svg.clean(text, "l")


def test_graphviz_quoting_survives_the_round_trip() -> None:
    """A label with markup characters is text in the drawing, never an element."""
    g = graphviz.Digraph()
    g.node("n", label='<script>alert(1)</script> & "q"', URL="/services/n")
    markup = graph_render.render(g.source, "g").markup
    assert "<script" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt; &amp;" in markup


def test_the_blast_radius_is_drawn_highlighted() -> None:
    source = graph.dot_source(CHAIN, focus=graph.blast_radius(CHAIN, "db"))
    markup = graph_render.render(source, "g").markup
    assert markup.count('class="node service status-healthy blast"') == 4
    assert markup.count("dimmed") == 4
