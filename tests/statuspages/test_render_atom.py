"""The Atom feed: well-formed whatever the notices say, one entry per notice, newest first."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from oncall.statuspages import render_atom

from .pageviews import BASE_URL, HOSTILE, sample_view

A = "{http://www.w3.org/2005/Atom}"


def _feed() -> ET.Element:
    return ET.fromstring(render_atom.render(sample_view(), BASE_URL))


def test_the_feed_parses_and_names_the_page() -> None:
    feed = _feed()
    assert feed.tag == f"{A}feed"
    assert feed.findtext(f"{A}title") == "Northwind <status> status history"
    links = {link.get("rel"): link.get("href") for link in feed.findall(f"{A}link")}
    assert links == {"alternate": f"{BASE_URL}/status/northwind-status",
                     "self": f"{BASE_URL}/status/northwind-status/feed.atom"}
    assert feed.findtext(f"{A}updated") == "2026-11-25T11:50:00+00:00"


def test_one_entry_per_notice_with_every_update() -> None:
    entries = _feed().findall(f"{A}entry")
    assert [e.findtext(f"{A}title") for e in entries] == [f"Checkout errors {HOSTILE}",
                                                           "Search slow"]
    current = entries[0]
    assert current.findtext(f"{A}updated") == "2026-11-25T11:50:00+00:00"
    link = current.find(f"{A}link")
    assert link is not None
    assert str(link.get("href")).endswith("/status/northwind-status#incident-7")
    content = current.find(f"{A}content")
    assert content is not None and content.get("type") == "html"
    html = content.text or ""
    assert html.index("Identified") < html.index("Investigating")  # newest first
    assert "&lt;b&gt;now&lt;/b&gt;" in html  # a responder's markup is text in the entry
    ids = [e.findtext(f"{A}id") for e in entries]
    assert len(set(ids)) == 2 and all(str(i).startswith("urn:oncall:status:") for i in ids)


def test_control_characters_and_markup_keep_it_well_formed() -> None:
    view = sample_view()
    notice = replace(view.open_notices[0], title="]]> <![CDATA[ & \"'")
    raw = render_atom.render(replace(view, open_notices=(notice,)), BASE_URL)
    entry = ET.fromstring(raw).find(f"{A}entry")
    assert entry is not None and entry.findtext(f"{A}title") == "]]> <![CDATA[ & \"'"
