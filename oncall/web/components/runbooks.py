"""The incident page's runbooks: the service's list with a "Run" button per automated one,
the form generated from the runbook's parameter schema, and the runs with their results."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator, index"

from __future__ import annotations

from typing import Any

import reflex as rx

_STATE_COLOURS = {"succeeded": "green", "failed": "red", "retrying": "amber",
                  "queued": "gray", "skipped": "gray"}


def listing(S: Any) -> rx.Component:
    return rx.cond(
        S.runbooks.length() > 0,
        rx.vstack(
            rx.foreach(
                S.runbooks,
                lambda r: rx.cond(
                    r["kind"] == "link",
                    rx.cond(
                        r["url"] != "",
                        rx.link(r["title"], href=r["url"], is_external=True),
                        rx.text(r["title"]),
                    ),
                    rx.flex(
                        rx.text("Automated runbook ", rx.code(r["title"])),
                        rx.cond(
                            S.can_run_runbooks & (r["runnable"] != ""),
                            rx.button("Run runbook", on_click=S.open_runbook(r["title"]),
                                      size="2", variant="soft", min_height="36px",
                                      class_name="run-runbook", data_runbook=r["title"]),
                        ),
                        spacing="2",
                        align="center",
                    ),
                ),
            ),
        ),
        rx.text("No runbooks for this service.", color_scheme="gray", size="2"),
    )


def _input(S: Any, f: Any) -> rx.Component:
    name = f["name"]
    value = S.runbook_values[name]
    on_change = lambda v: S.set_runbook_value(name, v)  # noqa: E731
    return rx.match(
        f["kind"],
        ("select", rx.select(S.runbook_options[name], value=value, on_change=on_change,
                             placeholder="Choose…", width="100%", name=name,
                             custom_attrs={"aria-label": name})),
        ("checkbox", rx.checkbox(checked=value == "true", on_change=on_change, name=name,
                                 aria_label=name)),
        ("json", rx.text_area(value=value, on_change=on_change, rows="3", width="100%",
                              placeholder="JSON object", name=name, aria_label=name)),
        rx.input(value=value, on_change=on_change, width="100%", name=name, aria_label=name,
                 placeholder=rx.match(f["kind"], ("list", "comma-separated values"),
                                      ("integer", "a whole number"), ("number", "a number"),
                                      "")),
    )


def _field(S: Any, f: Any) -> rx.Component:
    name = f["name"]
    return rx.vstack(
        rx.text(rx.text.strong(f["label"]), rx.cond(f["required"] != "", " *", ""), size="2"),
        rx.cond(f["description"] != "", rx.text(f["description"], size="1", color_scheme="gray")),
        _input(S, f),
        rx.cond(
            S.runbook_errors.contains(name),
            rx.text(S.runbook_errors[name], size="1", color_scheme="red", class_name="field-error",
                    data_field=name),
        ),
        spacing="1",
        width="100%",
        class_name="runbook-field",
        data_field=name,
    )


def form(S: Any) -> rx.Component:
    """The form of the open runbook, checked by the server on submit."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Run runbook ", rx.code(S.runbook_name)),
            rx.cond(S.runbook_description != "",
                    rx.dialog.description(S.runbook_description, size="2")),
            rx.vstack(
                rx.foreach(S.runbook_fields, lambda f: _field(S, f)),
                rx.cond(S.runbook_fields.length() == 0,
                        rx.text("This runbook takes no parameters.", size="2",
                                color_scheme="gray")),
                rx.cond(S.runbook_problem != "",
                        rx.callout(S.runbook_problem, color_scheme="red", size="1",
                                   id="runbook-problem")),
                spacing="3",
                width="100%",
                margin_top="0.75em",
            ),
            rx.flex(
                rx.button("Cancel", on_click=S.close_runbook, variant="soft", color_scheme="gray"),
                rx.button("Run", on_click=S.submit_runbook, id="runbook-submit"),
                spacing="2",
                justify="end",
                margin_top="1em",
            ),
            id="runbook-form",
        ),
        open=S.runbook_name != "",
        on_open_change=lambda _open: S.close_runbook(),
    )


def runs(S: Any) -> rx.Component:
    """Each runbook run on the incident, newest first, with its latest outcome."""
    return rx.cond(
        S.runbook_runs.length() > 0,
        rx.vstack(
            rx.heading("Runbook runs", size="4"),
            rx.foreach(
                S.runbook_runs,
                lambda r: rx.card(
                    rx.flex(
                        rx.badge(r["state"], color_scheme=rx.match(
                            r["state"], *[(k, v) for k, v in _STATE_COLOURS.items()], "gray"),
                                high_contrast=True),
                        rx.code(r["runbook"]),
                        rx.cond(r["http"] != "", rx.text("HTTP ", r["http"], size="2")),
                        rx.cond(r["attempt"] != "",
                                rx.text("attempt ", r["attempt"], size="2", color_scheme="gray")),
                        rx.cond(r["duration"] != "",
                                rx.text(r["duration"], size="2", color_scheme="gray")),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    rx.text(r["at"], " · ", r["by"],
                            rx.cond(r["params"] != "", rx.text.span(" · ", r["params"])),
                            size="1", color_scheme="gray"),
                    rx.cond(r["detail"] != "",
                            rx.code_block(r["detail"], language="log", wrap_long_lines=True,
                                          class_name="runbook-result")),
                    width="100%",
                    class_name="runbook-run",
                    data_state=r["state"],
                ),
            ),
            spacing="2",
            width="100%",
            id="runbook-runs",
        ),
    )
