"""The escalation policy editor: ordered steps, each with its timeout and targets, the repeat
count, and the review panel (YAML, problems, plan, copy, pull request) below."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.editor_review import editor_pages, editor_review
from oncall.web.state.policy_editor import PolicyEditorState as S

TOUCH = "44px"
SELECT_STYLE = {"min_height": TOUCH, "padding": "0 0.5em", "border_radius": "6px",
                "border": "1px solid var(--gray-7)", "background": "var(--color-surface)",
                "color": "var(--gray-12)", "max_width": "100%"}


def _field(label: str, control: rx.Component) -> rx.Component:
    return rx.el.label(
        rx.text(label, size="2", weight="bold"),
        control,
        display="flex", flex_direction="column", gap="0.25em", min_width="12em", flex="1",
        width="100%",
    )


def _target(step: Any, t: Any) -> rx.Component:
    return rx.flex(
        rx.badge(t["label"], size="2", variant="soft", high_contrast=True,
                 white_space="normal", overflow_wrap="anywhere", min_width="0"),
        rx.icon_button(
            "x", size="2", variant="soft", color_scheme="gray",
            on_click=S.remove_target(step["index"], t["target"]),
            aria_label="Remove " + t["label"] + " from step " + step["number"].to(str),
            class_name="remove-target", min_width=TOUCH, min_height=TOUCH,
        ),
        align="center", spacing="1", max_width="100%", class_name="policy-target",
    )


def _people(step: Any) -> rx.Component:
    return rx.cond(
        (S.person_step == step["index"]) & (S.people.length() > 0),
        rx.flex(
            rx.foreach(
                S.people,
                lambda p: rx.button(
                    "Add ", p["label"], on_click=S.add_target(step["index"], p["target"]),
                    variant="soft", size="2", min_height=TOUCH, class_name="person-result",
                ),
            ),
            spacing="2", wrap="wrap", role="list", aria_label="People found",
        ),
    )


def _step(step: Any) -> rx.Component:
    n = step["number"].to(str)
    targets = step["targets"].to(list[dict[str, str]])
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Step ", n, size="3", as_="h3"),
                rx.spacer(),
                rx.button("Up", on_click=S.move_up(step["index"]), variant="soft", size="2",
                          min_height=TOUCH, disabled=step["index"] == 0,
                          aria_label="Move step " + n + " up", class_name="step-up"),
                rx.button("Down", on_click=S.move_down(step["index"]), variant="soft", size="2",
                          min_height=TOUCH, disabled=step["index"] == S.steps.length() - 1,
                          aria_label="Move step " + n + " down", class_name="step-down"),
                rx.button("Remove", on_click=S.remove_step(step["index"]), variant="soft",
                          color_scheme="red", size="2", min_height=TOUCH,
                          disabled=S.steps.length() <= 1,
                          aria_label="Remove step " + n, class_name="step-remove"),
                spacing="2", align="center", wrap="wrap", width="100%",
            ),
            _field("Wait for an acknowledgement", rx.input(
                default_value=step["timeout"],
                key="timeout-" + n + "-" + step["timeout"].to(str),
                on_blur=lambda v: S.set_timeout(step["index"], v),
                placeholder="e.g. 5m, 1h30m", class_name="step-timeout",
                min_height=TOUCH,
            )),
            rx.text("Pages", size="2", weight="bold"),
            rx.cond(
                targets.length() > 0,
                rx.flex(rx.foreach(targets, lambda t: _target(step, t)),
                        spacing="2", wrap="wrap", class_name="step-targets"),
                rx.text("nobody yet", size="2", color="var(--red-11)"),
            ),
            rx.flex(
                rx.el.select(
                    rx.el.option("Add a schedule or team…", value=""),
                    rx.foreach(S.choices,
                               lambda c: rx.el.option(c["label"], value=c["target"])),
                    value="",
                    on_change=lambda v: S.add_target(step["index"], v),
                    aria_label="Add a schedule or team to step " + n,
                    class_name="add-target",
                    **SELECT_STYLE,
                ),
                rx.debounce_input(
                    rx.input(
                        value=rx.cond(S.person_step == step["index"], S.person_query, ""),
                        on_change=lambda v: S.search_people(step["index"], v),
                        placeholder="Find a person by name or email",
                        aria_label="Find a person for step " + n,
                        class_name="person-search", min_height=TOUCH, width="20em",
                        max_width="100%",
                    ),
                    debounce_timeout=250,
                ),
                spacing="2", wrap="wrap",
            ),
            _people(step),
            spacing="2", width="100%",
        ),
        width="100%", class_name="policy-step",
    )


def _editor() -> rx.Component:
    return rx.vstack(
        rx.flex(
            _field("Name", rx.input(default_value=S.name, key="name-" + S.name,
                                    on_blur=S.set_name, id="policy-name", min_height=TOUCH,
                                    placeholder="lowercase letters, digits and -")),
            _field("Repeat all steps (times)", rx.input(
                default_value=S.repeat, key="repeat-" + S.repeat, on_blur=S.set_repeat,
                id="policy-repeat", input_mode="numeric", min_height=TOUCH)),
            spacing="3", wrap="wrap", width="100%",
        ),
        _field("Description", rx.input(default_value=S.description,
                                       key="description-" + S.description,
                                       on_blur=S.set_description, id="policy-description",
                                       min_height=TOUCH)),
        rx.heading("Steps", size="4", as_="h2"),
        rx.text("Steps run in order until someone acknowledges; each step waits its time, "
                "then the next one pages.", size="2", color="var(--gray-11)"),
        rx.foreach(S.steps, _step),
        rx.button("Add step", on_click=S.add_step, id="add-step", min_height=TOUCH),
        editor_review(S),
        spacing="3", width="100%",
    )


def new_policy_page() -> rx.Component:
    return editor_pages(S, _editor(), "escalation policy")[0]


def edit_policy_page() -> rx.Component:
    return editor_pages(S, _editor(), "escalation policy")[1]
