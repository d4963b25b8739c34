"""The services catalog with dependencies, and the provenance of every config object."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components import changes
from oncall.web.components.graph import dependency_graph
from oncall.web.components.layout import page, status_badge
from oncall.web.state.services import ConfigState, ServicesState


def _tree(title: str, nodes: Any) -> rx.Component:
    return rx.box(
        rx.text(title, size="2", weight="bold"),
        rx.cond(
            nodes.length() > 0,
            rx.vstack(
                rx.foreach(
                    nodes,
                    lambda n: rx.text(
                        "└ ",
                        n["name"],
                        rx.cond(
                            n["open"] != "0",
                            rx.badge(n["open"], " open", color_scheme="red", margin_left="0.4em",
                                high_contrast=True),
                        ),
                        size="2",
                        padding_left=n["indent"],
                    ),
                ),
                spacing="0",
            ),
            rx.text("none", size="2", color_scheme="gray"),
        ),
        min_width="14em",
    )


def _heartbeat(h: Any) -> rx.Component:
    return rx.flex(
        rx.badge(
            "heartbeat ", h["name"], ": ", h["state"],
            color_scheme=rx.match(h["state"], ("up", "green"), ("late", "amber"),
                                  ("down", "red"), "gray"),
            size="2", high_contrast=True),
        rx.text(h["every"], " ", h["last"], size="1", color_scheme="gray"),
        spacing="2",
        align="center",
        class_name="heartbeat",
    )


def _limited(row: Any) -> rx.Component:
    return rx.flex(
        rx.badge("integration ", row["integration"], color_scheme="amber", size="2",
            high_contrast=True),
        rx.text(row["refused"], size="1", color_scheme="gray"),
        spacing="2",
        align="center",
        class_name="rate-limited",
    )


def _card(c: Any) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                status_badge(c["status"]),
                rx.heading(rx.link(c["name"], href="/services/" + c["name"].to(str)), size="3"),
                rx.text(c["open"], " open", size="2", color_scheme="gray"),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text(c["description"], size="2"),
            rx.foreach(c["heartbeats"].to(list[dict[str, str]]), _heartbeat),
            rx.foreach(c["limited"].to(list[dict[str, str]]), _limited),
            changes.listing(c["changes"].to(list[dict[str, Any]])),
            rx.text(
                "Owner ",
                rx.text.strong(c["team"]),
                " · policy ",
                c["policy"],
                " · urgency ",
                c["urgency"],
                size="2",
                color_scheme="gray",
            ),
            rx.flex(
                _tree("Depends on (direct)", c["upstream"].to(list[dict[str, str]])),
                rx.box(rx.text("⇢", size="5"), padding_top="1em"),
                rx.box(
                    rx.text(c["name"], weight="bold"),
                    padding="0.5em",
                    border="2px solid var(--accent-8)",
                    border_radius="6px",
                    align_self="center",
                ),
                rx.box(rx.text("⇢", size="5"), padding_top="1em"),
                _tree("Used by (direct)", c["downstream"].to(list[dict[str, str]])),
                spacing="3",
                wrap="wrap",
                class_name="dependency-graph",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        class_name="service-card",
    )


def services_page() -> rx.Component:
    return page(
        dependency_graph(),
        rx.vstack(rx.foreach(ServicesState.cards, _card), spacing="3", width="100%"),
        title="Services",
    )


def _edit_link(o: Any) -> rx.Component:
    """Policies and workflows open in their editors, which write YAML for the config repo."""
    name = o["name"].to(str)
    return rx.match(
        o["kind"],
        ("EscalationPolicy", rx.link(" (edit)", href="/policies/" + name + "/edit",
                                     underline="always",
                                     aria_label="Edit escalation policy " + name)),
        ("Workflow", rx.link(" (edit)", href="/workflows/" + name + "/edit",
                             underline="always", aria_label="Edit workflow " + name)),
        rx.fragment(),
    )


def config_page() -> rx.Component:
    S = ConfigState
    return page(
        rx.card(
            rx.cond(
                S.run.length() > 0,
                rx.vstack(
                    rx.flex(
                        rx.text(
                            "Last reconcile: ",
                            rx.text.strong(S.run["result"]),
                            " at ",
                            S.run["at"],
                            " by ",
                            S.run["actor"],
                        ),
                        spacing="2",
                        wrap="wrap",
                    ),
                    rx.text(
                        "Revision ",
                        S.run["revision"],
                        " from ",
                        S.run["source"],
                        " · ",
                        S.run["changes"],
                        size="2",
                        color_scheme="gray",
                    ),
                    rx.foreach(S.run_errors, lambda e: rx.text(e, color_scheme="red", size="2")),
                    rx.cond(
                        S.drift_count > 0,
                        rx.callout(
                            rx.text(
                                S.drift_count,
                                " object(s) changed in the database "
                                "since they were applied (drift): the next "
                                "apply restores them.",
                            ),
                            color_scheme="amber",
                            high_contrast=True,
                        ),
                        rx.text(
                            "No drift: the database matches what was applied.",
                            size="2",
                            color_scheme="green",
                        ),
                    ),
                    spacing="1",
                ),
                rx.text("The config has never been applied.", color_scheme="gray"),
            ),
            width="100%",
        ),
        rx.flex(
            rx.link("New escalation policy", href="/policies/new", id="new-policy"),
            rx.link("New workflow", href="/workflows/new", id="new-workflow"),
            spacing="4", wrap="wrap",
        ),
        rx.select(S.kinds, value=S.kind_filter, on_change=S.set_kind_filter,
                  custom_attrs={"aria-label": "Kind of config object"}),
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("Kind", "Name", "Source", "Revision", "Applied", "")
                        ]
                    )
                ),
                rx.table.body(
                    rx.foreach(
                        S.objects,
                        lambda o: rx.table.row(
                            rx.table.cell(o["kind"]),
                            rx.table.cell(o["name"], _edit_link(o)),
                            rx.table.cell(rx.code(o["source"])),
                            rx.table.cell(o["revision"]),
                            rx.table.cell(o["applied"], " by ", o["by"]),
                            rx.table.cell(
                                rx.cond(o["drift"] != "", rx.badge("drift", color_scheme="amber",
                                    high_contrast=True))
                            ),
                        ),
                    )
                ),
                width="100%",
                size="1",
            ),
            overflow_x="auto",
            width="100%",
            tab_index=0, role="region", aria_label="Applied config objects",
        ),
        title="Config",
    )
