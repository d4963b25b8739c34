"""The signed-in person's roles, contact methods, notification rules (edited here, with a
preview of what a page sends now) and test page."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page
from oncall.web.components.push import push_section
from oncall.web.state.profile import ADDABLE, MAX_DELAY_MINUTES, URGENCIES, ProfileState

S = ProfileState


def _contact(c: Any) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.badge(c["type"], high_contrast=True),
            rx.text(c["address"], weight="medium"),
            rx.text(c["label"], color_scheme="gray"),
            rx.badge(
                c["verified"],
                color_scheme=rx.cond(c["verified"] == "verified", "green", "amber"),
                    high_contrast=True),
            rx.cond(c["enabled"] == "off", rx.badge("off", color_scheme="gray",
                high_contrast=True)),
            rx.spacer(),
            rx.cond(
                c["verified"] != "verified",
                rx.flex(
                    rx.input(
                        placeholder="6-digit code",
                        aria_label="6-digit code",
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


def _method_select(value: Any, on_change: Any, **trigger: Any) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="contact method", aria_label="Contact method",
                          **trigger),
        rx.select.content(
            rx.foreach(S.method_choices, lambda m: rx.select.item(m["label"], value=m["id"]))
        ),
        value=value,
        on_change=on_change,
    )


def _rule(r: Any) -> rx.Component:
    return rx.flex(
        rx.text("after", size="2"),
        rx.input(
            default_value=r["delay"],
            key=r["id"] + ":" + r["delay"],
            on_blur=lambda v: S.set_rule_delay(r["id"], v),
            type="number",
            min=0,
            max=MAX_DELAY_MINUTES,
            width="5em",
            aria_label="delay in minutes",
            class_name="rule-delay",
        ),
        rx.text("min, by", size="2"),
        _method_select(r["method_id"], lambda v: S.set_rule_method(r["id"], v)),
        rx.cond(r["usable"] != "", rx.badge(r["usable"], color_scheme="amber", high_contrast=True)),
        rx.button(
            "Remove",
            on_click=S.remove_rule(r["id"]),
            size="1",
            variant="soft",
            color_scheme="red",
            class_name="remove-rule",
        ),
        spacing="2",
        align="center",
        wrap="wrap",
        class_name="notification-rule",
    )


def _urgency_rules(urgency: str, found: Any) -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.heading(f"{urgency.capitalize()} urgency", size="3"),
            rx.cond(
                found.length() > 0,
                rx.button(
                    "Use the defaults",
                    on_click=S.use_defaults(urgency),
                    size="1",
                    variant="outline",
                    id=f"defaults-{urgency}",
                ),
            ),
            spacing="3",
            align="center",
        ),
        rx.cond(
            found.length() > 0,
            rx.vstack(rx.foreach(found, _rule), spacing="2"),
            rx.text("The defaults.", color_scheme="gray", size="2"),
        ),
        spacing="2",
        id=f"rules-{urgency}",
    )


def _new_rule() -> rx.Component:
    return rx.flex(
        rx.select(URGENCIES, value=S.new_rule_urgency, on_change=S.set_new_rule_urgency,
                  id="new-rule-urgency", custom_attrs={"aria-label": "Urgency"}),
        rx.text("urgency, after", size="2"),
        rx.input(
            value=S.new_rule_delay,
            on_change=S.set_new_rule_delay,
            type="number",
            min=0,
            max=MAX_DELAY_MINUTES,
            width="5em",
            id="new-rule-delay",
            aria_label="delay in minutes",
        ),
        rx.text("min, by", size="2"),
        _method_select(S.new_rule_method, S.set_new_rule_method, id="new-rule-method"),
        rx.button("Add rule", on_click=S.add_rule, id="add-rule"),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _preview(urgency: str, found: Any) -> rx.Component:
    return rx.vstack(
        rx.text(f"{urgency.capitalize()} urgency", weight="medium", size="2"),
        rx.foreach(
            found,
            lambda e: rx.text(
                e["when"],
                ": ",
                e["channel"],
                " to ",
                e["address"],
                rx.cond(e["default"] != "", rx.text.span(" (default)", color_scheme="gray")),
                size="2",
                class_name="preview-step",
            ),
        ),
        spacing="1",
        id=f"preview-{urgency}",
    )


def profile_page() -> rx.Component:
    return page(
        rx.text(S.user_email, " · ", S.roles_text, size="2", id="profile-roles"),
        rx.heading("Contact methods", size="4"),
        rx.cond(
            S.contacts.length() > 0,
            rx.vstack(rx.foreach(S.contacts, _contact), width="100%"),
            rx.text("No contact methods yet.", color_scheme="gray", size="2"),
        ),
        rx.flex(
            rx.select(ADDABLE, value=S.new_kind, on_change=S.set_new_kind,
                      custom_attrs={"aria-label": "Kind of contact method"}),
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
        push_section(),
        rx.heading("Notification rules", size="4"),
        rx.text(
            "When a page arrives, after how many minutes each contact method is used. "
            "Without rules of your own for an urgency, the defaults apply.",
            color_scheme="gray",
            size="2",
        ),
        rx.flex(
            rx.vstack(
                _urgency_rules("high", S.high_rules),
                _urgency_rules("low", S.low_rules),
                _new_rule(),
                rx.cond(
                    S.rule_error != "",
                    rx.callout(S.rule_error, color_scheme="red", size="1", id="rule-error"),
                ),
                spacing="3",
                flex="3",
                min_width="20em",
            ),
            rx.vstack(
                rx.heading("When a page arrives now", size="3"),
                _preview("high", S.preview_high),
                _preview("low", S.preview_low),
                spacing="2",
                flex="2",
                min_width="16em",
                id="rules-preview",
            ),
            spacing="5",
            wrap="wrap",
            width="100%",
        ),
        rx.button("Send me a test page", on_click=S.test_page, size="3", id="test-page"),
        title="Profile",
    )
