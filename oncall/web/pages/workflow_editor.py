"""The workflow builder: trigger, condition, steps as blocks (each step type with its fields,
`if` blocks with their branches), a template preview against a past incident, and the review
panel below."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.editor_review import MONO, editor_pages, editor_review
from oncall.web.pages.policy_editor import SELECT_STYLE, TOUCH
from oncall.web.state.workflow_editor import WorkflowEditorState as S

PROBLEM = "var(--red-11)"


def _labelled(label: Any, control: rx.Component, problem: Any = None, hint: Any = None
              ) -> rx.Component:
    """A field with its label, a hint, and the problem found in it (shown where it is typed)."""
    parts: list[rx.Component] = [rx.text(label, size="2", weight="bold"), control]
    if isinstance(hint, str):
        parts.append(rx.text(hint, size="1", color="var(--gray-11)"))
    elif hint is not None:
        parts.append(rx.cond(hint != "", rx.text(hint, size="1", color="var(--gray-11)")))
    if problem is not None:
        parts.append(rx.cond(problem != "", rx.text(problem, size="2", color=PROBLEM,
                                                    role="alert", class_name="field-problem")))
    return rx.el.label(*parts, display="flex", flex_direction="column", gap="0.25em",
                       width="100%")


def _kind_select(label: Any, on_change: Any, class_name: str, **props: Any) -> rx.Component:
    return rx.el.select(
        rx.el.option(label, value=""),
        rx.foreach(S.kinds, lambda k: rx.el.option(k, value=k)),
        value="", on_change=on_change, aria_label=label, class_name=class_name,
        **SELECT_STYLE, **props,
    )


def _field(row: Any, f: Any) -> rx.Component:
    key = row["path"].to(str) + ":" + f["name"].to(str) + ":" + f["value"].to(str)
    common = {"default_value": f["value"], "key": key, "id": f["id"],
              "on_blur": lambda v: S.set_field(row["path"], f["name"], v),
              "aria_invalid": rx.cond(f["problem"] != "", "true", "false"),
              "class_name": "step-field"}
    control = rx.cond(
        f["multiline"],
        rx.text_area(rows="3", font_family=MONO, **common),
        rx.input(min_height=TOUCH, **common),
    )
    return _labelled(f["label"], control, f["problem"], f["hint"])


def _block(row: Any) -> rx.Component:
    """A step's card, indented inside the padding of its box (a margin would push a full-width
    card past a phone's screen)."""
    return rx.box(_card(row), padding_left=row["indent"], width="100%")


def _card(row: Any) -> rx.Component:
    n = row["number"].to(str)
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Step ", n, ": ", row["kind"], size="3", as_="h3"),
                rx.cond(row["where"] != "",
                        rx.badge(row["where"], variant="soft", high_contrast=True)),
                rx.spacer(),
                rx.button("Up", on_click=S.move_up(row["path"]), variant="soft", size="2",
                          min_height=TOUCH, disabled=row["first"],
                          aria_label="Move step " + n + " up", class_name="block-up"),
                rx.button("Down", on_click=S.move_down(row["path"]), variant="soft", size="2",
                          min_height=TOUCH, disabled=row["last"],
                          aria_label="Move step " + n + " down", class_name="block-down"),
                rx.button("Remove", on_click=S.remove_step(row["path"]), variant="soft",
                          color_scheme="red", size="2", min_height=TOUCH,
                          aria_label="Remove step " + n, class_name="block-remove"),
                spacing="2", align="center", wrap="wrap", width="100%",
            ),
            rx.foreach(row["fields"].to(list[dict[str, Any]]), lambda f: _field(row, f)),
            rx.cond(
                row["is_if"],
                rx.flex(
                    _kind_select("Add a step to its then…",
                                 lambda k: S.add_branch_step(row["path"], "then", k),
                                 "add-then"),
                    _kind_select("Add a step to its else…",
                                 lambda k: S.add_branch_step(row["path"], "else", k),
                                 "add-else"),
                    spacing="2", wrap="wrap",
                ),
                rx.checkbox("Continue the run if this step fails",
                            checked=row["continue_on_error"],
                            on_change=lambda c: S.set_continue(row["path"], c),
                            class_name="continue-on-error", size="3"),
            ),
            spacing="2", width="100%",
        ),
        width="100%", class_name="workflow-block", data_path=row["path"],
    )


def _preview_step(step: Any) -> rx.Component:
    return rx.box(
        rx.text(step["title"], weight="bold", size="2"),
        rx.foreach(
            step["lines"].to(list[dict[str, str]]),
            lambda ln: rx.flex(
                rx.text(ln["label"], size="2", color="var(--gray-11)", min_width="6em"),
                rx.text(ln["text"], size="2", white_space="pre-wrap", font_family=MONO,
                        overflow_wrap="anywhere", min_width="0", class_name="preview-text"),
                spacing="2", width="100%",
            ),
        ),
        padding_left=step["indent"], class_name="preview-step", width="100%",
    )


def _preview() -> rx.Component:
    return rx.vstack(
        rx.heading("Preview against a past incident", size="4", as_="h2"),
        rx.debounce_input(
            rx.input(value=S.incident_query, on_change=S.search_incidents,
                     placeholder="Search incidents by title, service or #id",
                     aria_label="Search past incidents", id="incident-search",
                     min_height=TOUCH, width="30em", max_width="100%"),
            debounce_timeout=300,
        ),
        rx.cond(
            S.incidents.length() > 0,
            rx.flex(
                rx.foreach(
                    S.incidents,
                    lambda i: rx.button(
                        "#", i["id"], " ", i["priority"], " ", i["title"], " (", i["service"],
                        ", ", i["when"], ")",
                        on_click=S.pick_incident(i["id"]), variant="soft", size="2",
                        min_height=TOUCH, white_space="normal", text_align="left",
                        justify_content="flex-start", overflow_wrap="anywhere",
                        height="auto", class_name="incident-choice",
                        aria_pressed=rx.cond(S.preview_id == i["id"], "true", "false"),
                    ),
                ),
                direction="column", spacing="1", id="incident-choices", max_height="16em",
                overflow_y="auto", width="100%",
            ),
            rx.text("No incidents found.", size="2"),
        ),
        rx.cond(
            S.preview_id != "",
            rx.vstack(
                rx.flex(
                    rx.text("Rendered for ", rx.text(S.preview_title, as_="span", weight="bold",
                                                     id="preview-incident"), size="2"),
                    rx.el.select(
                        rx.foreach(S.events.to(list[dict[str, Any]]),
                                   lambda e: rx.cond(e["on"], rx.el.option(e["event"],
                                                                           value=e["event"]))),
                        value=S.preview_event, on_change=S.set_preview_event,
                        aria_label="Event", **SELECT_STYLE,
                    ),
                    spacing="2", align="center", wrap="wrap",
                ),
                rx.text("when: ", S.preview_when, size="2", id="preview-when"),
                rx.foreach(S.preview_steps, _preview_step),
                id="preview", spacing="2", width="100%", padding="0.5em",
                border="1px solid var(--gray-6)", border_radius="6px",
            ),
        ),
        spacing="2", width="100%",
    )


def _editor() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.box(_labelled("Name", rx.input(default_value=S.name, key="name-" + S.name,
                                              on_blur=S.set_name, id="workflow-name",
                                              min_height=TOUCH)), min_width="12em", flex="1"),
            rx.box(_labelled("Description", rx.input(
                default_value=S.description, key="description-" + S.description,
                on_blur=S.set_description, id="workflow-description", min_height=TOUCH)),
                min_width="12em", flex="2"),
            spacing="3", wrap="wrap", width="100%",
        ),
        rx.el.fieldset(
            rx.el.legend(rx.text("Runs on", size="2", weight="bold")),
            rx.flex(
                rx.foreach(
                    S.events,
                    lambda e: rx.checkbox(e["event"], checked=e["on"],
                                          on_change=lambda c: S.set_event(e["event"], c),
                                          size="3", class_name="workflow-event"),
                ),
                spacing="3", wrap="wrap",
            ),
            border="none", padding="0", margin="0",
        ),
        _labelled(
            "Only when (condition)",
            rx.input(default_value=S.when, key="when-" + S.when, on_blur=S.set_when,
                     id="workflow-when", min_height=TOUCH, font_family=MONO,
                     aria_invalid=rx.cond(S.when_problem != "", "true", "false"),
                     placeholder='e.g. incident.priority in ["P1", "P2"]'),
            None,
            "over incident, service and event; empty: always",
        ),
        rx.cond(S.when_problem != "",
                rx.text(S.when_problem, size="2", color=PROBLEM, role="alert",
                        id="when-problem")),
        rx.heading("Steps", size="4", as_="h2"),
        rx.foreach(S.blocks, _block),
        _kind_select("Add a step…", S.add_step, "add-step", id="add-step"),
        _preview(),
        editor_review(S),
        spacing="3", width="100%",
    )


def new_workflow_page() -> rx.Component:
    return editor_pages(S, _editor(), "workflow")[0]


def edit_workflow_page() -> rx.Component:
    return editor_pages(S, _editor(), "workflow")[1]
