"""An incident's timeline: filter buttons with counts, then one `.timeline-entry` per entry of
`oncall.web.timeline` (a sentence with an icon and the time in the viewer's zone, the exact
UTC time on hover), its folded lines in a native `<details>`, a note as Markdown."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator, index"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web import timeline
from oncall.web.components import text

_TONES = {"ok": "var(--green-9)", "bad": "var(--red-9)", "wait": "var(--amber-9)"}


def icon(name: Any) -> rx.Component:
    """The entry's icon by name; the sentence says the same in words, so screen readers skip
    it."""
    return rx.match(
        name,
        *[(n, rx.icon(n, size=16, aria_hidden="true")) for n in sorted(timeline.ICONS)],
        rx.icon("circle", size=16, aria_hidden="true"),
    )


def _when(at: Any, utc: Any) -> rx.Component:
    return rx.el.time(at, title=utc, class_name="timeline-time")


def _line(line: Any) -> rx.Component:
    return rx.el.li(
        _when(line["at"], line["utc"]), " ", line["text"],
        class_name="timeline-line",
    )


def _entry(t: Any) -> rx.Component:
    lines = t["lines"].to(list[dict[str, str]])
    return rx.box(
        rx.flex(
            icon(t["icon"]),
            rx.text(_when(t["at"], t["utc"]), size="1", color_scheme="gray"),
            spacing="2",
            align="center",
        ),
        rx.cond(
            t["is_note"] != "",
            rx.box(
                rx.text(t["text"], size="2", weight="medium"),
                rx.box(text.markdown(t["note"]), class_name="timeline-note"),
            ),
            rx.cond(
                lines.length() > 0,
                rx.el.details(
                    rx.el.summary(t["text"], class_name="timeline-summary",
                                  style={"cursor": "pointer", "min_height": "24px",
                                         "font_size": "var(--font-size-2)"}),
                    rx.el.ul(rx.foreach(lines, _line), class_name="timeline-lines",
                             style={"margin": "0.25em 0 0 1.25em", "font_size": "0.85em"}),
                    class_name="timeline-fold",
                ),
                rx.text(t["text"], size="2", class_name="timeline-text"),
            ),
        ),
        border_left=rx.match(t["tone"], *[(k, f"3px solid {v}") for k, v in _TONES.items()],
                             "3px solid var(--accent-8)"),
        padding_left="0.75em",
        width="100%",
        class_name="timeline-entry",
        data_category=t["category"],
        data_kind=t["kind"],
        data_tone=t["tone"],
    )


def _filter(S: Any, f: Any) -> rx.Component:
    chosen = S.timeline_filter == f["name"]
    return rx.button(
        f["label"],
        rx.text.span(" (", f["count"], ")", class_name="timeline-count"),
        on_click=S.set_timeline_filter(f["name"]),
        variant=rx.cond(chosen, "solid", "soft"),
        aria_pressed=rx.cond(chosen, "true", "false"),
        size="2",
        min_height="44px",
        class_name="timeline-filter",
        data_filter=f["name"],
    )


def section(S: Any) -> rx.Component:
    """The filters and the entries they show."""
    return rx.vstack(
        rx.flex(rx.foreach(S.timeline_filters, lambda f: _filter(S, f)), spacing="2",
                wrap="wrap", role="group", aria_label="Show in the timeline",
                id="timeline-filters"),
        rx.cond(S.timeline.length() == 0,
                rx.text("Nothing of this kind yet.", size="2", color_scheme="gray")),
        rx.vstack(rx.foreach(S.timeline, _entry), spacing="2", width="100%", id="timeline"),
        spacing="2",
        width="100%",
    )
