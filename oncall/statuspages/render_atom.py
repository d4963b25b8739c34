"""A page's notices as an Atom feed, shaped like Statuspage's `history.atom`: one entry per
notice, its content every update newest first, its `updated` the notice's last change. Feed
readers then show one item per incident that is marked unread again when it is updated,
rather than a stream of loose updates.

Built with ElementTree, so whatever text a notice holds the XML stays well-formed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from markupsafe import Markup

from oncall.statuspages.render_json import page_url, stable_id
from oncall.statuspages.view import NoticeView, PageView

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_STATUS = {"investigating": "Investigating", "identified": "Identified",
           "monitoring": "Monitoring", "resolved": "Resolved"}


def _when(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        element.text = text
    return element


def _content(n: NoticeView) -> str:
    """The updates as HTML (escaped here, then escaped again as XML text by ElementTree)."""
    return "".join(
        str(Markup("<p><small>{}</small><br><strong>{}</strong> - {}</p>").format(
            u.created_at.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC"),
            _STATUS.get(u.status, u.status), u.body))
        for u in n.updates)


def render(view: PageView, base_url: str) -> bytes:
    """The feed document, UTF-8 with its XML declaration."""
    ET.register_namespace("", ATOM)
    url = page_url(base_url, view.name)
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: "en"})
    _sub(feed, "id", f"{url}/feed.atom")
    _sub(feed, "title", f"{view.title} status history")
    _sub(feed, "updated", _when(view.updated_at))
    _sub(feed, "link", rel="alternate", type="text/html", href=url)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{url}/feed.atom")
    author = _sub(feed, "author")
    _sub(author, "name", view.title)
    for n in view.notices:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"urn:oncall:status:{stable_id('page', view.name)}:notice:{n.id}")
        _sub(entry, "published", _when(n.created_at))
        _sub(entry, "updated", _when(n.updated_at))
        _sub(entry, "link", rel="alternate", type="text/html", href=f"{url}#incident-{n.id}")
        _sub(entry, "title", n.title)
        _sub(entry, "content", _content(n), type="html")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
