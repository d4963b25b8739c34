"""The audit log for platform admins: filters, newest first, pages, and a CSV download."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page
from oncall.web.state.audit import AuditState as S

FILTERS = [
    ("actor", "Actor", "text", "e.g. lena.fischer or integration:"),
    ("action", "Action", "text", "e.g. incident. or schedule.override_created"),
    ("object_type", "Object type", "text", "e.g. incident, schedule, user"),
    ("object_name", "Object id or name", "text", "e.g. 42 or storefront-primary"),
    ("since", "From", "datetime-local", ""),
    ("until", "Until", "datetime-local", ""),
]


def _field(name: str, label: str, kind: str, hint: str) -> rx.Component:
    ident = f"audit-{name.replace('_', '-')}"
    return rx.vstack(
        rx.el.label(label, html_for=ident, font_size="0.85em"),
        rx.input(
            type=kind,
            value=getattr(S, name),
            on_change=lambda v: S.set_field(name, v),
            placeholder=hint,
            id=ident,
            aria_label=label,
            min_width="13em",
        ),
        spacing="1",
    )


def _filters() -> rx.Component:
    return rx.vstack(
        rx.flex(*[_field(*f) for f in FILTERS], spacing="3", wrap="wrap", align="end"),
        rx.flex(
            rx.button("Apply filters", on_click=S.apply_filters, id="audit-apply"),
            rx.button("Clear", on_click=S.clear_filters, variant="soft", id="audit-clear"),
            # a document request, not client-side routing: routes.router() serves the file
            rx.link("Download CSV", href=S.export_url, id="audit-export", download=True,
                    reload_document=True, size="3"),
            spacing="3",
            align="center",
            wrap="wrap",
        ),
        rx.text("Times in ", S.tz, "; newest first.", size="1"),
        spacing="2",
        width="100%",
    )


def _row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(r["at"], white_space="nowrap")),
        rx.table.cell(
            rx.vstack(rx.text(r["who"], weight="medium"), rx.text(r["actor"], size="1"),
                      spacing="0"),
        ),
        rx.table.cell(rx.code(r["action"])),
        rx.table.cell(rx.cond(r["link"] != "", rx.link(r["object"], href=r["link"]),
                              rx.text(r["object"]))),
        rx.table.cell(rx.text(r["details"], size="1", word_break="break-word")),
        class_name="audit-row",
        data_id=r["id"],
    )


def _log() -> rx.Component:
    return rx.vstack(
        _filters(),
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in (
                    "When", "Who", "Action", "Object", "Details")])),
                rx.table.body(rx.foreach(S.rows, _row)),
                width="100%",
                min_width="760px",
                id="audit-log",
            ),
            overflow_x="auto",
            width="100%",
            tab_index=0,  # scrolls sideways on a phone: reachable by keyboard
            role="region",
            aria_label="Audit events",
        ),
        rx.cond(S.rows.length() == 0, rx.text("No events match.", id="audit-empty")),
        rx.flex(
            rx.button("← Newer", on_click=S.newer, variant="soft", id="audit-newer",
                      disabled=S.page_number <= 1),
            rx.text("Page ", S.page_number, size="2", id="audit-page"),
            rx.button("Older →", on_click=S.older, variant="soft", id="audit-older",
                      disabled=~S.has_older),
            spacing="3",
            align="center",
        ),
        spacing="3",
        width="100%",
    )


def audit_page() -> rx.Component:
    return page(
        rx.cond(
            S.allowed,
            _log(),
            rx.cond(
                S.refused != "",
                rx.callout(S.refused, color_scheme="red", role="alert", id="audit-refused",
                           width="100%"),
            ),
        ),
        title="Audit log",
    )
