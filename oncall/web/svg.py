"""Graphviz's SVG, cut down to what `dot` draws before it is put into a page as markup.

The page inserts the graph as raw markup (`rx.html`), so it is treated like anything else sent
to a browser: parsed, and rebuilt from an allow-list of the elements and attributes `dot` emits
for a graph (shapes, text, groups, titles, links). Anything else (a script, a foreignObject, an
event-handler attribute, a style, a link that is not to a page of this app) is dropped, and
every text and attribute value is escaped again on the way out.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

_SHAPE = frozenset({"fill", "stroke", "stroke-width", "stroke-dasharray", "fill-opacity",
                    "stroke-opacity", "transform", "id", "class"})
ALLOWED: dict[str, frozenset[str]] = {
    "svg": frozenset({"viewBox"}),
    "g": frozenset({"id", "class", "transform"}),
    "title": frozenset(),
    "a": frozenset(),  # the link is rebuilt from xlink:href, below
    "polygon": _SHAPE | {"points"},
    "polyline": _SHAPE | {"points"},
    "path": _SHAPE | {"d"},
    "ellipse": _SHAPE | {"cx", "cy", "rx", "ry"},
    "text": frozenset({"text-anchor", "x", "y", "font-family", "font-size", "font-weight",
                       "font-style", "fill", "id", "class"}),
}
"""Each element `dot -Tsvg` writes for a graph, with the attributes kept on it."""

LINK = re.compile(r"^/services/[a-z0-9-]{1,63}$")
"""The only links a node may carry: a service's page of this app (service names are
`[a-z0-9-]{1,63}` in the config)."""
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)pt$")


@dataclass(frozen=True)
class CleanSvg:
    markup: str
    width_pt: float
    height_pt: float


class NotAGraph(ValueError):
    """The text is not an SVG drawing as `dot` writes one."""


def _local(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, name = tag[1:].partition("}")
        return ns, name
    return "", tag


def _attr(name: str, value: str) -> str:
    return f' {name}="{html.escape(value, quote=True)}"'


def _size(value: str | None) -> float:
    found = _SIZE.match(value or "")
    return float(found.group(1)) if found else 0.0


def _emit(el: ET.Element, out: list[str]) -> None:
    ns, name = _local(el.tag)
    if ns != SVG_NS or name not in ALLOWED:
        return  # and everything inside it
    attrs: list[str] = []
    for key, value in sorted(el.attrib.items()):
        a_ns, a_name = _local(key)
        if a_ns == "" and a_name in ALLOWED[name]:
            attrs.append(_attr(a_name, value))
    if name == "a":
        href = el.attrib.get(f"{{{XLINK_NS}}}href", "")
        title = el.attrib.get(f"{{{XLINK_NS}}}title", "")
        if LINK.match(href):
            attrs.append(_attr("href", href))
            if title:
                attrs.append(_attr("aria-label", title))
        else:
            name = "g"  # keep the drawing, not the link
    out.append(f"<{name}{''.join(attrs)}>")
    if el.text:
        out.append(html.escape(el.text, quote=False))
    for child in el:
        _emit(child, out)
        # a line break between elements, as dot writes it: the text of a node's lines
        # reads as words ("catalog-api P1 incident open"), not run together
        out.append(html.escape(child.tail, quote=False) if child.tail and child.tail.strip()
                   else "\n")
    out.append(f"</{name}>")


def clean(svg: str, label: str) -> CleanSvg:
    """`svg` (dot's output) as markup safe to insert, named `label` for assistive technology;
    its size in points, so the page can scale it."""
    start = svg.find("<svg")
    if start < 0:
        raise NotAGraph("no <svg> element")
    try:
        root = ET.fromstring(svg[start:])
    except ET.ParseError as exc:
        raise NotAGraph(str(exc)) from exc
    if root.tag != f"{{{SVG_NS}}}svg":
        raise NotAGraph("the root element is not <svg>")
    out: list[str] = []
    for child in root:
        _emit(child, out)
    head = (
        f'<svg xmlns="{SVG_NS}"'
        + _attr("viewBox", root.attrib.get("viewBox", ""))
        + _attr("role", "group")
        + _attr("aria-label", label)
        + ">"
    )
    return CleanSvg(head + "".join(out) + "</svg>", _size(root.attrib.get("width")),
                    _size(root.attrib.get("height")))
