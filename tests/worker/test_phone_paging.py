"""Phone paging end to end: personal rules push → SMS → voice through real SDKs and local
peers, acknowledging by SMS reply and keypress, call outcomes, SNS failover, Teams cards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from oncall import contacts
from oncall.cli.vapid_commands import generate_keys
from oncall.config.configset import ConfigSet
from oncall.context import Context
from oncall.core.delivery import Backoff, BreakerPolicy
from oncall.core.schedule import who_at
from oncall.db.applied import ConfigCache
from oncall.db.engine import write_session
from oncall.db.models import (
    AuditEventRow,
    ContactMethodRow,
    DeliveryAttemptRow,
    IncidentRow,
    NotificationRow,
    UserRow,
)
from oncall.incidents.actors import Actor
from oncall.incidents.people import actor_for_email
from oncall.notify.settings import ProviderSettings
from oncall.settings import Settings
from oncall.testing.incidents import open_incident
from oncall.testing.peers import MotoPeer, PushServicePeer, TeamsPeer, TwilioPeer
from oncall.worker.dispatcher import DispatchPolicy
from oncall.worker.providers import build_chains
from oncall.worker.runtime import Runtime

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)
PUBLIC = "https://oncall.example"
PHONE = "+14155552671"
TEAMS_ENV = "PAYMENTS_TEAMS_WEBHOOK"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class StaticConfig(ConfigCache):
    """Stands in for the applied config: the example organisation with a Teams webhook added."""

    def __init__(self, config: ConfigSet) -> None:
        super().__init__()
        self.config = config

    def fresh(self) -> ConfigSet | None:
        return self.config

    def get(self, session: Session) -> ConfigSet:
        return self.config


def with_teams(config: ConfigSet) -> ConfigSet:
    out = ConfigSet(objects={k: dict(v) for k, v in config.objects.items()},
                    sources=dict(config.sources))
    spec = out.services["checkout-api"]
    out.objects["Service"]["checkout-api"] = spec.model_copy(
        update={"teams_webhook": f"${{env:{TEAMS_ENV}}}"}
    )
    return out


@dataclass
class Phone:
    runtime: Runtime
    clock: Clock
    engine: Engine
    config: ConfigSet
    twilio: TwilioPeer
    aws: MotoPeer
    push: PushServicePeer
    teams: TeamsPeer
    client: TestClient

    # --- driving -------------------------------------------------------------------------
    def run_due(self) -> None:
        for _ in range(20):
            timers = self.runtime.due_timers()
            for timer_id in timers:
                self.runtime.run_timer(timer_id)
            due = self.runtime.due_notifications()
            for notification_id in due:
                self.runtime.dispatch(notification_id)
            if not timers and not due:
                return

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.run_due()

    def open_incident(self, group_key: str = "k") -> int:
        with write_session(self.engine) as session:
            incident_id = open_incident(
                session, service="checkout-api", group_key=group_key,
                title="Checkout p99 above 2s", priority="P1", integration="prometheus-prod",
                now=self.clock())
        self.run_due()  # step 0 runs at once, as the worker's fast path does
        return incident_id

    def callback(self, url: str, params: dict[str, str], *, signature: str | None = "sign"
                 ) -> httpx.Response:
        """POST a Twilio callback to the app, signed as Twilio signs it (or forged/unsigned)."""
        assert url.startswith(PUBLIC), url
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = self.twilio.sign(url, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        response: httpx.Response = self.client.post(url[len(PUBLIC):], data=params,
                                                    headers=headers)
        return response

    def sms_from(self, number: str, body: str, **kw: Any) -> httpx.Response:
        params = {"MessageSid": "SM" + "0" * 32, "AccountSid": self.twilio.account_sid,
                  "From": number, "To": self.twilio.from_number, "Body": body,
                  "NumMedia": "0", "SmsStatus": "received", "ApiVersion": "2010-04-01"}
        return self.callback(f"{PUBLIC}/api/v1/twilio/sms", params, **kw)

    def call_status(self, sid: str, status: str, answered_by: str | None = None
                    ) -> httpx.Response:
        call = self.twilio.resource(sid)
        params = {"CallSid": sid, "AccountSid": self.twilio.account_sid, "From": call["From"],
                  "To": call["To"], "CallStatus": status, "Direction": "outbound-api",
                  "ApiVersion": "2010-04-01"}
        if answered_by:
            params["AnsweredBy"] = answered_by
        return self.callback(call["StatusCallback"], params)

    def keypress(self, sid: str, digits: str) -> httpx.Response:
        call = self.twilio.resource(sid)
        params = {"CallSid": sid, "AccountSid": self.twilio.account_sid, "From": call["From"],
                  "To": call["To"], "CallStatus": "in-progress", "Digits": digits,
                  "Direction": "outbound-api", "ApiVersion": "2010-04-01"}
        return self.callback(self.twilio.gather_action(sid), params)

    # --- people --------------------------------------------------------------------------
    def on_call(self) -> str:
        who = who_at(self.config.schedules["payments-primary"], self.clock())
        assert who is not None
        return who

    def actor(self, email: str) -> Actor:
        with Session(self.engine) as session:
            actor = actor_for_email(session, email, via="web")
        assert actor is not None
        return actor

    def setup_rules(self, email: str) -> dict[str, int]:
        """Through the contacts service, as the profile page does: add a phone and a push
        subscription, verify both with the codes that arrive, then push 0 → SMS 1m → voice 3m.
        """
        me = self.actor(email)
        assert me.user_id is not None
        with write_session(self.engine) as session:
            sms, voice = contacts.add_phone(session, me, me.user_id, PHONE, self.clock())
            push = contacts.add_push_subscription(session, me, me.user_id, {
                "endpoint": self.push.endpoint("alice"),
                "keys": {"p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7"
                         "A8u-Ts1XbjhazAkj7I99e8QcYP7DkM", "auth": "tBHItJI5svbpez7KI4CCXg"},
            }, self.clock())
        with Session(self.engine) as session:
            push_code = session.scalar(
                select(NotificationRow.provider_data).where(
                    NotificationRow.kind == "verification",
                    NotificationRow.contact_method_id == push.id,
                )
            )
        assert push_code is not None
        self.run_due()
        [text] = [m["Body"] for m in self.twilio.messages if m["To"] == PHONE]
        code = re.search(r"\b(\d{6})\b", text)
        assert code is not None, text
        with write_session(self.engine) as session:
            assert contacts.confirm(session, me, sms.id, code.group(1), self.clock()).ok
            assert contacts.confirm(session, me, push.id, push_code["code"], self.clock()).ok
            for method, delay in ((push.id, 0), (sms.id, 60), (voice.id, 180)):
                contacts.add_rule(session, me, me.user_id, urgency="high",
                                  delay=timedelta(seconds=delay), contact_method_id=method,
                                  now=self.clock())
        self.twilio.clear()
        return {"push": push.id, "sms": sms.id, "voice": voice.id}

    # --- looking ---------------------------------------------------------------------------
    def texts(self) -> list[dict[str, Any]]:
        """SMS sent through Twilio, leaving out verification codes."""
        return [m for m in self.twilio.messages if "verification code" not in m["Body"]]

    def pages(self, incident_id: int, email: str) -> dict[str, str]:
        with Session(self.engine) as session:
            user = session.scalar(select(UserRow).where(UserRow.email == email))
            assert user is not None
            rows = session.scalars(select(NotificationRow).where(
                NotificationRow.incident_id == incident_id, NotificationRow.user_id == user.id,
                NotificationRow.kind == "page"))
            return {r.channel: r.status for r in rows}

    def status(self, incident_id: int) -> str:
        with Session(self.engine) as session:
            incident = session.get(IncidentRow, incident_id)
            assert incident is not None
            return incident.status

    def event_types(self, incident_id: int | None = None) -> list[str]:
        with Session(self.engine) as session:
            query = select(AuditEventRow.type).order_by(AuditEventRow.id)
            if incident_id is not None:
                query = query.where(AuditEventRow.incident_id == incident_id)
            return list(session.scalars(query))


@pytest.fixture
def phone(applied_engine: Engine, example_config: ConfigSet,
          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Phone]:
    monkeypatch.chdir(tmp_path)  # on PostgreSQL without Redis the queue file is made here
    public_key, private_key = generate_keys()
    with (TwilioPeer() as twilio, MotoPeer() as aws, PushServicePeer() as push,
          TeamsPeer() as teams):
        monkeypatch.setenv(TEAMS_ENV, teams.webhook_url)
        env = {**twilio.env(), **aws.env(), "ONCALL_SNS_REGION": aws.region,
               "ONCALL_VAPID_PUBLIC_KEY": public_key, "ONCALL_VAPID_PRIVATE_KEY": private_key,
               "ONCALL_VAPID_SUBJECT": "mailto:oncall@northwind.example",
               "ONCALL_PUBLIC_URL": PUBLIC, "ONCALL_PROVIDER_TIMEOUT": "3"}
        providers = ProviderSettings.from_env(env)
        clock = Clock(T0)
        config = with_teams(example_config)
        settings = Settings(database_url=str(applied_engine.url))
        context = Context(settings, applied_engine, clock=clock, configs=StaticConfig(config))
        runtime = Runtime(
            settings=settings, providers=providers, engine=applied_engine,
            chains=build_chains(providers), worker_id="test-worker", clock=clock,
            policy=DispatchPolicy(backoff=Backoff(base=timedelta(seconds=1), max_attempts=3),
                                  breaker=BreakerPolicy(threshold=3,
                                                        cool_down=timedelta(seconds=30))),
            context=context,
        )
        from oncall.api.app import create_api

        app = create_api(settings, applied_engine, route_modules=["oncall.api.twilio"],
                         check_schema=False, clock=clock, environ=env, core=context)
        with TestClient(app) as client:
            yield Phone(runtime, clock, applied_engine, config, twilio, aws, push, teams,
                        client)


# --- acceptance -------------------------------------------------------------------------------


def test_push_then_sms_then_ack_by_reply_and_the_call_never_happens(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    incident_id = phone.open_incident()
    phone.run_due()
    assert phone.pages(incident_id, me) == {"push": "sent", "sms": "pending", "voice": "pending"}
    assert len(phone.push.requests) == 2  # the verification code, then the page
    assert phone.texts() == []

    phone.advance(timedelta(seconds=59))
    assert phone.texts() == []  # nobody answered the push; SMS is due at 1 min
    phone.advance(timedelta(seconds=1))
    [sms] = phone.texts()
    assert sms["To"] == PHONE
    assert f"#{incident_id}" in sms["Body"] and f"ACK {incident_id}" in sms["Body"]

    reply = phone.sms_from(PHONE, f"ack {incident_id}")
    assert reply.status_code == 200
    assert f"Incident #{incident_id} acknowledged" in reply.text
    assert reply.text.startswith("<?xml") and "<Message>" in reply.text
    assert phone.status(incident_id) == "acknowledged"

    phone.advance(timedelta(minutes=10))
    assert phone.twilio.calls == []
    assert phone.pages(incident_id, me)["voice"] == "cancelled"
    with Session(phone.engine) as session:
        actor = session.scalar(select(AuditEventRow.actor).where(
            AuditEventRow.incident_id == incident_id,
            AuditEventRow.type == "incident.acknowledged"))
        via = session.scalar(select(AuditEventRow.data).where(
            AuditEventRow.incident_id == incident_id,
            AuditEventRow.type == "incident.acknowledged"))
    assert actor == f"user:{me}" and via == {"via": "sms"}
    # Teams heard about the incident and about the acknowledgement, as two cards
    titles = [c["body"][1]["text"] for c in phone.teams.cards]
    assert titles[0] == "Triggered" and titles[-1].startswith("Acknowledged by")


def test_bare_ack_acknowledges_the_latest_page(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    incident_id = phone.open_incident()
    phone.advance(timedelta(minutes=1))
    reply = phone.sms_from(PHONE, "ACK")
    assert f"#{incident_id} acknowledged" in reply.text
    assert phone.status(incident_id) == "acknowledged"


def test_keypress_1_acknowledges(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    incident_id = phone.open_incident()
    phone.advance(timedelta(minutes=3))
    [call] = phone.twilio.calls
    assert call["To"] == PHONE and "Press 1 to acknowledge" in call["Twiml"]
    assert phone.twilio.gather_action(call["sid"]).startswith(
        f"{PUBLIC}/api/v1/twilio/voice/gather?incident={incident_id}")
    answer = phone.keypress(call["sid"], "9")
    assert "not an option" in answer.text and phone.status(incident_id) == "triggered"
    answer = phone.keypress(call["sid"], "1")
    assert answer.status_code == 200 and "acknowledged" in answer.text
    assert phone.status(incident_id) == "acknowledged"


def test_keypress_3_escalates_now(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    incident_id = phone.open_incident()
    phone.advance(timedelta(minutes=3))
    [call] = phone.twilio.calls
    answer = phone.keypress(call["sid"], "3")
    assert "escalated" in answer.text
    phone.run_due()  # the next step was due at once, not at the 5-minute timeout
    with Session(phone.engine) as session:
        steps = session.scalars(select(AuditEventRow.data).where(
            AuditEventRow.incident_id == incident_id,
            AuditEventRow.type == "incident.escalated")).all()
    assert [s["step"] for s in steps] == [0, 1]
    assert phone.status(incident_id) == "triggered"


def test_no_answer_fails_the_call_and_the_next_step_proceeds(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    incident_id = phone.open_incident()
    phone.advance(timedelta(minutes=3))
    [call] = phone.twilio.calls
    assert phone.call_status(call["sid"], "no-answer").status_code == 200
    assert phone.pages(incident_id, me)["voice"] == "failed"
    assert "notification.failed" in phone.event_types(incident_id)
    phone.advance(timedelta(minutes=2))  # step 0's 5-minute timeout
    with Session(phone.engine) as session:
        steps = session.scalars(select(AuditEventRow.data).where(
            AuditEventRow.incident_id == incident_id,
            AuditEventRow.type == "incident.escalated")).all()
    assert [s["step"] for s in steps] == [0, 1]


def test_voicemail_counts_as_unanswered(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    incident_id = phone.open_incident()
    phone.advance(timedelta(minutes=3))
    [call] = phone.twilio.calls
    phone.call_status(call["sid"], "in-progress", answered_by="machine_start")
    phone.call_status(call["sid"], "completed")
    assert phone.pages(incident_id, me)["voice"] == "failed"
    assert phone.status(incident_id) == "triggered"


def test_sms_undelivered_pulls_the_call_forward(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    incident_id = phone.open_incident()
    phone.advance(timedelta(minutes=1))
    [sms] = phone.texts()
    params = {"MessageSid": sms["sid"], "AccountSid": phone.twilio.account_sid,
              "From": sms["From"], "To": sms["To"], "MessageStatus": "undelivered",
              "ErrorCode": "30003", "ApiVersion": "2010-04-01"}
    assert phone.callback(sms["StatusCallback"], params).status_code == 200
    assert phone.pages(incident_id, me)["sms"] == "failed"
    phone.run_due()  # the voice call was due at 3 min; it goes now
    assert len(phone.twilio.calls) == 1


def test_sms_delivered_receipt_is_recorded(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    incident_id = phone.open_incident()
    phone.advance(timedelta(minutes=1))
    [sms] = phone.texts()
    params = {"MessageSid": sms["sid"], "AccountSid": phone.twilio.account_sid,
              "From": sms["From"], "To": sms["To"], "MessageStatus": "delivered",
              "ApiVersion": "2010-04-01"}
    phone.callback(sms["StatusCallback"], params)
    assert phone.pages(incident_id, me)["sms"] == "delivered"
    assert "notification.delivered" in phone.event_types(incident_id)


def test_twilio_outage_fails_over_to_sns_and_switches_back(phone: Phone) -> None:
    me = phone.on_call()
    phone.setup_rules(me)
    phone.twilio.fail(500)
    incidents = [phone.open_incident(f"k{i}") for i in range(4)]
    phone.advance(timedelta(minutes=1))
    # every SMS went out through SNS within one attempt's failover, none was lost
    for incident_id in incidents:
        assert phone.pages(incident_id, me)["sms"] == "sent"
    assert [s.phone_number for s in phone.aws.sms] == [PHONE] * 4
    with Session(phone.engine) as session:
        providers = session.scalars(select(DeliveryAttemptRow.provider).where(
            DeliveryAttemptRow.outcome == "sent")).all()
    assert providers.count("sns") == 4
    types = phone.event_types()
    assert types.count("provider.circuit_open") == 1
    twilio_calls = len(phone.twilio.requests)
    assert twilio_calls == 3  # the breaker opened at the threshold: Twilio is left alone

    phone.twilio.recover()
    phone.clock.advance(timedelta(seconds=31))  # past the cool-down: one trial call
    late = phone.open_incident("after")
    phone.advance(timedelta(minutes=1))
    assert phone.pages(late, me)["sms"] == "sent"
    assert phone.texts()[-1]["To"] == PHONE
    assert phone.event_types().count("provider.circuit_closed") == 1
    assert len(phone.aws.sms) == 4


def test_expired_push_subscription_is_turned_off(phone: Phone) -> None:
    me = phone.on_call()
    ids = phone.setup_rules(me)
    phone.push.expire("alice")
    incident_id = phone.open_incident()
    phone.run_due()
    assert phone.pages(incident_id, me)["push"] == "failed"
    with Session(phone.engine) as session:
        method = session.get(ContactMethodRow, ids["push"])
        assert method is not None and method.disabled_at is not None
    # the SMS follows at once instead of at 1 minute: the push channel failed for good
    assert len(phone.texts()) == 1
    # and the next incident does not try the dead subscription
    before = len(phone.push.requests)
    phone.open_incident("second")
    phone.run_due()
    assert len(phone.push.requests) == before
