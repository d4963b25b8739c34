"""The incident page as a cockpit: the timeline of a real page (escalator, a refused then
accepted email), an acknowledgement from Slack and a note, read as sentences with names; the
filters and their counts; the alert's labels, links, images and details; who is on call now
and next; related incidents; the services affected upstream and downstream."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert, update

from oncall.config.configset import ConfigSet
from oncall.core.schedule import who_at
from oncall.db.engine import write_session
from oncall.db.models import AlertRow, AuditEventRow
from oncall.incidents import service
from oncall.incidents.people import actor_for_email
from oncall.testing.incidents import open_incident
from oncall.web.state.incident import IncidentState

from .conftest import NOW, OBSERVER, call
from .paging import RETRY_WAIT, page_by_email

PRIYA = "priya.raman@northwind.example"


def _load(state: Callable[..., Any], email: str, iid: int) -> IncidentState:
    s: IncidentState = state(IncidentState, email, f"/incidents/{iid}", {"incident_id": str(iid)})
    call(s, "load")
    return s


def _open(web: Engine, title: str, at: Any = NOW) -> int:
    with write_session(web) as session:
        return open_incident(session, service="checkout-api", title=title, priority="P1",
                             labels={"env": "prod", "region": "eu-west-1"}, now=at)


def test_the_cockpit_of_a_paged_acknowledged_incident(
        state: Callable[..., Any], web: Engine, example_config: ConfigSet) -> None:
    earlier = _open(web, "Checkout slow", NOW - timedelta(days=2))
    long_ago = _open(web, "Checkout flaky", NOW - timedelta(days=9))
    iid = _open(web, "Checkout down")
    with write_session(web) as session:
        session.execute(update(AlertRow).where(AlertRow.incident_id == iid).values(annotations={
            "links": [{"href": "https://grafana.example/d/checkout", "text": "Dashboard"},
                      {"href": "javascript:alert(1)", "text": "Bad"}],
            "details": {"p99_ms": 2300, "pods": ["a", "b"],
                        "images": [{"src": "https://grafana.example/render/p99.png",
                                    "alt": "p99 graph"}]},
        }))
    page_by_email(web, example_config, iid, NOW)
    primary = example_config.schedules["payments-primary"]
    paged = who_at(primary, NOW)
    assert paged is not None
    name = example_config.users[paged].name
    later = NOW + RETRY_WAIT + timedelta(minutes=1)
    with write_session(web) as session:
        actor = actor_for_email(session, PRIYA, via="slack")
        assert actor is not None
        service.acknowledge(session, iid, actor, later)
        service.add_note(session, iid, actor, "Rolled back **release 42**", later)

    s = _load(state, OBSERVER, iid)
    texts = [t["text"] for t in s.timeline]
    page = next(t for t in s.timeline if t["category"] == "pages"
                and t["text"].startswith("Paged "))
    assert page["text"].startswith(f"Paged {name} by email — sent in ")
    assert [line["text"].split(" in ")[0] for line in page["lines"]] == [
        "email via smtp, attempt 1: failed", "email: will be tried again",
        "email via smtp, attempt 2: sent"]
    assert "451 4.7.1 greylisted" in page["lines"][0]["text"]
    assert f"Escalation step 1 — paging {name}" in texts
    assert "Acknowledged by Priya Raman from Slack" in texts
    note = s.timeline[-1]
    assert (note["text"], note["is_note"]) == ("Note by Priya Raman", "yes")
    assert "**release 42**" in note["note"]
    assert not any("{" in t or "notification_id" in t for t in texts)
    assert all(t["utc"].endswith(" UTC") for t in s.timeline)

    counts = {f["name"]: f["count"] for f in s.timeline_filters}
    assert counts == {"all": str(len(texts)), "pages": "2", "people": "2", "automation": "0",
                      "alerts": "2"}
    call(s, "set_timeline_filter", "people")
    assert [t["text"] for t in s.timeline] == ["Acknowledged by Priya Raman from Slack",
                                               "Note by Priya Raman"]
    call(s, "set_timeline_filter", "bogus")
    assert s.timeline_filter == "all" and len(s.timeline) == len(texts)

    [alert] = s.alerts
    assert alert["labels"] == [{"name": "env", "value": "prod"},
                               {"name": "region", "value": "eu-west-1"}]
    assert alert["links"] == [{"href": "https://grafana.example/d/checkout",
                               "text": "Dashboard"}]
    assert alert["images"] == [{"href": "https://grafana.example/render/p99.png",
                                "text": "p99 graph"}]
    assert '  "p99_ms": 2300,' in alert["details"] and '    "a",' in alert["details"]

    steps = [(o["step"], o["schedule"]) for o in s.oncall]
    assert steps == [("1", "payments-primary"), ("2", "payments-secondary")]
    assert s.oncall[0]["now"] == example_config.users[paged].name

    assert [r["id"] for r in s.related] == [str(earlier)]
    assert s.related[0]["href"] == f"/incidents/{earlier}" and str(long_ago) not in {
        r["id"] for r in s.related}

    up = {u["name"]: u["how"] for u in s.upstream}
    assert up["payment-gateway"] == "direct" and up["kubernetes-prod"] == "via 1 other"
    assert {d["name"] for d in s.downstream} >= {"storefront-web"}


def test_an_html_note_is_sent_as_text(state: Callable[..., Any], web: Engine) -> None:
    iid = _open(web, "Checkout XSS")
    with write_session(web) as session:
        actor = actor_for_email(session, PRIYA, via="web")
        assert actor is not None
        service.add_note(session, iid, actor, "<img src=x onerror=alert(1)>", NOW)
    s = _load(state, OBSERVER, iid)
    # Every Markdown character escaped: the browser shows the text that was typed.
    assert s.timeline[-1]["note"] == r"\<img src\=x onerror\=alert\(1\)\>"


def test_a_500_event_timeline_loads_well_under_a_second(
        state: Callable[..., Any], web: Engine) -> None:
    iid = _open(web, "Checkout long story")
    kinds = ["incident.alert", "incident.note", "incident.escalated", "incident.priority_changed"]
    with write_session(web) as session:
        session.execute(insert(AuditEventRow), [
            {"at": NOW + timedelta(seconds=n), "type": kinds[n % 4], "incident_id": iid,
             "actor": f"user:{PRIYA}" if n % 4 == 1 else "system:oncall",
             "data": {"summary": f"Repeat {n}", "text": f"Note {n}", "step": n % 3,
                      "users": [PRIYA]}}
            for n in range(500)])
    _load(state, OBSERVER, _open(web, "Warm-up"))  # the process's one-time costs
    s: IncidentState = state(IncidentState, OBSERVER, f"/incidents/{iid}",
                             {"incident_id": str(iid)})
    started = time.perf_counter()
    call(s, "load")
    took = time.perf_counter() - started
    assert len(s.timeline) >= 500 and took < 1.0, took
    assert "Escalated to step 2 (no acknowledgement in 5 min) — paging Priya Raman" in {
        t["text"] for t in s.timeline}
