"""The StatusPage format and the workflow `status` step: defaults a page is read with, errors at
the line that causes them, public texts that cannot reach an incident, and dumps that leave
pages written before these fields unchanged in a plan."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from oncall.config.loader import load_text
from oncall.config.models import (
    DEFAULT_IMPACT,
    IMPACT_LEVELS,
    NOTICE_STATES,
    StatusPage,
    StatusStep,
    Workflow,
)
from oncall.config.schema import json_schema
from oncall.config.templates import (
    NOTICE_VARIABLES,
    STATUS_STEP_VARIABLES,
    TemplateProblem,
    check_template,
    render_notice,
)
from oncall.core import status as core

OLD_PAGE: dict[str, Any] = {
    "kind": "StatusPage", "name": "shop", "title": "Shop status", "visibility": "public",
    "components": [{"name": "Checkout", "services": ["checkout-api"]}],
}


def page(**fields: Any) -> StatusPage:
    return StatusPage.model_validate({**OLD_PAGE, **fields})


def test_a_page_without_the_new_fields_reads_with_their_defaults() -> None:
    p = page()
    assert p.partners == []
    assert p.subscribers.email is True and p.subscribers.webhooks is False
    assert p.impact_map() == {"P1": "major_outage", "P2": "partial_outage",
                              "P3": "degraded_performance", "P4": None, "P5": None}
    assert p.components[0].description is None
    rendered = [render_notice(t, component="Checkout", page=p.title, status="Major outage")
                for t in (p.notices.title, p.notices.opened, p.notices.resolved)]
    assert rendered == ["Checkout: Major outage",
                        "We are investigating an issue affecting Checkout.",
                        "Checkout is operating normally again."]


def test_the_dump_of_a_page_written_before_the_new_fields_is_unchanged() -> None:
    assert page().model_dump(mode="json", by_alias=True) == {
        "apiVersion": "oncall/v1", "name": "shop", "kind": "StatusPage", "title": "Shop status",
        "description": None, "visibility": "public",
        "components": [{"name": "Checkout", "services": ["checkout-api"]}],
    }


def test_new_fields_are_dumped_once_set() -> None:
    p = page(visibility="partners", partners=["@Acme.example"], impact={"P3": "none"},
             notices={"title": "{{ component }} degraded"}, subscribers={"webhooks": True},
             components=[{"name": "Checkout", "services": ["checkout-api"],
                          "description": "Cart and payment"}])
    dumped = p.model_dump(mode="json", by_alias=True)
    assert dumped["partners"] == ["@acme.example"]
    assert dumped["impact"] == {"P3": "none"}
    assert dumped["notices"]["title"] == "{{ component }} degraded"
    assert dumped["subscribers"] == {"email": True, "webhooks": True}
    assert dumped["components"][0]["description"] == "Cart and payment"
    assert StatusPage.model_validate({**dumped}) == p


@pytest.mark.parametrize(
    ("impact", "changed"),
    [
        ({}, {}),
        ({"P3": "none"}, {"P3": None}),
        ({"P4": "degraded_performance", "P1": "partial_outage"},
         {"P4": "degraded_performance", "P1": "partial_outage"}),
        ({"P1": "none", "P2": "none"}, {"P1": None, "P2": None}),
    ],
)
def test_impact_overrides_merge_with_the_default(impact: dict[str, str],
                                                 changed: dict[str, str | None]) -> None:
    assert page(impact=impact).impact_map() == {**DEFAULT_IMPACT, **changed}


def test_the_config_spells_the_cores_impacts_and_notice_states() -> None:
    assert tuple(s.value for s in core.IMPACTS) == IMPACT_LEVELS
    assert {p: (s.value if s else None) for p, s in core.DEFAULT_IMPACT.items()} == DEFAULT_IMPACT
    assert tuple(s.value for s in core.NoticeStatus) == NOTICE_STATES


def test_a_p3_set_to_none_leaves_its_component_operational() -> None:
    mapping = {p: None if v is None else core.ComponentStatus(v)
               for p, v in page(impact={"P3": "none"}).impact_map().items()}
    now = datetime(2026, 1, 1, tzinfo=UTC)
    incidents = [core.OpenIncident("checkout-api", "P3")]
    assert core.computed_status(["checkout-api"], incidents, [], now) is (
        core.ComponentStatus.DEGRADED_PERFORMANCE)
    assert core.computed_status(["checkout-api"], incidents, [], now, mapping) is (
        core.ComponentStatus.OPERATIONAL)


@pytest.mark.parametrize(
    ("written", "kept"),
    [("ops@acme.example", "ops@acme.example"), ("Ops@Acme.Example", "ops@acme.example"),
     ("@acme.example", "@acme.example"), ("@EU.Acme.example", "@eu.acme.example")],
)
def test_partners_are_emails_or_domains(written: str, kept: str) -> None:
    assert page(visibility="partners", partners=[written]).partners == [kept]


# --- validation, as `oncall validate` reports it ------------------------------------------------

HEAD = """\
kind: Team
name: payments
members:
  - {email: alice@example.com}
---
kind: Service
name: checkout-api
team: payments
---
"""


def errors(text: str) -> list[tuple[int, str]]:
    result = load_text(HEAD + text)
    offset = HEAD.count("\n")
    return [(d.position.line - offset, d.message) for d in result.errors]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("visibility: partners\n",
         [(4, "visibility 'partners' needs 'partners': the emails and @domains that may read "
              "the page")]),
        ("visibility: partners\npartners: []\n", [(4, "visibility 'partners' needs 'partners'")]),
        ("visibility: public\npartners: [ops@acme.example]\n",
         [(5, "'partners' applies only to visibility 'partners' (this page is 'public')")]),
        ("partners: [ops@acme.example]\n",
         [(4, "'partners' applies only to visibility 'partners' (this page is 'private')")]),
        ("visibility: partners\npartners: [\"@acme.example\", \"@ACME.example\"]\n",
         [(5, "partner '@acme.example' is listed twice")]),
        ("visibility: partners\npartners: [\"@acme\"]\n",
         [(5, "invalid domain '@acme': write it as @example.com")]),
        ("visibility: partners\npartners: [acme.example]\n",
         [(5, "invalid partner 'acme.example': expected an email address or @domain")]),
        ("impact: {P3: outage}\n", [(4, "P3: invalid value 'outage'")]),
        ("impact: {P9: none}\n", [(4, "P9: invalid value 'P9'")]),
        ("notices: {title: \"{{ incident.title }}\"}\n",
         [(4, "unknown variable 'incident'; known here: component, page, status")]),
        ("notices:\n  resolved: \"{{ alert.labels.host }} is back\"\n",
         [(5, "unknown variable 'alert'; known here: component, page, status")]),
        ("notices: {opened: \"{{ component }\"}\n", [(4, "template syntax error")]),
        ("subscribers: {sms: true}\n", [(4, "unknown field 'sms'")]),
    ],
)
def test_page_errors_are_reported_at_their_line(body: str, expected: list[tuple[int, str]]
                                                ) -> None:
    text = ("kind: StatusPage\nname: shop\ntitle: Shop\n" + body
            + "components:\n  - {name: Checkout, services: [checkout-api]}\n")
    found = errors(text)
    assert [line for line, _ in found] == [line for line, _ in expected]
    for (_, message), (_, start) in zip(found, expected, strict=True):
        assert message.startswith(start), message


def test_component_names_are_unique_within_a_page() -> None:
    text = """\
kind: StatusPage
name: shop
title: Shop
components:
  - {name: Checkout, services: [checkout-api]}
  - {name: Payments, services: [checkout-api]}
  - {name: Checkout, services: [checkout-api]}
"""
    assert errors(text) == [
        (7, "component 'Checkout' is listed twice: names are unique within a page")]


def test_the_example_shape_validates() -> None:
    text = """\
kind: StatusPage
name: shop
title: Shop status
visibility: partners
partners: [ops@acme.example, "@partner.example"]
impact: {P1: major_outage, P2: partial_outage, P3: degraded_performance, P4: none, P5: none}
notices:
  title: "Degraded {{ component }}"
  opened: "We are investigating degraded {{ component }} on {{ page }}."
  resolved: "{{ component }} is operating normally again ({{ status }})."
subscribers: {email: true, webhooks: false}
components:
  - {name: Checkout, services: [checkout-api], description: "Cart and payment"}
  - {name: Payments, services: [checkout-api]}
"""
    assert errors(text) == []


@pytest.mark.parametrize(
    ("source", "variables"),
    [("{{ incident.title }}", NOTICE_VARIABLES), ("{{ labels }}", NOTICE_VARIABLES),
     ("{{ event.data }}", NOTICE_VARIABLES), ("{{ incident.title }}", STATUS_STEP_VARIABLES),
     ("{{ service.labels }}{{ title }}", STATUS_STEP_VARIABLES)],
)
def test_public_texts_cannot_name_an_incident(source: str, variables: frozenset[str]) -> None:
    with pytest.raises(TemplateProblem, match="unknown variable"):
        check_template(source, variables)


def test_render_notice_passes_only_the_public_names() -> None:
    text = "{{ page }} / {{ component }} / {{ status }}"
    assert render_notice(text, component="Checkout", page="Shop", status="Partial outage") == (
        "Shop / Checkout / Partial outage")
    with pytest.raises(TemplateProblem):
        render_notice("{{ incident }}", component="Checkout", page="Shop", status="x")


# --- the workflow `status` step ---------------------------------------------------------------


def workflow(*steps: dict[str, Any]) -> Workflow:
    return Workflow.model_validate({"kind": "Workflow", "name": "w", "on": ["incident.triggered"],
                                    "steps": list(steps)})


def test_a_status_step_reads_with_its_defaults() -> None:
    (step,) = workflow({"status": {"page": "shop", "text": "Looking into {{ service }}"}}).steps
    assert isinstance(step, StatusStep)
    assert (step.status.page, step.status.state, step.status.component,
            step.continue_on_error) == ("shop", "investigating", None, False)
    assert workflow({"status": {"page": "shop", "text": "t"}}).model_dump(
        mode="json", by_alias=True)["steps"] == [
        {"status": {"page": "shop", "text": "t", "state": "investigating", "component": None}}]


PAGE_DOC = """\
kind: StatusPage
name: shop
title: Shop
components:
  - {name: Checkout, services: [checkout-api]}
  - {name: Refunds, services: [checkout-api]}
---
kind: Workflow
name: publish
on: [incident.triggered]
steps:
"""


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ('- status: {page: shop, text: "{{ service }} on {{ page }}", state: identified, '
         'component: Checkout}', []),
        ("- status: {page: shpo, text: Looking}",
         ["unknown status page 'shpo' (did you mean 'shop'?)"]),
        ("- status: {page: shop, component: Refund, text: Looking}",
         ["unknown component 'Refund' of status page 'shop' (did you mean 'Refunds'?); "
          "components: Checkout, Refunds"]),
        ('- status: {page: shop, text: "{{ incident.title }}"}',
         ["unknown variable 'incident'; known here: page, service"]),
        ('- if: "true"\n  then:\n    - status: {page: shop, text: "{{ event.actor }}"}',
         ["unknown variable 'event'; known here: page, service"]),
        ("- status: {page: shop, text: Fixed, state: fixed}",
         ["state: invalid value 'fixed': expected 'investigating', 'identified', "
          "'monitoring' or 'resolved'"]),
        ("- status: {page: shop}", ["missing required field 'text'"]),
    ],
)
def test_status_step_validation(step: str, expected: list[str]) -> None:
    assert [m for _, m in errors(PAGE_DOC + "  " + step.replace("\n", "\n  ") + "\n")] == (
        expected)


def test_a_status_step_on_a_broken_page_is_not_reported_twice() -> None:
    text = PAGE_DOC.replace("title: Shop\n", "") + "  - status: {page: shop, text: Looking}\n"
    assert [m for _, m in errors(text)] == ["missing required field 'title'"]


def test_the_json_schema_knows_the_new_fields() -> None:
    schema = json_schema()
    page_props = schema["$defs"]["StatusPage"]["properties"]
    assert {"partners", "impact", "notices", "subscribers"} <= page_props.keys()
    text = str(schema)
    for word in ("StatusStep", "StatusAction", "NoticeTexts", "Subscribers", "major_outage",
                 "monitoring"):
        assert word in text
