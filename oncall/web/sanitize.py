"""Text that people and alert senders wrote, made safe before it is sent to a browser.

Markdown (notes, incident descriptions) is rendered by `components.text.markdown`, which never
turns HTML in the source into elements (no rehype-raw). As a second, independent layer the source
itself is checked here: Markdown that contains anything HTML-like (a tag, comment, declaration or
autolink other than http/https/mailto, also entity-encoded) or a link whose scheme is not http,
https or mailto is sent as plain text: every Markdown punctuation character is backslash-escaped,
so the reader sees exactly what was typed and nothing of it is interpreted. Links shown outside
Markdown (alert sources, runbooks) go through `safe_url`.
"""

from __future__ import annotations

import html
import re

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
_HTML_LIKE = re.compile(r"<[A-Za-z!?/]")
_SAFE_AUTOLINK = re.compile(r"<(?:https?|mailto):[^\s<>\"'`]*>", re.IGNORECASE)
_LINK_TARGET = re.compile(
    r"\]\s*\(\s*<?([^\s)>]*)"  # [text](target) and ![alt](target)
    r"|^[ \t]{0,3}\[[^\]]*\]:\s*<?(\S*)",  # [label]: target
    re.MULTILINE,
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20\x7f]+")
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def url_is_safe(url: str) -> bool:
    """Relative, or http/https/mailto: what a browser would do, after entities and the
    whitespace and control characters browsers drop from URLs."""
    cleaned = _IGNORED_IN_URLS.sub("", html.unescape(url))
    scheme = _SCHEME.match(cleaned)
    return scheme is None or scheme.group(1).lower() in SAFE_SCHEMES


def safe_url(url: str | None) -> str:
    """`url` if a link to it is safe to render, else the empty string."""
    return url if url and url_is_safe(url) else ""


def is_plain_markdown(source: str) -> bool:
    """No HTML and no unsafe link anywhere in `source` (raw or after decoding entities)."""
    decoded = html.unescape(source)
    for text in (source, decoded):
        if _HTML_LIKE.search(_SAFE_AUTOLINK.sub("", text)):
            return False
    for text in (source, decoded):
        for found in _LINK_TARGET.finditer(text):
            if not url_is_safe(found.group(1) or found.group(2) or ""):
                return False
    return True


def as_plain_text(source: str) -> str:
    """Markdown source that renders as `source`, character for character, with nothing in it
    interpreted (no HTML, links, emphasis or entities)."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", source)


def markdown(source: str | None) -> str:
    """Markdown safe to send to `components.text.markdown`: `source` unchanged when it is
    ordinary Markdown, else the same text as plain text."""
    if not source:
        return ""
    return source if is_plain_markdown(source) else as_plain_text(source)
