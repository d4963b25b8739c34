"""An incident as a card (list) and the action dialog shared by list and detail."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import FOCUS_RING, status_badge
from oncall.web.state.incidents import PRIORITY_CHOICES


def actions(state: Any, item: Any, can_respond: rx.Var[bool]) -> rx.Component:
    """Acknowledge is one tap; the rest open a small dialog or a select."""
    iid = item["id"]
    return rx.cond(
        can_respond,
        rx.flex(
            rx.cond(
                item["status"] == "triggered",
                rx.button(
                    "Acknowledge",
                    on_click=state.acknowledge(iid),
                    size="3",
                    color_scheme="amber",
                    class_name="ack-button",
                    min_height="44px",
                ),
            ),
            rx.cond(
                item["status"] != "resolved",
                rx.fragment(
                    rx.button(
                        "Resolve",
                        on_click=state.open_dialog("resolve", iid),
                        size="3",
                        color_scheme="green",
                        variant="soft",
                        high_contrast=True,
                        min_height="44px",
                        class_name="resolve-button",
                    ),
                    rx.button(
                        "Reassign",
                        on_click=state.open_dialog("reassign", iid),
                        size="3",
                        variant="soft",
                        min_height="44px",
                    ),
                ),
            ),
            rx.button(
                "Note",
                on_click=state.open_dialog("note", iid),
                size="3",
                variant="soft",
                min_height="44px",
                class_name="note-button",
            ),
            rx.select(
                PRIORITY_CHOICES,
                value=item["priority"],
                placeholder="Priority",
                custom_attrs={"aria-label": "Priority of incident #" + iid.to(str)},
                on_change=lambda p: state.change_priority(iid, p),
                size="3",
            ),
            spacing="2",
            wrap="wrap",
        ),
        rx.text("Observers can follow incidents but not act on them.", size="1",
                color_scheme="gray"),
    )


def card(state: Any, item: Any, can_respond: rx.Var[bool],
         select: rx.Component | None = None) -> rx.Component:
    """`select` (the dashboard's checkbox) leads the title row; the card itself can take focus
    from a script (tabindex -1), for the dashboard's keyboard shortcuts."""
    return rx.card(
        rx.vstack(
            rx.flex(
                *([select] if select is not None else []),
                status_badge(item["status"]),
                rx.cond(item["priority"] != "", rx.badge(item["priority"], variant="outline",
                    high_contrast=True)),
                rx.link(
                    rx.text("#", item["id"], " ", item["title"], weight="bold"),
                    href=f"/incidents/{item['id']}",
                    class_name="incident-link",
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text(
                item["service"],
                " · ",
                item["team"],
                " · ",
                item["alerts"],
                " alerts · ",
                item["age"],
                " ago",
                rx.cond(item["assignee"] != "", rx.text.span(" · assigned to ", item["assignee"])),
                size="2",
                color_scheme="gray",
            ),
            actions(state, item, can_respond),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="incident-card",
        data_status=item["status"],
        data_id=item["id"],
        custom_attrs={"tabIndex": "-1"},
        _focus=FOCUS_RING,
    )


def dialog(state: Any, users: rx.Var[list[str]]) -> rx.Component:
    """Resolve with a note, reassign, or add a markdown note."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.match(
                    state.dialog,
                    ("resolve", "Resolve incident"),
                    ("reassign", "Reassign incident"),
                    ("note", "Add a note (Markdown)"),
                    "",
                ),
                " #",
                state.dialog_incident,
            ),
            rx.cond(
                state.dialog == "reassign",
                rx.select(
                    users,
                    value=state.dialog_text,
                    on_change=state.set_dialog_text,
                    placeholder="Choose a person",
                    custom_attrs={"aria-label": "Person to assign"},
                    width="100%",
                ),
                rx.text_area(
                    value=state.dialog_text,
                    on_change=state.set_dialog_text,
                    placeholder=rx.cond(
                        state.dialog == "resolve",
                        "What fixed it? (optional)",
                        "Markdown is supported",
                    ),
                    rows="5",
                    width="100%",
                    aria_label=rx.cond(state.dialog == "resolve", "Resolution note", "Note"),
                    id="dialog-text",
                ),
            ),
            rx.flex(
                rx.button(
                    "Cancel", variant="soft", color_scheme="gray", on_click=state.close_dialog
                ),
                rx.button("Save", on_click=state.submit_dialog, id="dialog-save"),
                spacing="2",
                justify="end",
                margin_top="1em",
            ),
        ),
        open=state.dialog != "",
        on_open_change=lambda _open: state.close_dialog(),
    )
