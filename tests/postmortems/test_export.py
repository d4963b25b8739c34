"""Exports: the Markdown file and the printable page, which never runs what a body holds."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.incidents.actors import Actor
from oncall.postmortems import export, service
from oncall.testing.incidents import open_incident

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MARCUS = Actor("user", "marcus.bell@northwind.example", {"payments": "responder"}, via="web")
HOSTILE = ("## Summary\n\n<script>alert(1)</script> <img src=x onerror=alert(2)>\n\n"
           "[click](javascript:alert(3)) and [ok](https://status.example/)\n")


def test_the_printable_page_shows_markup_as_text_and_drops_script_links(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with Session(applied_engine) as session, session.begin():
        incident = open_incident(session, service="checkout-api", title="Card <b>declines</b>",
                                 now=T0, page=False)
        conn = session.connection()
        pm = service.open_postmortem(conn, example_config, MARCUS, [incident], T0).id
        service.save(conn, MARCUS, pm, 1, T0, body=HOSTILE)
        view = service.view(conn, example_config, MARCUS, pm, T0)
    page = export.printable(view)
    assert "<script" not in page and "<img" not in page and 'href="javascript:' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<a href="https://status.example/">ok</a>' in page
    assert "<title>Card &lt;b&gt;declines&lt;/b&gt; · postmortem</title>" in page
    text = export.markdown(view)
    assert text.startswith("# Card <b>declines</b>\n") and HOSTILE.strip() in text
    assert export.filename(view) == f"postmortem-{pm}-card-b-declines-b.md"
