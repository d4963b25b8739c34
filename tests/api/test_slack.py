"""Slack interactivity and slash commands: signed requests act as the mapped user; forged or
unknown ones change nothing and get a clear reply."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.testclient import TestClient

from oncall.api import slack as slack_api
from oncall.api.app import ApiContext, create_api
from oncall.config.configset import ConfigSet
from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    IncidentRow,
    NotificationRow,
    PostmortemRow,
    StatusPageNoticeRow,
    StatusPageNoticeUpdateRow,
)
from oncall.notify.message import ACK_ACTION_ID
from oncall.settings import Settings
from oncall.testing.incidents import open_incident
from oncall.testing.peers import SlackPeer

SECRET = "slack-signing-s3cret"


@dataclass
class Slack:
    client: TestClient
    peer: SlackPeer
    engine: Engine
    ids: dict[str, str]

    def post(self, path: str, form: dict[str, str], *, secret: str = SECRET,
             timestamp: int | None = None) -> object:
        body = urlencode(form).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   **SlackPeer.sign(body, secret, timestamp)}
        return self.client.post(path, content=body, headers=headers)

    def click(self, email: str, action_id: str, value: str, **kw: Any) -> object:
        payload = {
            "type": "block_actions",
            "user": {"id": self.ids.get(email, "UNKNOWN1")},
            "actions": [{"action_id": action_id, "value": value}],
            "response_url": self.peer.response_url,
        }
        return self.post("/api/v1/slack/interactions", {"payload": json.dumps(payload)}, **kw)

    def command(self, email: str, text: str) -> object:
        return self.post("/api/v1/slack/commands", {
            "command": "/oncall", "text": text, "user_id": self.ids.get(email, "UNKNOWN1"),
        })


@pytest.fixture
def slack(applied_engine: Engine, example_config: ConfigSet) -> Iterator[Slack]:
    ids = {email: f"U{i:05d}" for i, email in enumerate(sorted(example_config.users))}
    ids["stranger@elsewhere.example"] = "USTRANGER"
    with SlackPeer(users=ids) as peer:
        environ = {**peer.env(), "ONCALL_SLACK_SIGNING_SECRET": SECRET}
        app = create_api(Settings(database_url=str(applied_engine.url)), applied_engine,
                         environ=environ)
        with TestClient(app) as client:
            yield Slack(client, peer, applied_engine, ids)


def new_incident(engine: Engine) -> int:
    with write_session(engine) as session:
        return open_incident(session, service="checkout-api", group_key="slack",
                             title="Checkout down", priority="P1",
                             integration="prometheus-prod", now=datetime.now(UTC))


def status(engine: Engine, incident_id: int) -> str:
    with Session(engine) as session:
        incident = session.get(IncidentRow, incident_id)
        assert incident is not None
        return incident.status


def test_acknowledge_button_acts_as_the_slack_user(slack: Slack) -> None:
    incident_id = new_incident(slack.engine)
    response = slack.click("marcus.bell@northwind.example", ACK_ACTION_ID,
                           f"acknowledge:{incident_id}")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert status(slack.engine, incident_id) == "acknowledged"
    with Session(slack.engine) as session:
        event = session.scalars(
            select(AuditEventRow).where(AuditEventRow.type == "incident.acknowledged")
        ).one()
        assert event.actor == "user:marcus.bell@northwind.example"
        assert event.data == {"via": "slack"}
    for _ in range(50):
        if slack.peer.responses():
            break
        time.sleep(0.05)
    assert slack.peer.responses()[0]["text"] == f"Incident #{incident_id} acknowledged."


def test_observer_click_is_refused(slack: Slack) -> None:
    incident_id = new_incident(slack.engine)
    response = slack.click("eve.larsen@northwind.example", ACK_ACTION_ID,
                           f"acknowledge:{incident_id}")
    assert "observer" in response.json()["text"]  # type: ignore[attr-defined]
    assert status(slack.engine, incident_id) == "triggered"


def test_a_responder_of_another_team_is_refused(slack: Slack) -> None:
    """Issue 15 row 4 in Slack: a storefront responder cannot ack or resolve a payments
    incident, by button or by slash command."""
    incident_id = new_incident(slack.engine)
    response = slack.click("samuel.osei@northwind.example", ACK_ACTION_ID,
                           f"acknowledge:{incident_id}")
    assert "Not allowed" in response.json()["text"]  # type: ignore[attr-defined]
    assert "payments" in response.json()["text"]  # type: ignore[attr-defined]
    reply = slack.command("samuel.osei@northwind.example", f"resolve {incident_id}")
    assert "Not allowed" in reply.json()["text"]  # type: ignore[attr-defined]
    assert status(slack.engine, incident_id) == "triggered"


def test_unknown_slack_user_changes_nothing(slack: Slack) -> None:
    incident_id = new_incident(slack.engine)
    response = slack.click("stranger@elsewhere.example", ACK_ACTION_ID,
                           f"acknowledge:{incident_id}")
    assert "not an oncall user" in response.json()["text"]  # type: ignore[attr-defined]
    assert status(slack.engine, incident_id) == "triggered"


@pytest.mark.parametrize(
    ("secret", "age"), [("wrong-secret", 0), (SECRET, 301)], ids=["forged", "replayed"]
)
def test_bad_signatures_are_refused(slack: Slack, secret: str, age: int) -> None:
    incident_id = new_incident(slack.engine)
    response = slack.click("marcus.bell@northwind.example", ACK_ACTION_ID,
                           f"acknowledge:{incident_id}", secret=secret,
                           timestamp=int(time.time()) - age)
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert status(slack.engine, incident_id) == "triggered"


def test_slash_commands(slack: Slack) -> None:
    incident_id = new_incident(slack.engine)
    marcus = "marcus.bell@northwind.example"
    reply = slack.command(marcus, f"ack {incident_id}").json()  # type: ignore[attr-defined]
    assert reply == {"response_type": "ephemeral", "text": f"Incident #{incident_id} acknowledged."}
    reply = slack.command(marcus, f"resolve #{incident_id}").json()  # type: ignore[attr-defined]
    assert reply["text"] == f"Incident #{incident_id} resolved."
    assert status(slack.engine, incident_id) == "resolved"
    who = slack.command(marcus, "who checkout-api").json()["text"]  # type: ignore[attr-defined]
    assert who.startswith("On call for checkout-api now (step 1): ")
    assert "did you mean 'checkout-api'" in slack.command(marcus, "who checkout").json()["text"]  # type: ignore[attr-defined]
    assert "Usage" in slack.command(marcus, "ack").json()["text"]  # type: ignore[attr-defined]
    assert "/oncall ack 123" in slack.command(marcus, "help").json()["text"]  # type: ignore[attr-defined]
    assert "does not exist" in slack.command(marcus, "ack 99999").json()["text"]  # type: ignore[attr-defined]
    echoed = slack.command(marcus, "who <!channel> <https://evil.example|docs>").json()["text"]  # type: ignore[attr-defined]
    assert echoed.startswith("No service '&lt;!channel&gt; &lt;https://evil.example|docs&gt;'")
    assert "<" not in echoed


def test_a_click_that_changes_an_incident_wakes_the_worker(
        slack: Slack, monkeypatch: pytest.MonkeyPatch) -> None:
    woken: list[str] = []
    app: Any = slack.client.app
    monkeypatch.setattr(app.state.ctx, "wake", lambda: woken.append("wake"))
    incident_id = new_incident(slack.engine)
    slack.click("marcus.bell@northwind.example", ACK_ACTION_ID, f"acknowledge:{incident_id}")
    assert status(slack.engine, incident_id) == "acknowledged"
    assert woken == ["wake"]


def test_the_command_handler_answers_when_called_directly(applied_engine: Engine) -> None:
    ctx = ApiContext(settings=Settings(database_url=str(applied_engine.url)),
                     engine=applied_engine, environ={})
    request = Request({"type": "http", "method": "POST", "path": "/api/v1/slack/commands",
                       "query_string": b"", "headers": []})
    unconfigured = slack_api.commands(slack_api.Slack.from_context(ctx), request, b"text=help")
    assert unconfigured.status_code == 503


def _runbook_steps(engine: Engine, incident_id: int) -> list[NotificationRow]:
    with Session(engine) as session:
        return list(session.scalars(select(NotificationRow).where(
            NotificationRow.incident_id == incident_id, NotificationRow.kind == "workflow")))


@pytest.mark.parametrize(("email", "text", "answer", "queued"), [
    ("marcus.bell@northwind.example", 'run restart-checkout #{id} region=eu-west-1 '
     'reason="bad deploy"',
     "Runbook restart-checkout queued on incident #{id} (reason=bad deploy, region=eu-west-1)",
     {"region": "eu-west-1", "reason": "bad deploy"}),
    ("marcus.bell@northwind.example", "run restart-checkout {id} region=mars force=1",
     "Runbook restart-checkout was not run; its parameters are invalid:\n"
     "• force: is not a parameter of this runbook\n"
     "• region: 'mars' is not one of ['us-east-1', 'eu-west-1']", None),
    ("marcus.bell@northwind.example", "run restart-checkout {id}",
     "• region: is required", None),
    ("marcus.bell@northwind.example", "run purge-cdn-cache {id} paths=/a",
     "Cannot run it: service checkout-api does not offer runbook 'purge-cdn-cache'", None),
    ("samuel.osei@northwind.example", "run restart-checkout {id} region=eu-west-1",
     "Not allowed: samuel.osei@northwind.example is not a responder or admin of team "
     "payments", None),
    ("eve.larsen@northwind.example", "run restart-checkout {id} region=eu-west-1",
     "Not allowed:", None),
    ("marcus.bell@northwind.example", "run restart-checkout region=eu-west-1",
     "Usage: /oncall run RUNBOOK INCIDENT_NUMBER", None),
    ("marcus.bell@northwind.example", "run restart-checkout {id} eu-west-1",
     "Every parameter is key=value", None),
    ("marcus.bell@northwind.example", 'run restart-checkout {id} reason="open',
     "Usage: /oncall run", None),
    ("marcus.bell@northwind.example", "run restart-checkout 99999 region=eu-west-1",
     "Incident #99999 does not exist.", None),
])
def test_run_a_runbook_from_slack(slack: Slack, email: str, text: str, answer: str,
                                  queued: dict[str, str] | None) -> None:
    incident_id = new_incident(slack.engine)
    reply = slack.command(email, text.format(id=incident_id)).json()  # type: ignore[attr-defined]
    assert answer.format(id=incident_id) in reply["text"]
    steps = _runbook_steps(slack.engine, incident_id)
    assert [(s.provider_data or {})["action"]["params"] for s in steps] == (
        [queued] if queued else [])
    if queued:
        assert (steps[0].provider_data or {})["by"] == f"user:{email}"


def _notices(engine: Engine) -> list[tuple[str, str, str, list[str], str | None, bool]]:
    with Session(engine) as session:
        rows = session.scalars(select(StatusPageNoticeRow).order_by(StatusPageNoticeRow.id))
        return [(n.page_name, n.title, n.status, n.components, n.created_by,
                 n.resolved_at is not None) for n in rows]


def _updates(engine: Engine) -> list[tuple[str, str, str | None]]:
    with Session(engine) as session:
        rows = session.scalars(select(StatusPageNoticeUpdateRow)
                               .order_by(StatusPageNoticeUpdateRow.id))
        return [(u.status, u.body, u.created_by) for u in rows]


def test_status_posts_and_resolves_a_notice_as_the_slack_user(slack: Slack) -> None:
    admin = "priya.raman@northwind.example"  # a platform admin: every page
    reply = slack.command(admin, 'status northwind-status "Checkout is slow for some '
                          'customers" --component "Checkout and payments"').json()  # type: ignore[attr-defined]
    assert reply["response_type"] == "ephemeral"
    assert reply["text"].startswith("Posted on Northwind Commerce status: notice #")
    assert _notices(slack.engine) == [
        ("northwind-status", "Checkout is slow for some customers", "investigating",
         ["Checkout and payments"], admin, False)]
    slack.command(admin, 'status internal "Builds are queued"')
    reply = slack.command(admin, "status northwind-status resolve").json()  # type: ignore[attr-defined]
    assert reply["text"].startswith("Resolved on Northwind Commerce status: #")
    assert reply["text"].endswith(" Checkout is slow for some customers.")
    assert [(n[0], n[2], n[5]) for n in _notices(slack.engine)] == [
        ("northwind-status", "resolved", True), ("internal", "investigating", False)]
    assert _updates(slack.engine) == [
        ("investigating", "Checkout is slow for some customers", admin),
        ("investigating", "Builds are queued", admin),
        ("resolved", "This incident has been resolved.", admin)]
    reply = slack.command(admin, 'status internal resolve "Builds run again."').json()  # type: ignore[attr-defined]
    assert _updates(slack.engine)[-1] == ("resolved", "Builds run again.", admin)
    again = slack.command(admin, "status internal resolve").json()["text"]  # type: ignore[attr-defined]
    assert again == "Northwind internal services has no open notice to resolve."


@pytest.mark.parametrize(("email", "text", "answer"), [
    ("priya.raman@northwind.example", 'status nope "x"',
     "unknown status page 'nope'; known pages: internal, northwind-status, payment-partners."),
    ("priya.raman@northwind.example", 'status internal "x" --component Search',
     "status page 'internal' has no component 'Search'; its components: Kubernetes, "
     "Order pipelines, Recommendations."),
    ("marcus.bell@northwind.example", "status internal builds are slow",
     'Quote the text: /oncall status internal "…"'),
    ("marcus.bell@northwind.example", "status internal", "Usage: /oncall status PAGE"),
    ("marcus.bell@northwind.example", 'status internal "x" --component',
     "Usage: /oncall status PAGE"),
    ("marcus.bell@northwind.example", 'status internal "open', "Usage: /oncall status PAGE"),
    ("marcus.bell@northwind.example", 'status internal "x"',
     "Not allowed: marcus.bell@northwind.example is not a responder of a team whose services "
     "are on status page 'internal' (data, platform)."),
    ("eve.larsen@northwind.example", 'status internal "x"',
     "Not allowed: eve.larsen@northwind.example is not a responder of a team whose services "
     "are on status page 'internal'"),
    ("stranger@elsewhere.example", 'status internal "x"', "is not an oncall user"),
])
def test_status_mistakes_change_nothing(slack: Slack, email: str, text: str,
                                        answer: str) -> None:
    reply = slack.command(email, text).json()  # type: ignore[attr-defined]
    assert answer in reply["text"]
    assert _notices(slack.engine) == []


def test_help_shows_the_status_command(slack: Slack) -> None:
    text = slack.command("marcus.bell@northwind.example", "help").json()["text"]  # type: ignore[attr-defined]
    assert '/oncall status PAGE "text"' in text and "/oncall status PAGE resolve" in text


# --- postmortem -----------------------------------------------------------------------------


def _postmortems(engine: Engine) -> list[tuple[int, str, str | None]]:
    with Session(engine) as session:
        rows = session.execute(select(PostmortemRow.id, PostmortemRow.created_by,
                                      PostmortemRow.template).order_by(PostmortemRow.id))
        return [(r.id, r.created_by, r.template) for r in rows]


def test_postmortem_opens_the_incidents_review_once_and_links_it(slack: Slack) -> None:
    incident_id = new_incident(slack.engine)
    reply = slack.command("marcus.bell@northwind.example", f"postmortem #{incident_id}")
    ((pm_id, created_by, template),) = _postmortems(slack.engine)
    assert (created_by, template) == ("user:marcus.bell@northwind.example", "payments")
    text = reply.json()["text"]  # type: ignore[attr-defined]
    assert text.startswith(f"Opened postmortem #{pm_id} of incident #{incident_id}: ")
    assert text.endswith(f"/postmortems/{pm_id}")
    again = slack.command("priya.raman@northwind.example", f"postmortem {incident_id}")
    assert again.json()["text"].startswith(  # type: ignore[attr-defined]
        f"Incident #{incident_id} already has postmortem #{pm_id}: ")
    assert len(_postmortems(slack.engine)) == 1


@pytest.mark.parametrize(("email", "text", "answer"), [
    ("eve.larsen@northwind.example", "postmortem {id}",
     "Not allowed: eve.larsen@northwind.example is not a responder or admin of a team whose "
     "incidents it reviews (payments), so cannot open a postmortem of incident #{id}."),
    ("lena.fischer@northwind.example", "postmortem {id}", "Not allowed: "),
    ("marcus.bell@northwind.example", "postmortem 999999", "Incident #999999 does not exist."),
    ("marcus.bell@northwind.example", f"postmortem {2**64}", "does not exist."),
    ("marcus.bell@northwind.example", "postmortem", "Usage: /oncall postmortem INCIDENT_NUMBER"),
    ("marcus.bell@northwind.example", "postmortem checkout", "Usage: /oncall postmortem"),
    ("stranger@elsewhere.example", "postmortem {id}", "is not an oncall user"),
])
def test_postmortem_refusals_are_in_words_and_open_nothing(slack: Slack, email: str, text: str,
                                                           answer: str) -> None:
    incident_id = new_incident(slack.engine)
    reply = slack.command(email, text.format(id=incident_id)).json()  # type: ignore[attr-defined]
    assert answer.format(id=incident_id) in reply["text"]
    assert _postmortems(slack.engine) == []


def test_help_shows_the_postmortem_command(slack: Slack) -> None:
    text = slack.command("marcus.bell@northwind.example", "help").json()["text"]  # type: ignore[attr-defined]
    assert "/oncall postmortem 123" in text


# --- declare, escalate, roles ------------------------------------------------------------------


def _text(reply: object) -> str:
    return str(reply.json()["text"])  # type: ignore[attr-defined]


def _declared(engine: Engine) -> list[tuple[int, str, str | None, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(IncidentRow.id, IncidentRow.title, IncidentRow.priority, AuditEventRow.actor)
            .join(AuditEventRow, AuditEventRow.incident_id == IncidentRow.id)
            .where(AuditEventRow.type == "incident.declared").order_by(IncidentRow.id))
        return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_declare_opens_an_incident_with_the_slack_user_as_commander(slack: Slack) -> None:
    reply = _text(slack.command("marcus.bell@northwind.example",
                                'declare checkout-api \u201cCard payments fail\u201d p1'))
    ((incident_id, title, priority, actor),) = _declared(slack.engine)
    assert (title, priority, actor) == ("Card payments fail", "P1",
                                        "user:marcus.bell@northwind.example")
    assert reply.startswith(f"Declared incident #{incident_id} on checkout-api (P1): "
                            "Card payments fail. You are its commander. ")
    assert reply.endswith(f"/incidents/{incident_id}")
    with Session(slack.engine) as session:
        (via,) = session.scalars(select(AuditEventRow.data).where(
            AuditEventRow.type == "incident.role_assigned")).all()
    assert via == {"via": "slack", "role": "commander",
                   "user": "marcus.bell@northwind.example", "previous": None}


@pytest.mark.parametrize(("email", "text", "answer"), [
    ("eve.larsen@northwind.example", 'declare checkout-api "x"', "Not allowed: "),
    ("marcus.bell@northwind.example", 'declare checkout "x"',
     "No service 'checkout'"),
    ("marcus.bell@northwind.example", 'declare checkout-api "x" P7',
     "Not declared: unknown priority 'P7': expected one of P1, P2, P3, P4, P5."),
    ("marcus.bell@northwind.example", "declare checkout-api Checkout is down",
     "Quote the title"),
    ("marcus.bell@northwind.example", "declare", "Usage: /oncall declare SERVICE"),
    ("stranger@elsewhere.example", 'declare checkout-api "x"', "is not an oncall user"),
])
def test_declare_refusals_open_nothing(slack: Slack, email: str, text: str,
                                       answer: str) -> None:
    assert answer in _text(slack.command(email, text))
    assert _declared(slack.engine) == []


def test_escalate_asks_for_the_next_step_now(slack: Slack) -> None:
    incident_id = new_incident(slack.engine)
    assert "Not allowed" in _text(slack.command("eve.larsen@northwind.example",
                                                f"escalate {incident_id}"))
    reply = _text(slack.command("marcus.bell@northwind.example", f"escalate #{incident_id}"))
    assert reply == f"Incident #{incident_id}: the next escalation step is being paged now."
    with Session(slack.engine) as session:
        assert session.scalar(select(AuditEventRow.actor).where(
            AuditEventRow.type == "incident.escalate_requested")) == (
            "user:marcus.bell@northwind.example")
    slack.command("marcus.bell@northwind.example", f"resolve {incident_id}")
    assert _text(slack.command("marcus.bell@northwind.example", f"escalate {incident_id}")) == (
        f"Incident #{incident_id} is resolved: only a triggered incident escalates.")
    assert "Usage: /oncall escalate" in _text(slack.command("marcus.bell@northwind.example",
                                                             "escalate"))


def test_role_take_give_by_mention_and_clear(slack: Slack) -> None:
    incident_id = new_incident(slack.engine)
    marcus = "marcus.bell@northwind.example"
    assert _text(slack.command(marcus, f"role {incident_id} commander")) == (
        f"{marcus} is now commander of incident #{incident_id}.")
    sofia = slack.ids["sofia.alvarez@northwind.example"]
    assert _text(slack.command(marcus, f"role {incident_id} scribe <@{sofia}|sofia>")) == (
        f"sofia.alvarez@northwind.example is now scribe of incident #{incident_id}.")
    assert _text(slack.command(marcus, f"role {incident_id} communications "
                                       "jordan.reyes@northwind.example")).endswith(
        f"is now communications of incident #{incident_id}.")
    assert _text(slack.command(marcus, f"role {incident_id} scribe clear")) == (
        f"Nobody is scribe of incident #{incident_id} now.")
    assert "Not allowed" in _text(slack.command("eve.larsen@northwind.example",
                                                f"role {incident_id} scribe"))
    assert "No role 'boss'" in _text(slack.command(marcus, f"role {incident_id} boss"))
    assert "Not changed: 'nobody@example.com' is not a member of any team" in _text(
        slack.command(marcus, f"role {incident_id} scribe nobody@example.com"))
    assert "Cannot tell who @sofia is" in _text(
        slack.command(marcus, f"role {incident_id} scribe @sofia"))
    with Session(slack.engine) as session:
        types = list(session.scalars(select(AuditEventRow.type).where(
            AuditEventRow.type.like("incident.role_%")).order_by(AuditEventRow.id)))
    assert types == ["incident.role_assigned"] * 3 + ["incident.role_cleared"]


def test_help_shows_declare_escalate_and_role(slack: Slack) -> None:
    text = _text(slack.command("marcus.bell@northwind.example", "help"))
    for usage in ("/oncall declare SERVICE", "/oncall escalate 123", "/oncall role 123"):
        assert usage in text
