"""The review panel of a config editor (state: `oncall.web.state.editor_review.ReviewMixin`):
the YAML with each problem under its line, problems in other files, the plan, "Copy YAML", and
"Open pull request" where a repository and token are configured."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import page

MONO = "var(--code-font-family, ui-monospace, monospace)"


def _yaml_line(row: Any) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.text(row["n"], as_="span", color="var(--gray-11)", min_width="2.5em",
                    text_align="right", user_select="none", aria_hidden="true"),
            rx.text(row["text"], as_="span", white_space="pre", font_family=MONO),
            spacing="3",
        ),
        rx.cond(
            row["problem"] != "",
            rx.text(
                "line ", row["n"], ": ", row["problem"],
                size="2",
                color=rx.cond(row["severity"] == "error", "var(--red-12)", "var(--amber-12)"),
                padding_left="3.2em",
                class_name="review-problem",
                white_space="pre-wrap",
            ),
        ),
        background=rx.match(row["severity"], ("error", "var(--red-3)"),
                            ("warning", "var(--amber-3)"), "transparent"),
        width="100%",
    )


def _plan_line(row: Any) -> rx.Component:
    return rx.text(
        row["text"],
        white_space="pre",
        font_family=MONO,
        size="2",
        color=rx.match(row["mark"], ("+", "var(--green-11)"), ("-", "var(--red-11)"),
                       ("~", "var(--amber-11)"), "var(--gray-12)"),
    )


def editor_review(S: Any) -> rx.Component:
    """The panel for the editor state `S` (a page state with ReviewMixin)."""
    return rx.vstack(
        rx.heading("Review", size="4", id="review"),
        rx.hstack(
            rx.text("File: ", rx.code(S.review_path, id="review-path")),
            rx.cond(
                S.review_ok,
                rx.badge("valid", color_scheme="green", high_contrast=True, id="review-verdict"),
                rx.badge(S.review_errors, " problems to fix", color_scheme="red",
                         high_contrast=True, id="review-verdict"),
            ),
            rx.cond(S.review_warnings > 0,
                    rx.badge(S.review_warnings, " warnings", color_scheme="amber",
                             high_contrast=True)),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        rx.box(
            rx.foreach(S.review_lines, _yaml_line),
            id="review-yaml",
            role="region",
            aria_label="YAML",
            tab_index=0,
            overflow_x="auto",
            padding="0.5em",
            border="1px solid var(--gray-6)",
            border_radius="6px",
            width="100%",
        ),
        rx.cond(
            S.review_elsewhere.length() > 0,
            rx.vstack(
                rx.text("In other files:", weight="bold", size="2"),
                rx.foreach(S.review_elsewhere,
                           lambda p: rx.text(p, size="2", class_name="review-problem")),
                id="review-elsewhere",
                spacing="1",
            ),
        ),
        rx.heading("What applying it would change", size="3"),
        rx.cond(
            S.review_ok,
            rx.box(
                rx.foreach(S.review_plan, _plan_line),
                id="review-plan",
                role="region",
                aria_label="Plan",
                tab_index=0,
                overflow_x="auto",
                padding="0.5em",
                border="1px solid var(--gray-6)",
                border_radius="6px",
                width="100%",
            ),
            rx.text("The plan shows once the problems above are fixed.", size="2",
                    color="var(--gray-11)", id="review-plan"),
        ),
        rx.flex(
            rx.button("Copy YAML", on_click=S.copy_yaml, id="copy-yaml", min_height="44px",
                      variant="soft"),
            rx.cond(
                S.pr_enabled & S.can_open_pr,
                rx.button("Open pull request", on_click=S.open_pull_request,
                          disabled=~S.review_ok, id="open-pr", min_height="44px"),
            ),
            spacing="3",
            wrap="wrap",
        ),
        rx.cond(
            S.pr_enabled & ~S.can_open_pr,
            rx.text("Only platform admins and admins of the owning team open pull requests "
                    "from here: copy the YAML and propose it in the config repo.", size="2"),
        ),
        rx.cond(
            S.pr_url != "",
            rx.box(
                rx.text(
                    "Pull request ",
                    rx.link("#", S.pr_number, href=S.pr_url, is_external=True, id="pr-link"),
                    " opened from branch ",
                    rx.link(S.pr_branch, href=S.pr_branch_url, is_external=True,
                            id="pr-branch"),
                    ".",
                ),
                role="status",
                padding="0.75em",
                border="2px solid var(--green-9)",
                border_radius="6px",
                width="100%",
            ),
        ),
        rx.cond(
            S.pr_error != "",
            rx.callout(S.pr_error, color_scheme="red", high_contrast=True, role="alert",
                       width="100%", id="pr-error"),
        ),
        spacing="3",
        width="100%",
    )


def editor_pages(S: Any, editor: rx.Component, noun: str
                 ) -> tuple[rx.Component, rx.Component]:
    """The "new" and "edit" pages of an editor: the form, or a plain "not found" when the
    document to edit is not in the applied config."""
    def body() -> rx.Component:
        return rx.cond(S.found, editor,
                       rx.text(f"No {noun} by that name in the applied config.", id="not-found"))

    return (page(body(), title=f"New {noun}"),
            page(rx.text("Editing ", rx.code(S.original), size="2"), body(),
                 title=f"Edit {noun}"))
