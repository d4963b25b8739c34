"""Status pages in the app: the list, and one page with its notices and forms."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator, call-overload"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page, status_badge
from oncall.web.state.status import StatusPagesState as S


def _page_card(p: Any) -> rx.Component:
    return rx.card(
        rx.flex(
            status_badge(p["tone"]),
            rx.link(rx.heading(p["title"], size="3"), href="/status-pages/" + p["name"]),
            rx.text(p["description"], size="2"),
            rx.badge(p["visibility"], variant="soft", high_contrast=True),
            rx.cond(p["open"] != "0", rx.text(p["open"], " open notice(s)", size="2",
                                               color_scheme="gray")),
            rx.spacer(),
            rx.link("Public view", href=p["url"], size="2", is_external=True),
            spacing="3", align="center", wrap="wrap",
        ),
        width="100%", class_name="status-page-card",
    )


def status_pages_page() -> rx.Component:
    return page(
        rx.cond(S.pages.length() > 0,
                rx.vstack(rx.foreach(S.pages, _page_card), spacing="3", width="100%"),
                rx.text("No status pages in the applied config.", color_scheme="gray")),
        title="Status pages",
    )


def _component_row(c: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(c["name"], weight="bold"),
                      rx.text(c["services"], size="1", color_scheme="gray")),
        rx.table.cell(status_badge(c["tone"]), rx.text(c["text"], size="2")),
        rx.table.cell(
            rx.cond(c["manual"] == "yes",
                    rx.text("set by ", c["manual_by"], " until ", c["manual_until"],
                            " (services: ", c["computed"], ")", size="2"),
                    rx.text("from its services", size="2", color_scheme="gray")),
        ),
        rx.table.cell(c["uptime"]),
        rx.cond(
            S.can_write,
            rx.table.cell(rx.flex(
                rx.select(S.component_statuses, placeholder="status",
                          value=c["choice"],
                          on_change=lambda v: S.set_manual_status(c["name"], v), size="1",
                          custom_attrs={"aria-label": "Status of " + c["name"].to(str)}),
                rx.select(S.durations, placeholder="for",
                          value=c["for"],
                          on_change=lambda v: S.set_manual_for(c["name"], v), size="1",
                          custom_attrs={"aria-label": "For how long"}),
                rx.button("Set", size="1", on_click=S.set_component(c["name"])),
                rx.cond(c["manual"] == "yes",
                        rx.button("Clear", size="1", variant="soft",
                                  on_click=S.clear_component(c["name"]))),
                spacing="1", wrap="wrap",
            )),
        ),
    )


def _update(u: Any) -> rx.Component:
    return rx.box(
        rx.text(rx.text.strong(u["status"]), " · ", u["at"], size="2", color_scheme="gray"),
        rx.text(u["body"], size="2", white_space="pre-wrap"),
        padding_left="0.75em", border_left="2px solid var(--gray-6)",
    )


def _notice(n: Any, writable: bool) -> rx.Component:
    updates = n["updates"].to(list[dict[str, str]])
    form = rx.flex(
        rx.select(S.notice_statuses, value=n["draft_status"],
                  on_change=lambda v: S.set_update_status(n["id"], v), size="1",
                  custom_attrs={"aria-label": "Status of the update"}),
        rx.input(placeholder="What is new", value=n["draft_text"], aria_label="What is new",
                 on_change=lambda v: S.set_update_text(n["id"], v), width="100%",
                 class_name="notice-update-text"),
        rx.button("Post update", size="1", on_click=S.update_notice(n["id"]),
                  class_name="notice-update"),
        spacing="2", width="100%",
    )
    return rx.card(
        rx.vstack(
            rx.flex(rx.badge(n["status"], high_contrast=True), rx.heading(n["title"], size="3"),
                    rx.text(n["components"], " · impact ", n["impact"], size="2",
                            color_scheme="gray"),
                    spacing="2", align="center", wrap="wrap"),
            rx.foreach(updates, _update),
            rx.cond(S.can_write, form) if writable else rx.fragment(),
            spacing="2", width="100%",
        ),
        width="100%", class_name="status-notice",
    )


def _new_notice() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Post a notice", size="3"),
            rx.input(placeholder="Title readers see", value=S.new_title, aria_label="Title",
                     on_change=S.set_new_title, width="100%", id="notice-title"),
            rx.text_area(placeholder="What readers need to know", value=S.new_body,
                         aria_label="What readers need to know",
                         on_change=S.set_new_body, width="100%", id="notice-body"),
            rx.flex(
                rx.select(S.notice_statuses, value=S.new_status, on_change=S.set_new_status,
                          custom_attrs={"aria-label": "Status of the notice"}),
                rx.select(S.component_choices, value=S.new_component,
                          on_change=S.set_new_component,
                          custom_attrs={"aria-label": "Component"}),
                rx.button("Post notice", on_click=S.post_notice, id="notice-post"),
                spacing="2", wrap="wrap",
            ),
            rx.text("Everything here is public on a public page: no hostnames, no alert text.",
                    size="1", color_scheme="gray"),
            spacing="2", width="100%",
        ),
        width="100%",
    )


def status_page_page() -> rx.Component:
    return page(
        rx.cond(
            S.found,
            rx.vstack(
                rx.flex(status_badge(S.page["tone"]), rx.heading(S.page["title"], size="5"),
                        rx.text(S.page["description"]), rx.spacer(),
                        rx.link("Public view", href=S.page["url"], is_external=True),
                        spacing="3", align="center", wrap="wrap", width="100%"),
                rx.box(rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell("Component"),
                        rx.table.column_header_cell("Shows"),
                        rx.table.column_header_cell("Why"),
                        rx.table.column_header_cell("Uptime (90 days)"),
                        rx.cond(S.can_write, rx.table.column_header_cell("Set by hand")),
                    )),
                    rx.table.body(rx.foreach(S.components, _component_row)),
                    width="100%",
                ), overflow_x="auto", width="100%", tab_index=0, role="region",
                    aria_label="Components"),
                rx.heading("Current notices", size="4"),
                rx.cond(S.notices.length() > 0,
                        rx.foreach(S.notices, lambda n: _notice(n, True)),
                        rx.text("No open notices.", color_scheme="gray")),
                rx.cond(S.can_write, _new_notice()),
                rx.cond(S.maintenances.length() > 0, rx.vstack(
                    rx.heading("Maintenance", size="4"),
                    rx.foreach(S.maintenances, lambda m: rx.text(
                        rx.text.strong(m["name"]), " · ", m["stage"], " · ", m["from"], " – ",
                        m["to"], " · ", m["components"], size="2")),
                )),
                rx.cond(S.past.length() > 0, rx.vstack(
                    rx.heading("Resolved in the last 15 days", size="4"),
                    rx.foreach(S.past, lambda n: _notice(n, False)),
                    width="100%",
                )),
                spacing="3", width="100%",
            ),
            rx.text("No such status page.", color_scheme="gray"),
        ),
        title="Status page",
    )
