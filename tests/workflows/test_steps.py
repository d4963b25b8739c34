"""Each step kind against the local peers through the real providers and SDKs; `page` through
the outbox on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.schedule import who_at
from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    ContactMethodRow,
    EscalationTimerRow,
    NotificationRow,
    NotificationRuleRow,
    PostmortemRow,
    StatusPageNoticeRow,
    StatusPageNoticeUpdateRow,
    UserRow,
)
from oncall.incidents import service
from oncall.incidents.actors import Actor
from oncall.notify.settings import ProviderSettings
from oncall.testing.incidents import open_incident
from oncall.testing.peers import SlackPeer, TeamsPeer
from oncall.testing.peers.aws import MotoPeer
from oncall.testing.peers.smtp import SmtpPeer
from oncall.worker.providers import ProviderChains, build_chains
from oncall.workflows import DenyList, StepContext, run_step

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
SENDER = "oncall@northwind.example"
PRIYA = Actor("user", "priya.raman@northwind.example", {"payments": "admin"}, via="web")


@pytest.fixture(scope="module")
def memory_engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://")
    yield engine
    engine.dispose()


def context(chains: ProviderChains, engine: Engine, config: ConfigSet, *,
            environ: dict[str, str] | None = None, incident_id: int = 1,
            step_key: str | None = "wf:p1-broadcast:1:7:0") -> StepContext:
    return StepContext(environ=environ or {}, deny=DenyList.default(), chains=chains,
                       public_url="https://oncall.example", engine=engine, config=config,
                       clock=lambda: T0, incident_id=incident_id, actor="workflow:p1-broadcast",
                       step_key=step_key)


def chains_for(*envs: dict[str, str]) -> ProviderChains:
    env = {"ONCALL_PUBLIC_URL": "https://oncall.example", "ONCALL_PROVIDER_TIMEOUT": "3",
           "ONCALL_EMAIL_FROM": SENDER}
    for part in envs:
        env.update(part)
    return build_chains(ProviderSettings.from_env(env))


# --- slack -------------------------------------------------------------------------------------


def test_slack_posts_the_text_to_the_channel_as_data(
        memory_engine: Engine, example_config: ConfigSet) -> None:
    with SlackPeer() as slack:
        ctx = context(chains_for(slack.env()), memory_engine, example_config)
        outcome = run_step("slack", {"channel": "#incidents",
                                     "text": "P1 <!channel> checkout & <https://x|y>"}, 5, ctx)
        (posted,) = slack.calls("chat.postMessage")
    assert outcome.ok and not outcome.retryable, outcome
    assert posted["channel"] == "#incidents"
    # Slack's control sequences in alert data are shown as written, never acted on
    assert posted["text"] == "P1 &lt;!channel&gt; checkout &amp; &lt;https://x|y&gt;"
    assert "#incidents" in outcome.detail


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, True), (400, False)])
def test_slack_failures_follow_the_providers_rule(
        memory_engine: Engine, example_config: ConfigSet, status: int, retryable: bool) -> None:
    with SlackPeer() as slack:
        slack.fail(status)
        ctx = context(chains_for(slack.env()), memory_engine, example_config)
        outcome = run_step("slack", {"channel": "#incidents", "text": "x"}, 5, ctx)
    assert (outcome.ok, outcome.retryable, outcome.status_code) == (False, retryable, status)


def test_slack_not_configured(memory_engine: Engine, example_config: ConfigSet) -> None:
    outcome = run_step("slack", {"channel": "#incidents", "text": "x"}, 5,
                       context(chains_for(), memory_engine, example_config))
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "ONCALL_SLACK_TOKEN" in outcome.detail


# --- teams -------------------------------------------------------------------------------------


def test_teams_posts_a_card_to_the_webhook_behind_the_env_ref(
        memory_engine: Engine, example_config: ConfigSet) -> None:
    with TeamsPeer() as teams:
        ctx = context(chains_for(), memory_engine, example_config,
                      environ={"TEAMS_HOOK": teams.webhook_url})
        outcome = run_step("teams", {"webhook": "${env:TEAMS_HOOK}",
                                     "text": "[click](https://evil) ${env:TEAMS_HOOK}"}, 5, ctx)
        (card,) = teams.cards
    assert outcome.ok, outcome
    (block,) = card["body"]
    # Markdown escaped, and an env ref in the text is text: never resolved
    assert block["text"] == r"\[click\]\(https://evil\) ${env:TEAMS\_HOOK}"
    assert "IncomingWebhook" not in outcome.detail


@pytest.mark.parametrize(
    ("environ", "fail", "retryable"),
    [({}, None, False), ({"TEAMS_HOOK": "set"}, 400, False), ({"TEAMS_HOOK": "set"}, 503, True)],
)
def test_teams_failures(memory_engine: Engine, example_config: ConfigSet,
                        environ: dict[str, str], fail: int | None, retryable: bool) -> None:
    with TeamsPeer() as teams:
        if fail:
            teams.fail(fail, f"failed at {teams.webhook_url}")
        env = {k: teams.webhook_url for k in environ}
        ctx = context(chains_for(), memory_engine, example_config, environ=env)
        outcome = run_step("teams", {"webhook": "${env:TEAMS_HOOK}", "text": "x"}, 5, ctx)
        url = teams.webhook_url
    assert (outcome.ok, outcome.retryable) == (False, retryable), outcome
    assert url not in outcome.detail and "0123456789abcdef" not in outcome.detail
    if not environ:
        assert "TEAMS_HOOK" in outcome.detail


# --- email -------------------------------------------------------------------------------------


def test_email_mails_each_address_through_smtp(
        memory_engine: Engine, example_config: ConfigSet) -> None:
    to = ["priya.raman@northwind.example", "marcus.bell@northwind.example"]
    with SmtpPeer() as smtp:
        ctx = context(chains_for(smtp.env()), memory_engine, example_config, incident_id=7)
        outcome = run_step("email", {"to": to, "subject": "P1: checkout\r\nBcc: x@evil",
                                     "text": "Checkout is down.\n"}, 5, ctx)
        mails = smtp.mails
    assert outcome.ok, outcome
    assert [m.rcpt_tos for m in mails] == [(to[0],), (to[1],)]
    message = mails[0].message
    assert message["Subject"] == "P1: checkout Bcc: x@evil" and message["Bcc"] is None
    assert message["From"] == SENDER and message["X-Oncall-Incident"] == "7"
    assert mails[0].part("plain").splitlines() == ["Checkout is down."]


@pytest.mark.parametrize(("code", "retryable"), [(550, False), (450, True)])
def test_email_rejection_follows_smtp_semantics(
        memory_engine: Engine, example_config: ConfigSet, code: int, retryable: bool) -> None:
    with SmtpPeer() as smtp:
        smtp.reject(code, "mailbox unavailable")
        ctx = context(chains_for(smtp.env()), memory_engine, example_config)
        outcome = run_step("email", {"to": ["a@northwind.example"], "subject": "s",
                                     "text": "t"}, 5, ctx)
    assert (outcome.ok, outcome.retryable, outcome.status_code) == (False, retryable, code)


def test_email_temporary_smtp_failure_is_retryable(
        memory_engine: Engine, example_config: ConfigSet) -> None:
    with SmtpPeer() as smtp:
        smtp.hang(seconds=0.1)  # the peer then answers DATA with 451: temporary
        ctx = context(chains_for(smtp.env()), memory_engine, example_config)
        outcome = run_step("email", {"to": ["a@northwind.example"], "subject": "s",
                                     "text": "t"}, 5, ctx)
    assert (outcome.ok, outcome.retryable, outcome.status_code) == (False, True, 451)
    assert "1 of 1 not mailed" in outcome.detail


def test_email_through_ses(memory_engine: Engine, example_config: ConfigSet) -> None:
    with MotoPeer() as aws:
        aws.verify_sender(SENDER)
        ctx = context(chains_for(aws.env(), {"ONCALL_SES_REGION": aws.region}), memory_engine,
                      example_config)
        outcome = run_step("email", {"to": ["a@northwind.example"], "subject": "P1 subject",
                                     "text": "body text"}, 5, ctx)
        (sent,) = aws.emails
    assert outcome.ok, outcome
    assert sent.destinations["ToAddresses"] == ["a@northwind.example"]
    assert (sent.subject, sent.body) == ("P1 subject", "body text")


@pytest.mark.parametrize(
    ("kind", "action"),
    [("email", {"to": "a@northwind.example", "subject": "s", "text": "t"}),
     ("teams", {"webhook": "http://127.0.0.1:9/literal-secret-url", "text": "t"}),
     ("slack", {"text": "no channel"}),
     ("page", {"target": {"rota": "x"}, "message": "m"}),
     ("carrier-pigeon", {})],
)
def test_a_malformed_action_fails_without_raising(
        memory_engine: Engine, example_config: ConfigSet, kind: str,
        action: dict[str, Any]) -> None:
    with SmtpPeer() as smtp:
        outcome = run_step(kind, action, 5,
                           context(chains_for(smtp.env()), memory_engine, example_config))
        assert smtp.mails == []
    assert (outcome.ok, outcome.retryable) == (False, False)


# --- page --------------------------------------------------------------------------------------


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.scalar(select(func.count(AuditEventRow.id))) or 0,
                conn.scalar(select(func.count(EscalationTimerRow.id))) or 0)


def _pages(engine: Engine) -> list[tuple[int, str, int | None, str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(NotificationRow.id, NotificationRow.kind, NotificationRow.incident_id,
                   UserRow.email, NotificationRow.channel, NotificationRow.status)
            .join(UserRow, UserRow.id == NotificationRow.user_id, isouter=True)
            .order_by(NotificationRow.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


def _expected(config: ConfigSet, kind: str, ref: str) -> set[str]:
    if kind == "user":
        return {ref}
    if kind == "team":
        return {m.email for m in config.teams[ref].members if m.role != "observer"}
    who = who_at(config.schedules[ref], T0)
    assert who is not None
    return {who}


@pytest.mark.parametrize(
    ("kind", "ref"),
    [("user", "priya.raman@northwind.example"), ("team", "payments"),
     ("schedule", "payments-primary")],
)
def test_page_enqueues_the_targets_pages_through_the_outbox_and_nothing_else(
        applied_engine: Engine, example_config: ConfigSet, kind: str, ref: str) -> None:
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="Checkout down",
                                    now=T0, page=False)
    before = _counts(applied_engine)
    assert _pages(applied_engine) == []
    with SmtpPeer() as smtp, SlackPeer() as slack:
        chains = chains_for(smtp.env(), slack.env())
        ctx = context(chains, applied_engine, example_config, incident_id=incident_id)
        action = {"target": {kind: ref}, "message": "all hands"}
        outcome = run_step("page", action, 5, ctx)
        again = run_step("page", action, 5, ctx)  # the step re-run after a crash
        assert smtp.mails == [] and slack.requests == []  # written, not sent: the dispatcher

    assert outcome.ok and not outcome.retryable, outcome
    rows = _pages(applied_engine)
    expected = _expected(example_config, kind, ref)
    assert {email for _, _, _, email, _, _ in rows} == expected
    assert {(k, i, s) for _, k, i, _, _, s in rows} == {("page", incident_id, "pending")}
    assert {c for *_, c, _ in rows} <= {c.value for c in chains.enabled}
    with applied_engine.connect() as conn:
        due = tuple(conn.scalars(select(NotificationRow.id)
                                 .where(NotificationRow.next_attempt_at <= T0)
                                 .order_by(NotificationRow.id)))
    assert due and outcome.notifications == due  # the fast path's: due now
    assert "all hands" in outcome.detail and all(e in outcome.detail for e in expected)
    assert again.ok and again.notifications == () and _pages(applied_engine) == rows
    assert _counts(applied_engine) == before  # no timeline, no timer: the run records it


def test_page_of_a_target_that_reaches_no_one_fails(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="Checkout down",
                                    now=T0, page=False)
    with SmtpPeer() as smtp:
        ctx = context(chains_for(smtp.env()), applied_engine, example_config,
                      incident_id=incident_id)
        outcome = run_step("page", {"target": {"schedule": "no-such-rota"}, "message": ""}, 5,
                           ctx)
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "reaches no one" in outcome.detail
    assert _pages(applied_engine) == []


def test_page_of_an_acknowledged_incident_pages_nobody(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="Checkout down",
                                    now=T0, page=False)
        service.acknowledge(session, incident_id, PRIYA, T0)
    with SmtpPeer() as smtp:
        ctx = context(chains_for(smtp.env()), applied_engine, example_config,
                      incident_id=incident_id)
        outcome = run_step("page", {"target": {"team": "payments"}, "message": ""}, 5, ctx)
    assert outcome.ok and outcome.notifications == ()
    assert outcome.detail == "incident is acknowledged: nobody paged"
    assert _pages(applied_engine) == []


def test_page_follows_the_persons_own_rules_and_fast_paths_only_what_is_due(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    """Priya's rules: email now, email to her other address in five minutes."""
    priya = "priya.raman@northwind.example"
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="Checkout down",
                                    now=T0, page=False)
        user_id = session.scalar(select(UserRow.id).where(UserRow.email == priya))
        assert user_id is not None
        for address, delay in ((priya, 0), ("priya@home.example", 300)):
            method = ContactMethodRow(user_id=user_id, type="email", address=address,
                                      verified_at=T0, created_at=T0)
            session.add(method)
            session.flush()
            session.add(NotificationRuleRow(user_id=user_id, contact_method_id=method.id,
                                            urgency="high", delay_seconds=delay,
                                            created_at=T0))
    with SmtpPeer() as smtp:
        ctx = context(chains_for(smtp.env()), applied_engine, example_config,
                      incident_id=incident_id)
        outcome = run_step("page", {"target": {"user": priya}, "message": ""}, 5, ctx)
    with applied_engine.connect() as conn:
        rows = conn.execute(select(NotificationRow.id, NotificationRow.address,
                                   NotificationRow.next_attempt_at)
                            .order_by(NotificationRow.id)).all()
    assert [(r.address, r.next_attempt_at) for r in rows] == [
        (priya, T0), ("priya@home.example", T0 + timedelta(minutes=5))]
    assert outcome.ok and outcome.notifications == (rows[0].id,)


def test_page_of_someone_no_channel_reaches_fails(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="Checkout down",
                                    now=T0, page=False)
    ctx = context(chains_for(), applied_engine, example_config,  # no email, no Slack
                  incident_id=incident_id)
    outcome = run_step("page", {"target": {"user": "priya.raman@northwind.example"},
                                "message": ""}, 5, ctx)
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert "cannot be reached" in outcome.detail
    assert _pages(applied_engine) == []


# --- status ----------------------------------------------------------------------------------


def _status_notices(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.scalars(select(StatusPageNoticeRow).order_by(StatusPageNoticeRow.id))
        return [(n.page_name, n.incident_id, n.title, n.status, n.components, n.created_by,
                 n.resolved_at is not None) for n in rows]


def test_status_posts_one_notice_per_incident_then_updates_and_resolves_it(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", now=T0, page=False,
                                    title="db-7 OOM at 10.0.3.7", labels={"tenant": "acme"})
    ctx = context(chains_for(), applied_engine, example_config, incident_id=incident_id)

    def step(state: str, text: str = "{{ service }}: {{ state }} on {{ page }}") -> Any:
        action = {"page": "northwind-status", "text": text.replace("{{ state }}", state),
                  "state": state, "component": "Checkout and payments"}
        return run_step("status", action, 5, ctx)

    first = step("investigating")
    assert first.ok and "posted on northwind-status" in first.detail, first
    assert step("identified").ok
    done = step("resolved")
    assert done.ok and "updated: resolved" in done.detail
    assert _status_notices(applied_engine) == [
        ("northwind-status", incident_id,
         "checkout-api: investigating on Northwind Commerce status", "resolved",
         ["Checkout and payments"], "workflow:p1-broadcast", True)]
    with Session(applied_engine) as session:
        texts = list(session.scalars(select(StatusPageNoticeUpdateRow.body)
                                     .order_by(StatusPageNoticeUpdateRow.id)))
    assert texts == [f"checkout-api: {s} on Northwind Commerce status"
                     for s in ("investigating", "identified", "resolved")]
    assert not any("10.0.3.7" in t or "acme" in t for t in texts)
    nothing = step("resolved")
    assert nothing.ok and "no open notice" in nothing.detail
    again = step("investigating")  # a new episode of the same incident: a new notice
    assert again.ok and len(_status_notices(applied_engine)) == 2


@pytest.mark.parametrize(("action", "error"), [
    ({"page": "nope", "text": "x"}, "unknown status page 'nope'; known pages: internal, "
     "northwind-status, payment-partners"),
    ({"page": "internal", "text": "x", "component": "Search"},
     "status page 'internal' has no component 'Search'"),
    ({"page": "internal", "text": "{{ incident.title }}"}, "template failed"),
    ({"page": "internal", "text": "x", "state": "fixed"}, "unknown notice status 'fixed'"),
])
def test_status_failures_are_final_and_publish_nothing(
        applied_engine: Engine, example_config: ConfigSet, action: dict[str, str],
        error: str) -> None:
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="x", now=T0,
                                    page=False)
    ctx = context(chains_for(), applied_engine, example_config, incident_id=incident_id)
    outcome = run_step("status", action, 5, ctx)
    assert not outcome.ok and not outcome.retryable
    assert error in outcome.detail, outcome
    assert _status_notices(applied_engine) == []


# --- postmortem ------------------------------------------------------------------------------


def _postmortems(engine: Engine) -> list[tuple[Any, ...]]:
    with Session(engine) as session:
        rows = session.scalars(select(PostmortemRow).order_by(PostmortemRow.id))
        return [(p.id, p.title, p.template, p.owner_id, p.created_by) for p in rows]


def test_postmortem_opens_the_incidents_review_once_as_the_system(
        applied_engine: Engine, example_config: ConfigSet) -> None:
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="Ledger lag",
                                    now=T0, page=False)
    ctx = context(chains_for(), applied_engine, example_config, incident_id=incident_id)
    action = {"template": "standard", "title": "P2 review: Ledger lag"}
    first = run_step("postmortem", action, 5, ctx)
    ((pm_id, *fields),) = _postmortems(applied_engine)
    assert fields == ["P2 review: Ledger lag", "standard", None, "system:workflow:p1-broadcast"]
    assert first.ok, first
    assert first.detail == f"postmortem #{pm_id} opened: https://oncall.example/postmortems/{pm_id}"
    again = run_step("postmortem", {"template": None, "title": None}, 5, ctx)
    assert again.ok and again.detail.startswith(f"postmortem #{pm_id} already open: ")
    assert len(_postmortems(applied_engine)) == 1
    with Session(applied_engine) as session:
        created = session.scalars(select(AuditEventRow).where(
            AuditEventRow.type == "postmortem.created")).one()
    assert (created.actor, created.subject_name) == ("system:workflow:p1-broadcast", str(pm_id))


@pytest.mark.parametrize(("action", "error"), [
    ({"template": "nope"}, "no postmortem template 'nope' (known: payments, standard)"),
    ({"title": "x" * 1025}, "title is longer than 1024 characters"),
])
def test_postmortem_failures_are_final_and_open_nothing(
        applied_engine: Engine, example_config: ConfigSet, action: dict[str, str],
        error: str) -> None:
    with write_session(applied_engine) as session:
        incident_id = open_incident(session, service="checkout-api", title="x", now=T0,
                                    page=False)
    ctx = context(chains_for(), applied_engine, example_config, incident_id=incident_id)
    outcome = run_step("postmortem", action, 5, ctx)
    assert (outcome.ok, outcome.retryable) == (False, False)
    assert error in outcome.detail, outcome
    missing = run_step("postmortem", {}, 5, context(chains_for(), applied_engine,
                                                    example_config, incident_id=999999))
    assert (missing.ok, missing.retryable, missing.detail) == (
        False, False, "no incident #999999")
    assert _postmortems(applied_engine) == []
