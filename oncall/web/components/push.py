"""Push on this device: the section of the profile page (and of /push) that turns web push on
or off for the browser it is shown in."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

import reflex as rx

from oncall.web.components.layout import page
from oncall.web.state.push import PushState


def _status() -> rx.Component:
    return rx.match(
        PushState.device,
        ("verified", rx.badge("on for this device", color_scheme="green", id="push-status",
            high_contrast=True)),
        ("pending", rx.badge("waiting for the test notification", color_scheme="amber",
                             id="push-status", high_contrast=True)),
        ("off", rx.badge("turned off: enable it again to turn it back on", color_scheme="gray",
                         id="push-status", high_contrast=True)),
        rx.badge("off", color_scheme="gray", id="push-status", high_contrast=True),
    )


def _code_form() -> rx.Component:
    return rx.hstack(
        rx.input(
            placeholder="code from the notification",
            aria_label="Code from the notification",
            value=PushState.push_code,
            on_change=PushState.set_push_code,
            max_length=12,
            input_mode="numeric",
            id="push-code",
        ),
        rx.button("Confirm", on_click=PushState.confirm_code, id="push-confirm"),
        rx.button("Send again", variant="soft", on_click=PushState.send_again, id="push-resend"),
        spacing="2",
        wrap="wrap",
    )


def push_section() -> rx.Component:
    """"Enable push on this device": subscribe, verify with a pushed code, or turn it off."""
    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading("Push on this device", size="4"), _status(), align="center",
                      spacing="3", wrap="wrap"),
            rx.text(
                "Pages arrive as notifications on this phone or computer, with an Acknowledge "
                "button. On an iPhone or iPad, add oncall to the home screen first and open it "
                "from there.",
                size="2",
                color_scheme="gray",
            ),
            rx.cond(
                ~PushState.configured,
                rx.text("Push is not set up on this server: ask an admin to set the VAPID keys.",
                        size="2", id="push-unavailable"),
                rx.cond(
                    PushState.checked & ~PushState.supported,
                    rx.text(
                        "This browser cannot receive push here. On an iPhone or iPad: Share, "
                        "Add to Home Screen, then open oncall from the home screen.",
                        size="2",
                        id="push-unsupported",
                    ),
                    rx.vstack(
                        rx.hstack(
                            rx.cond(
                                (PushState.device == "verified") | (PushState.device == "pending"),
                                rx.button("Disable push on this device", variant="soft",
                                          color_scheme="red", on_click=PushState.disable,
                                          loading=PushState.busy, id="push-disable"),
                                rx.button("Enable push on this device", on_click=PushState.enable,
                                          loading=PushState.busy, id="push-enable"),
                            ),
                            rx.cond(
                                PushState.device == "off",
                                rx.button("Disable push on this device", variant="soft",
                                          on_click=PushState.disable, id="push-disable-off"),
                            ),
                            spacing="2",
                            wrap="wrap",
                        ),
                        rx.cond(PushState.device == "pending", _code_form()),
                        spacing="2",
                    ),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        id="push-section",
        width="100%",
        on_mount=PushState.load,
    )


def push_page() -> rx.Component:
    """/push: the section on a page of its own, the address to open on a phone."""
    return page(push_section(), title="Push notifications")
