"""The public page: one document that reads without scripts, at phone width, with every piece
of author and responder text escaped."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from oncall.statuspages import render_html

from .pageviews import HOSTILE, sample_view


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    return parser


def test_hostile_text_is_escaped_everywhere() -> None:
    html = render_html.render(sample_view())
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>now</b>" not in html and "&lt;b&gt;now&lt;/b&gt;" in html
    assert "<status>" not in html  # the page title
    assert "Browsing &amp; &lt;em&gt;product&lt;/em&gt; pages" in html  # a description
    parsed = _parse(html)
    assert [t for t, _ in parsed.tags if t in {"script", "b", "status", "img", "iframe"}] == []
    assert HOSTILE in "".join(parsed.text)  # shown to the reader as text


def test_a_hostile_attribute_cannot_break_out() -> None:
    view = sample_view()
    evil = 'x" onmouseover="alert(1)'
    view = replace(view, components=(replace(view.components[0], name=evil),))
    html = render_html.render(view)
    assert 'onmouseover="' not in html
    assert all("onmouseover" not in attrs for _, attrs in _parse(html).tags)


def test_the_page_fits_a_phone_and_needs_no_script() -> None:
    html = render_html.render(sample_view())
    tags = _parse(html).tags
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in tags
    assert not any(t == "script" or (t == "link" and a.get("rel") == "stylesheet")
                   for t, a in tags)
    assert "<style>" in html


def test_sections_show_what_a_reader_looks_for() -> None:
    html = render_html.render(sample_view())
    text = " ".join(_parse(html).text)
    for expected in ("Partial System Outage", "Maintenance in progress", "Current notices",
                     "Scheduled maintenance", "Past notices", "Search slow", "Partial outage",
                     "Under maintenance", "Checkout & payments"):
        assert expected in text, expected
    assert text.index("Current notices") < text.index("Components") < text.index("Past notices")


def test_each_component_has_ninety_day_blocks_with_date_and_uptime() -> None:
    html = render_html.render(sample_view())
    bars = re.findall(r'<div class="bars"[^>]*>(.*?)</div>', html)
    assert len(bars) == 4
    for row in bars:
        assert row.count("<span ") == 90
    checkout = bars[2]
    assert 'class="b-major_outage" title="2026-11-22: 91.67% uptime, major outage"' in checkout
    assert checkout.endswith('<span class="b-partial_outage" title="2026-11-25: 98.75% uptime, '
                             'partial outage"></span>')
    assert 'title="2026-11-24: 100.00% uptime"' in checkout


@pytest.mark.parametrize("href", ["/status/northwind-status/feed.atom",
                                  "/status/northwind-status/api/v2/summary.json"])
def test_links_to_the_feed_and_the_json(href: str) -> None:
    hrefs = [a.get("href") for t, a in _parse(render_html.render(sample_view())).tags
             if t in {"a", "link"}]
    assert href in hrefs


def test_no_past_notices_says_so() -> None:
    html = render_html.render(replace(sample_view(), past_notices=()))
    assert "No notices in the last 15 days." in html


def test_a_page_taking_email_subscribers_shows_a_plain_form() -> None:
    assert "<form" not in render_html.render(sample_view())
    html = render_html.render(sample_view(), subscribe=True)
    tags = _parse(html).tags
    forms = [a for t, a in tags if t == "form"]
    assert [(f.get("method"), f.get("action")) for f in forms] == [
        ("post", "/status/northwind-status/subscribe")]
    inputs = [a for t, a in tags if t == "input"]
    assert (inputs[0].get("name"), inputs[0].get("type")) == ("email", "email")
    boxes = [i.get("value") for i in inputs if i.get("type") == "checkbox"]
    assert boxes == ["Website", "Search", "Checkout & payments", HOSTILE]  # escaped, as text
    assert "<script" not in html and "script" not in [t for t, _ in tags]
    assert "form-action 'self'" in render_html.CONTENT_SECURITY_POLICY  # the form may post
