"""Postmortems in the app: the list and the open action items, the editor, and the incident
page's postmortem links."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator, call-overload"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components import text
from oncall.web.components.layout import page
from oncall.web.state.postmortems import (
    ANY,
    AUTOSAVE_MS,
    NO_SEVERITY,
    STATUS_LABELS,
    PostmortemsState,
    PostmortemState,
)

L = PostmortemsState
S = PostmortemState


def status_badge(status: Any, label: Any) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=rx.match(status, ("draft", "gray"), ("in_review", "amber"),
                              ("published", "green"), "gray"),
        size="2", high_contrast=True)


def _labelled_select(value: Any, on_change: Any, choices: dict[str, str], **props: Any
                     ) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(**props),
        rx.select.content(*[rx.select.item(label, value=v) for v, label in choices.items()]),
        value=value,
        on_change=on_change,
    )


# --- the list -----------------------------------------------------------------------------------


def _row(r: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r["title"], href="/postmortems/" + r["id"])),
        rx.table.cell(status_badge(r["status"], r["status_text"])),
        rx.table.cell(r["severity"]),
        rx.table.cell(r["owner"]),
        rx.table.cell(r["incidents"]),
        rx.table.cell(r["teams"]),
        rx.table.cell(r["open_items"]),
        rx.table.cell(r["updated"]),
        class_name="postmortem-row",
    )


def _postmortem_list() -> rx.Component:
    return rx.vstack(
        rx.flex(
            _labelled_select(L.status_filter, L.set_status_filter,
                             {ANY: "Any status", **STATUS_LABELS}, id="postmortem-status",
                             aria_label="Status filter"),
            rx.select.root(
                rx.select.trigger(placeholder="Team", aria_label="Team filter"),
                rx.select.content(rx.foreach(
                    L.team_choices,
                    lambda t: rx.select.item(rx.cond(t == ANY, "Any team", t), value=t))),
                value=L.team_filter,
                on_change=L.set_team_filter,
            ),
            spacing="2", wrap="wrap",
        ),
        rx.cond(
            L.rows.length() > 0,
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    *[rx.table.column_header_cell(h) for h in (
                        "Title", "Status", "Severity", "Owner", "Incidents", "Teams",
                        "Open items", "Updated")])),
                rx.table.body(rx.foreach(L.rows, _row)),
                width="100%",
            ), overflow_x="auto", width="100%", tab_index=0, role="region",
                aria_label="Postmortems"),
            rx.text("No postmortems here yet: open one from an incident's page.",
                    color_scheme="gray"),
        ),
        spacing="3", width="100%",
    )


def _open_item(i: Any) -> rx.Component:
    return rx.table.row(
        rx.table.cell(i["title"]),
        rx.table.cell(i["owner"]),
        rx.table.cell(rx.flex(
            rx.text(i["due"]),
            rx.cond(i["overdue"] != "", rx.badge("overdue", color_scheme="red",
                high_contrast=True)),
            spacing="2", align="center")),
        rx.table.cell(rx.link(i["postmortem_title"], href="/postmortems/" + i["postmortem_id"])),
        rx.table.cell(i["teams"]),
        rx.table.cell(rx.cond(i["safe_url"] != "",
                              rx.link("ticket", href=i["safe_url"], is_external=True))),
        class_name=rx.cond(i["overdue"] != "", "open-item overdue", "open-item"),
    )


def _action_items() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.select.root(
                rx.select.trigger(placeholder="Team", aria_label="Team filter"),
                rx.select.content(rx.foreach(
                    L.team_choices,
                    lambda t: rx.select.item(rx.cond(t == ANY, "Any team", t), value=t))),
                value=L.item_team,
                on_change=L.set_item_team,
            ),
            rx.debounce_input(
                rx.input(placeholder="Owner's email", value=L.item_owner,
                         on_change=L.set_item_owner, id="item-owner-filter",
                         aria_label="Owner's email"),
                debounce_timeout=400,
            ),
            spacing="2", wrap="wrap",
        ),
        rx.cond(
            L.items.length() > 0,
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(
                    *[rx.table.column_header_cell(h) for h in (
                        "Action", "Owner", "Due", "Postmortem", "Teams", "Ticket")])),
                rx.table.body(rx.foreach(L.items, _open_item)),
                width="100%",
            ), overflow_x="auto", width="100%", tab_index=0, role="region",
                aria_label="Open action items"),
            rx.text("No open action items.", color_scheme="gray"),
        ),
        spacing="3", width="100%",
    )


def postmortems_page() -> rx.Component:
    return page(
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Postmortems", value="postmortems"),
                rx.tabs.trigger("Open action items", value="items", id="tab-items"),
            ),
            rx.tabs.content(_postmortem_list(), value="postmortems", padding_top="1em"),
            rx.tabs.content(_action_items(), value="items", padding_top="1em"),
            value=L.tab,
            on_change=L.set_tab,
            width="100%",
        ),
        title="Postmortems",
    )


# --- the editor ---------------------------------------------------------------------------------


def _typed(field: str, *, on_blur: bool = False, **props: Any) -> rx.Component:
    """A text field of the postmortem, saved a moment after typing stops, or (`on_blur`, for
    an email that means nothing half-typed) when the field is left."""
    if on_blur:
        return rx.input(value=S.draft[field], on_change=lambda v: S.set_draft(field, v),
                        on_blur=S.autosave, read_only=~S.can_edit, **props)
    return rx.input(
        value=S.draft[field],
        on_change=[lambda v: S.set_draft(field, v), S.autosave.debounce(AUTOSAVE_MS)],
        read_only=~S.can_edit,
        **props,
    )


def _conflict() -> rx.Component:
    return rx.cond(
        S.conflict.length() > 0,
        rx.callout(
            rx.flex(
                rx.text(rx.text.strong(S.conflict["who"]), " saved at ", S.conflict["at"],
                        " while you were editing: your changes are not saved yet.",
                        id="conflict-message"),
                rx.button("Load their version", on_click=S.load_theirs, size="1",
                          variant="soft", id="load-theirs"),
                rx.button("Keep mine and save over it", on_click=S.keep_mine, size="1",
                          color_scheme="red", high_contrast=True, id="keep-mine"),
                spacing="2", align="center", wrap="wrap",
            ),
            color_scheme="amber", high_contrast=True, role="alert", width="100%",
        ),
    )


def _fields() -> rx.Component:
    return rx.grid(
        rx.vstack(rx.text("Title", size="1", color_scheme="gray"),
                  _typed("title", id="pm-title", width="100%", aria_label="Title"), spacing="1",
                  grid_column="1 / -1"),
        rx.vstack(
            rx.text("Status", size="1", color_scheme="gray"),
            rx.cond(
                S.can_edit,
                _labelled_select(S.draft["status"],
                                 [lambda v: S.set_draft("status", v), S.autosave],
                                 STATUS_LABELS, id="pm-status", aria_label="Status"),
                status_badge(S.meta["status"], S.meta["status_text"]),
            ),
            spacing="1"),
        rx.vstack(
            rx.text("Severity", size="1", color_scheme="gray"),
            rx.cond(
                S.can_edit,
                rx.select.root(
                    rx.select.trigger(id="pm-severity", aria_label="Severity"),
                    rx.select.content(rx.foreach(
                        S.severity_choices,
                        lambda v: rx.select.item(rx.cond(v == NO_SEVERITY, "—", v), value=v))),
                    value=S.draft["severity"],
                    on_change=[lambda v: S.set_draft("severity", v), S.autosave],
                ),
                rx.text(S.draft["severity"]),
            ),
            spacing="1"),
        rx.vstack(rx.text("Owner", size="1", color_scheme="gray"),
                  _typed("owner", on_blur=True, id="pm-owner", placeholder="owner's email",
                         aria_label="Owner",
                         width="100%"),
                  spacing="1"),
        columns=rx.breakpoints(initial="1", sm="3"),
        spacing="3", width="100%",
    )


def _incidents() -> rx.Component:
    return rx.vstack(
        rx.heading("Incidents", size="4"),
        rx.foreach(S.incidents, lambda i: rx.flex(
            rx.link("#", i["id"], " ", i["title"], href="/incidents/" + i["id"]),
            rx.text(i["service"], " · ", i["team"], " · ", i["status"], size="1",
                    color_scheme="gray"),
            rx.cond(S.can_edit & (S.incidents.length() > 1),
                    rx.button("Remove", size="1", variant="ghost",
                              on_click=S.unlink_incident(i["id"]))),
            spacing="2", align="center", wrap="wrap", class_name="pm-incident",
        )),
        rx.cond(S.can_edit, rx.flex(
            rx.input(placeholder="Incident number", value=S.new_incident,
                     on_change=S.set_new_incident, id="pm-add-incident", width="10em",
                     aria_label="Incident number"),
            rx.button("Add incident", size="1", on_click=S.link_incident),
            spacing="2", align="center")),
        spacing="2", width="100%",
    )


def _figures() -> rx.Component:
    return rx.vstack(
        rx.heading("Key figures", size="4"),
        rx.table.root(rx.table.body(rx.foreach(S.figures, lambda f: rx.table.row(
            rx.table.row_header_cell(f["name"]),
            rx.table.cell(rx.text(rx.text.strong(f["value"]), " ",
                                  rx.text.span(f["detail"], color_scheme="gray", size="1"))),
        ))), size="1", width="100%", id="pm-figures"),
        spacing="2", width="100%",
    )


def _body() -> rx.Component:
    editor = rx.text_area(
        value=S.draft["body"],
        on_change=[lambda v: S.set_draft("body", v), S.autosave.debounce(AUTOSAVE_MS)],
        rows="22", width="100%", id="pm-body", font_family="monospace", aria_label="Body",
    )
    preview = rx.box(text.markdown(S.preview), id="pm-preview", width="100%",
                     padding="0.5em", border="1px solid var(--gray-5)", border_radius="6px")
    return rx.vstack(
        rx.flex(
            rx.heading("Write-up", size="4"),
            rx.spacer(),
            rx.cond(S.can_edit, rx.button(rx.cond(S.show_preview, "Edit", "Preview"),
                                          size="1", variant="soft", on_click=S.toggle_preview,
                                          id="pm-preview-toggle")),
            width="100%", align="center",
        ),
        rx.cond(S.can_edit & ~S.show_preview, editor, preview),
        spacing="2", width="100%",
    )


def _item_form(values: Any, set_field: Any, submit: Any, label: str,
               cancel: Any = None) -> rx.Component:
    return rx.flex(
        rx.input(placeholder="What will be done", value=values["title"],
                 on_change=lambda v: set_field("title", v), class_name="item-title",
                 aria_label="Action",
                 flex_grow="1", min_width="12em"),
        rx.input(placeholder="owner's email", value=values["owner"],
                 on_change=lambda v: set_field("owner", v), class_name="item-owner",
                 aria_label="Owner's email"),
        rx.input(type="date", value=values["due"], on_change=lambda v: set_field("due", v),
                 class_name="item-due", aria_label="Due"),
        rx.input(placeholder="https://ticket", value=values["url"],
                 on_change=lambda v: set_field("url", v), class_name="item-url",
                 aria_label="Ticket URL"),
        rx.button(label, size="2", on_click=submit, class_name="item-submit"),
        *([rx.button("Cancel", size="2", variant="ghost", on_click=cancel)] if cancel else []),
        spacing="2", wrap="wrap", width="100%", align="center",
    )


def _item(i: Any) -> rx.Component:
    shown = rx.flex(
        rx.text(i["title"], weight="medium", class_name="item-text"),
        rx.text(rx.cond(i["owner"] != "", i["owner"], "no owner"), size="1", color_scheme="gray"),
        rx.cond(i["due"] != "", rx.text("due ", i["due"], size="1", color_scheme="gray")),
        rx.cond(i["overdue"] != "", rx.badge("overdue", color_scheme="red", high_contrast=True)),
        rx.cond(i["safe_url"] != "", rx.link("ticket", href=i["safe_url"], is_external=True,
                                             size="1")),
        rx.spacer(),
        rx.cond(
            S.can_edit,
            rx.flex(
                rx.select(S.item_statuses, value=i["status"], size="1",
                          on_change=lambda v: S.set_item_status(i["id"], v),
                          custom_attrs={"aria-label": "Status of the action item"}),
                rx.button("Edit", size="1", variant="soft", on_click=S.edit_item(i["id"])),
                rx.button("Delete", size="1", variant="soft", color_scheme="red",
                          on_click=S.delete_item(i["id"])),
                spacing="1", align="center"),
            rx.badge(i["status"], variant="soft", high_contrast=True),
        ),
        spacing="2", align="center", wrap="wrap", width="100%",
    )
    return rx.box(
        rx.cond(S.editing_item == i["id"],
                _item_form(S.edit_form, S.set_edit_field, S.save_item, "Save",
                           S.cancel_edit),
                shown),
        width="100%", padding_y="0.25em", border_bottom="1px solid var(--gray-4)",
        class_name="action-item",
    )


def _items() -> rx.Component:
    return rx.vstack(
        rx.heading("Action items", size="4"),
        rx.cond(S.items.length() > 0, rx.foreach(S.items, _item),
                rx.text("None yet.", color_scheme="gray")),
        rx.cond(S.can_edit, _item_form(S.item_form, S.set_item_field, S.add_item, "Add")),
        spacing="2", width="100%", id="pm-items",
    )


def _entry(e: Any) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.checkbox(checked=e["kept"] != "", disabled=~S.can_edit,
                        on_change=lambda c: S.set_kept(e["key"], c), class_name="entry-kept",
                        aria_label="Keep in the postmortem"),
            rx.text(e["at"], size="1", color_scheme="gray", white_space="nowrap"),
            rx.cond(e["incident"] != "", rx.badge(e["incident"], variant="outline", size="1",
                high_contrast=True)),
            spacing="2", align="center",
        ),
        rx.text(e["text"], size="2", class_name="entry-text"),
        rx.cond(
            S.can_edit,
            rx.input(placeholder="note", value=e["note"], size="1", aria_label="Note",
                     on_change=lambda v: S.set_note(e["key"], v),
                     on_blur=lambda v: S.save_note(e["key"], v), class_name="entry-note"),
            rx.cond(e["note"] != "", rx.text(e["note"], size="1", font_style="italic")),
        ),
        width="100%", padding_left="0.6em",
        # left out: a dashed grey rule, not a faded entry (faded text is below AA contrast)
        border_left=rx.cond(e["kept"] != "", "3px solid var(--accent-9)",
                            "3px dashed var(--gray-8)"),
        class_name=rx.cond(e["kept"] != "", "pm-entry kept", "pm-entry"),
        data_key=e["key"],
    )


def _timeline() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading("Timeline", size="4"),
            rx.spacer(),
            rx.text(S.kept_count, " of ", S.entry_count, " kept", size="1", color_scheme="gray"),
            rx.switch(checked=S.kept_only, on_change=S.set_kept_only, id="kept-only",
                      aria_label="Only kept events"),
            rx.text("only kept", size="1"),
            spacing="2", align="center", width="100%",
        ),
        rx.foreach(S.timeline, _entry),
        spacing="3", width="100%", id="pm-timeline",
    )


def _header() -> rx.Component:
    return rx.flex(
        status_badge(S.meta["status"], S.meta["status_text"]),
        rx.heading(S.draft["title"], size="5", id="pm-heading"),
        rx.cond(S.live, rx.badge("live", color_scheme="green", high_contrast=True)),
        rx.spacer(),
        rx.text(S.saved_text, size="1", color_scheme="gray", id="pm-saved"),
        rx.button("Download Markdown", size="1", variant="soft", on_click=S.download_markdown,
                  id="pm-download"),
        rx.link("Printable page", href=S.meta["print_url"], is_external=True, size="2",
                id="pm-print"),
        spacing="3", align="center", wrap="wrap", width="100%",
    )


def postmortem_page() -> rx.Component:
    return page(
        rx.cond(
            S.found,
            rx.vstack(
                _header(),
                rx.text("Teams ", S.meta["teams"], " · opened by ", S.meta["created_by"], " ",
                        S.meta["created"], " · last change by ", S.meta["updated_by"], " ",
                        S.meta["updated"],
                        rx.cond(S.can_edit, "", " · read-only for you"),
                        size="1", color_scheme="gray"),
                _conflict(),
                rx.grid(
                    rx.vstack(_fields(), _incidents(), _figures(), _body(), _items(),
                              spacing="4", width="100%", min_width="0"),
                    rx.box(_timeline(), width="100%", min_width="0"),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="5", width="100%",
                ),
                spacing="3", width="100%",
            ),
            rx.text("No such postmortem: it is not there, or not one you may read.",
                    color_scheme="gray", id="pm-not-found"),
        ),
        title="Postmortem",
    )


# --- on the incident page -----------------------------------------------------------------------


def incident_postmortems(state: Any) -> rx.Component:
    """The incident's postmortems, and the button that opens one (or goes to it)."""
    return rx.flex(
        rx.cond(state.can_open_postmortem,
                rx.button("Postmortem", on_click=state.open_postmortem, size="2",
                          variant="soft", id="open-postmortem")),
        rx.foreach(state.postmortems, lambda p: rx.link(
            "Postmortem #", p["id"], ": ", p["title"], " (", p["status"], ")",
            href="/postmortems/" + p["id"], size="2", class_name="incident-postmortem")),
        spacing="3", align="center", wrap="wrap",
    )
