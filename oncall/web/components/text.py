"""User- and sender-written Markdown on a page: the one way to render it."""

from __future__ import annotations

from typing import Any

import reflex as rx

MARKDOWN_CLASS = "user-markdown"


def markdown(source: Any) -> rx.Component:
    """Render `source` (already passed through `sanitize.markdown` by the state) as Markdown.

    Raw HTML in the source is shown as text, never turned into elements (no rehype-raw), and
    react-markdown drops link targets that are not http, https, mailto or relative. Math
    (remark-math, KaTeX) is off: `$` in an incident note is a dollar sign.
    """
    component: rx.Component = rx.markdown(
        source, use_raw=False, use_math=False, use_katex=False, class_name=MARKDOWN_CLASS
    )
    return component
