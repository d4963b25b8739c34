"""The signed-in person's roles, contact methods, rules and test page."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page
from oncall.web.state.profile import ADDABLE, ProfileState

S = ProfileState


def _contact(c: Any) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.badge(c["type"]),
            rx.text(c["address"], weight="medium"),
            rx.text(c["label"], color="gray"),
            rx.badge(
                c["verified"],
                color_scheme=rx.cond(c["verified"] == "verified", "green", "amber"),
            ),
            rx.cond(c["enabled"] == "off", rx.badge("off", color_scheme="gray")),
            rx.spacer(),
            rx.cond(
                c["verified"] != "verified",
                rx.flex(
                    rx.input(
                        placeholder="6-digit code",
                        value=S.codes.get(c["id"], ""),
                        on_change=lambda v: S.set_code(c["id"], v),
                        width="9em",
                        input_mode="numeric",
                    ),
                    rx.button("Verify", on_click=S.confirm(c["id"]), size="2"),
                    rx.button(
                        "Send a new code", on_click=S.send_code(c["id"]), size="2", variant="soft"
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
            ),
            rx.button(
                "Remove", on_click=S.remove(c["id"]), size="2", variant="soft", color_scheme="red"
            ),
            spacing="2",
            align="center",
            wrap="wrap",
            width="100%",
        ),
        width="100%",
        class_name="contact-method",
    )


def profile_page() -> rx.Component:
    return page(
        rx.text(S.user_email, " · ", S.roles_text, size="2", id="profile-roles"),
        rx.heading("Contact methods", size="4"),
        rx.cond(
            S.contacts.length() > 0,
            rx.vstack(rx.foreach(S.contacts, _contact), width="100%"),
            rx.text("No contact methods yet.", color="gray", size="2"),
        ),
        rx.flex(
            rx.select(ADDABLE, value=S.new_kind, on_change=S.set_new_kind),
            rx.input(
                placeholder=rx.cond(S.new_kind == "phone", "+44 20 7946 0000", "me@example.com"),
                value=S.new_address,
                on_change=S.set_new_address,
                id="new-contact",
            ),
            rx.button("Add", on_click=S.add_contact, id="add-contact"),
            spacing="2",
            wrap="wrap",
        ),
        rx.heading("Notification rules", size="4"),
        rx.cond(
            S.rules.length() > 0,
            rx.vstack(
                rx.foreach(
                    S.rules,
                    lambda r: rx.text(
                        r["urgency"],
                        " urgency: ",
                        r["contact"],
                        " ",
                        r["delay"],
                        " ",
                        rx.text.span(r["usable"], color="gray"),
                        size="2",
                    ),
                )
            ),
            rx.text("No notification rules yet.", color="gray", size="2"),
        ),
        rx.button("Send me a test page", on_click=S.test_page, size="3", id="test-page"),
        title="Profile",
    )
