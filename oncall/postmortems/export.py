"""A postmortem to take away: Markdown to commit into a repository, and a printable page.

The printable page renders the same Markdown with markdown-it in CommonMark mode with raw
HTML off, so a body or a note holding `<script>` prints as text, and links other than http,
https and mailto are dropped by markdown-it's own link check.
"""

from __future__ import annotations

from html import escape

from markdown_it import MarkdownIt

from oncall.core.postmortem import ActionItem, Document, render_markdown
from oncall.postmortems.service import View

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

PRINT_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
       padding: 0 1rem; color: #111; }
h1 { font-size: 1.7rem; } h2 { font-size: 1.25rem; margin-top: 2rem;
       border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left;
         vertical-align: top; }
code { font-size: 0.9em; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } }
"""


def document(v: View) -> Document:
    pm = v.postmortem
    return Document(
        id=pm.id, title=pm.title, status=pm.status, severity=pm.severity, owner=pm.owner,
        incidents=pm.incidents, figures=v.figures, timeline=v.timeline,
        items=[ActionItem(i.id, i.title, i.owner, i.status, i.due_on, i.url)
               for i in pm.items],
        body=pm.body, updated_at=pm.updated_at, published_at=pm.published_at)


def markdown(v: View) -> str:
    return render_markdown(document(v))


def filename(v: View) -> str:
    """`postmortem-12-checkout-errors.md`: the id, then the title's words."""
    words = "".join(c if c.isalnum() else "-" for c in v.postmortem.title.lower()).split("-")
    slug = "-".join(w for w in words if w)[:60].rstrip("-")
    return f"postmortem-{v.postmortem.id}" + (f"-{slug}" if slug else "") + ".md"


def printable(v: View) -> str:
    """A whole HTML page for the browser's print dialog (no script, no outside resources)."""
    body = _MD.render(markdown(v))
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(v.postmortem.title)} · postmortem</title>"
        f"<style>{PRINT_CSS}</style></head><body>{body}</body></html>")
