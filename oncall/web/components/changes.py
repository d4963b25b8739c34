"""Recent change events (deploys, flag flips) as a compact list: on a service and on an
incident, newest first, so a responder sees what changed just before things broke."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web import format, sanitize
from oncall.web.queries import RecentChange


def rows(changes: list[RecentChange], tz: str) -> list[dict[str, Any]]:
    """State rows: text ready to show, only links that are safe to render."""
    out: list[dict[str, Any]] = []
    for c in changes:
        links = [{"href": href, "text": str(link.get("text") or href)}
                 for link in c.links
                 if (href := sanitize.safe_url(str(link.get("href") or "")))]
        out.append({"summary": c.summary, "source": c.source or "",
                    "integration": c.integration, "at": format.when(c.occurred_at, tz),
                    "iso": c.occurred_at.isoformat(), "links": links})
    return out


def _link(link: Any) -> rx.Component:
    return rx.link(link["text"], href=link["href"], size="1", is_external=True)


def _change(c: Any) -> rx.Component:
    return rx.box(
        rx.text(rx.text.strong(c["summary"]), size="2"),
        rx.text(c["at"], " · ", c["integration"],
                rx.cond(c["source"] != "", rx.text.span(" · ", c["source"])),
                size="1", color_scheme="gray"),
        rx.flex(rx.foreach(c["links"].to(list[dict[str, str]]), _link), spacing="2",
                wrap="wrap"),
        border_left="3px solid var(--gray-8)",
        padding_left="0.75em",
        width="100%",
        class_name="change-event",
    )


def listing(changes: Any, empty: str = "") -> rx.Component:
    """The change rows of `rows`; `empty` is shown when there are none ("" shows nothing)."""
    fallback = rx.text(empty, size="2", color_scheme="gray") if empty else rx.fragment()
    return rx.cond(
        changes.length() > 0,
        rx.vstack(rx.foreach(changes, _change), spacing="2", width="100%",
                  class_name="recent-changes"),
        fallback,
    )
