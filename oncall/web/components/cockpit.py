"""The incident page's panels around the timeline: alerts with their labels, links, images
and details; who is on call now and next; related incidents; the services affected."""
# Reflex state attributes read on the class are Vars, not their annotated Python types.
# mypy: disable-error-code="no-any-return, attr-defined, arg-type, operator, index"

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.web.components.layout import status_badge

REL = "noopener noreferrer"


def _out(label: Any, href: Any, class_name: str) -> rx.Component:
    """A link off the app: a new tab that cannot reach back into this one."""
    return rx.link(label, href=href, is_external=True, rel=REL, size="2",
                   class_name=class_name)


def _alert(a: Any) -> rx.Component:
    labels = a["labels"].to(list[dict[str, str]])
    links = a["links"].to(list[dict[str, str]])
    images = a["images"].to(list[dict[str, str]])
    notes = a["annotations"].to(list[dict[str, str]])
    return rx.card(
        rx.vstack(
            rx.text(rx.text.strong(a["summary"]), class_name="alert-summary"),
            rx.text(a["integration"], " · ", a["status"], " · ", a["severity"], " · ",
                    a["received"], size="1", color_scheme="gray"),
            rx.cond(
                a["source_url"] != "",
                _out(a["source"], a["source_url"], "alert-source"),
                rx.cond(a["source"] != "", rx.text(a["source"], size="1", color_scheme="gray")),
            ),
            rx.cond(
                labels.length() > 0,
                rx.flex(
                    rx.foreach(labels, lambda kv: rx.badge(
                        kv["name"], "=", kv["value"], variant="surface", color_scheme="gray",
                        class_name="alert-label", data_label=kv["name"],
                        style={"white_space": "normal", "word_break": "break-all"})),
                    spacing="1", wrap="wrap", class_name="alert-labels",
                ),
            ),
            rx.cond(
                (links.length() > 0) | (images.length() > 0),
                rx.flex(
                    rx.foreach(links, lambda link: _out(link["text"], link["href"],
                                                        "alert-link")),
                    rx.foreach(images, lambda i: _out(
                        rx.text.span("Image: ", i["text"]), i["href"], "alert-image")),
                    spacing="3", wrap="wrap",
                ),
            ),
            rx.foreach(notes, lambda n: rx.text(rx.text.strong(n["name"], ": "), n["value"],
                                                size="2", class_name="alert-annotation")),
            rx.cond(
                a["details"] != "",
                rx.el.details(
                    rx.el.summary("Details", style={"cursor": "pointer"}),
                    rx.el.pre(a["details"], class_name="alert-details",
                              style={"white_space": "pre-wrap", "word_break": "break-word",
                                     "font_size": "0.8em", "margin": "0.25em 0 0"}),
                    open=True,
                ),
            ),
            spacing="1",
            width="100%",
        ),
        width="100%",
        class_name="alert-card",
    )


def alerts(S: Any) -> rx.Component:
    return rx.vstack(rx.foreach(S.alerts, _alert), spacing="2", width="100%", id="alerts")


def oncall(S: Any) -> rx.Component:
    """Each schedule the policy pages: who now and until when, who next."""
    return rx.cond(
        S.oncall.length() > 0,
        rx.vstack(
            rx.foreach(S.oncall, lambda o: rx.box(
                rx.text("Step ", o["step"], " · ", o["schedule"], size="1", color_scheme="gray"),
                rx.text(rx.text.strong(o["now"], class_name="oncall-now"),
                        rx.cond(o["until"] != "", rx.text.span(" until ", o["until"])),
                        size="2"),
                rx.text("then ", rx.text.span(o["next"], class_name="oncall-next"),
                        size="2", color_scheme="gray"),
                class_name="oncall-row",
                data_schedule=o["schedule"],
            )),
            spacing="2", width="100%", id="incident-oncall",
        ),
        rx.text("The service's policy pages no schedule.", size="2", color_scheme="gray",
                id="incident-oncall"),
    )


def related(S: Any) -> rx.Component:
    return rx.cond(
        S.related.length() > 0,
        rx.vstack(
            rx.foreach(S.related, lambda r: rx.flex(
                status_badge(r["status"]),
                rx.link("#", r["id"], " ", r["title"], href=r["href"], size="2"),
                rx.text(r["triggered"], size="1", color_scheme="gray"),
                spacing="2", align="center", wrap="wrap", class_name="related-incident",
            )),
            spacing="1", width="100%", id="related-incidents",
        ),
        rx.text("No other incident on this service in the last 7 days.", size="2",
                color_scheme="gray", id="related-incidents"),
    )


def _services(rows: Any, title: str, id: str, empty: str) -> rx.Component:
    return rx.box(
        rx.text(title, size="2", weight="medium"),
        rx.cond(
            rows.length() > 0,
            rx.flex(
                rx.foreach(rows, lambda s: rx.link(
                    s["name"], rx.text.span(" (", s["how"], ")", size="1"),
                    href="/services", size="2", class_name="affected-service",
                    data_service=s["name"])),
                spacing="3", wrap="wrap",
            ),
            rx.text(empty, size="2", color_scheme="gray"),
        ),
        id=id,
    )


def affected(S: Any) -> rx.Component:
    return rx.vstack(
        _services(S.upstream, "Upstream (it depends on)", "affected-upstream",
                  "Depends on nothing in the config."),
        _services(S.downstream, "Downstream (depend on it)", "affected-downstream",
                  "Nothing in the config depends on it."),
        spacing="2",
        width="100%",
    )
