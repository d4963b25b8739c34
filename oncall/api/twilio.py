"""Twilio's callbacks: SMS replies, delivery receipts, keypresses and call outcomes.

Every request is checked first with the twilio SDK's `RequestValidator` against the public URL
Twilio was given (`ONCALL_PUBLIC_URL` + path + query) and the form it posted; an unsigned or
forged request changes nothing. People are known by a verified phone contact method, act with
their own roles through the service layer, and may only act on incidents they were paged for
or are assigned to: a phone number is a weaker identity than a sign-in. Refusals are logged
and answered politely (TwiML), never with a stack trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from oncall.api.app import ApiContext
from oncall.api.routing import Operation, bind
from oncall.api.threads import offloaded
from oncall.db.engine import write_session
from oncall.db.models import ContactMethodRow, IncidentRow, NotificationRow, UserRow
from oncall.incidents import service
from oncall.incidents.actors import Actor, Forbidden
from oncall.incidents.people import actor_for_email
from oncall.notify.message import VoiceDigit, parse_sms_reply, render_voice_reply
from oncall.notify.providers.twilio_client import (
    INBOUND_SMS_PATH,
    SMS_STATUS_PATH,
    VOICE_GATHER_PATH,
    VOICE_STATUS_PATH,
)
from oncall.notify.settings import ProviderSettings
from oncall.paging.notices import build_notice
from oncall.store import outbox

log = logging.getLogger("oncall.api.twilio")

SYSTEM = "system:twilio"
PHONE_TYPES = ("sms", "voice")
HELP = "Reply ACK 123 to acknowledge incident 123, RES 123 to resolve it, or ACK for your latest."
SMS_FAILED = ("failed", "undelivered")
CALL_FAILED = ("no-answer", "busy", "failed", "canceled")
_XML = "application/xml"


def _twiml(body: str = "", status: int = 200) -> Response:
    return Response(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
        status_code=status,
        media_type=_XML,
    )


def _message(text: str, status: int = 200) -> Response:
    return _twiml(f"<Message>{escape(text)}</Message>", status)


def _say(text: str, status: int = 200) -> Response:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return Response(str(response), status_code=status, media_type=_XML)


def _mask(number: str) -> str:
    return number[:-4].translate(str.maketrans("0123456789", "**********")) + number[-4:]


def _person(session: Session, number: str) -> tuple[UserRow, Actor] | None:
    """The one enabled user with this verified phone number, as an SMS/voice actor."""
    users = session.scalars(
        select(UserRow)
        .join(ContactMethodRow, ContactMethodRow.user_id == UserRow.id)
        .where(
            ContactMethodRow.address == number,
            ContactMethodRow.type.in_(PHONE_TYPES),
            ContactMethodRow.verified_at.is_not(None),
            UserRow.disabled_at.is_(None),
        )
        .distinct()
    ).all()
    if len(users) != 1:
        if users:
            log.warning("phone %s is verified for %d users: refusing", _mask(number), len(users))
        return None
    actor = actor_for_email(session, users[0].email, via="sms")
    return (users[0], actor) if actor else None


def _paged_for(session: Session, user: UserRow, incident: IncidentRow) -> bool:
    if incident.assignee_id == user.id:
        return True
    return (
        session.scalar(
            select(NotificationRow.id)
            .where(
                NotificationRow.incident_id == incident.id,
                NotificationRow.user_id == user.id,
                NotificationRow.kind == "page",
            )
            .limit(1)
        )
        is not None
    )


def _latest(session: Session, user: UserRow) -> int | None:
    """The open incident the person was paged for most recently."""
    return session.scalar(
        select(NotificationRow.incident_id)
        .join(IncidentRow, IncidentRow.id == NotificationRow.incident_id)
        .where(
            NotificationRow.user_id == user.id,
            NotificationRow.kind == "page",
            IncidentRow.status != service.RESOLVED,
        )
        .order_by(NotificationRow.created_at.desc(), NotificationRow.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Twilio:
    """The app's Twilio setup, read once from the environment: what every Twilio handler gets."""

    ctx: ApiContext
    providers: ProviderSettings
    validator: RequestValidator | None

    @classmethod
    def from_context(cls, ctx: ApiContext) -> Twilio:
        providers = ProviderSettings.from_env(ctx.environ)
        token = providers.twilio_auth_token
        return cls(ctx, providers, RequestValidator(token) if token else None)


def _signed_form(twilio: Twilio, request: Request, body: bytes) -> dict[str, str] | Response:
    """The posted form, if Twilio signed exactly this URL and form; else the refusal."""
    if twilio.validator is None:
        log.warning("Twilio callback refused: ONCALL_TWILIO_AUTH_TOKEN is not set")
        return _message("This oncall deployment is not set up for Twilio.", 503)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        pairs = None
    query = request.url.query
    url = twilio.providers.public_url + request.url.path + (f"?{query}" if query else "")
    signature = request.headers.get("x-twilio-signature", "")
    form = dict(pairs or [])
    if not signature or not twilio.validator.validate(url, form, signature):
        log.warning(
            "refused a Twilio callback to %s: %s signature",
            request.url.path,
            "missing" if not signature else "invalid",
        )
        return _message("Request refused: it is not signed by Twilio.", 403)
    if pairs is None:
        log.warning("refused a signed Twilio callback with an unreadable body")
        return _message("Sorry, that request could not be read.", 400)
    return form


_FORM = {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
_TWIML = {_XML: {"schema": {"type": "string"}}}


def _callback(op_id: str, summary: str, ok: str) -> Operation:
    """A Twilio callback: signed form in, TwiML out, refusals answered in TwiML too."""
    return {
        "operationId": op_id,
        "summary": summary,
        "tags": ["twilio"],
        "security": [],
        "requestBody": {"required": True, "content": _FORM},
        "responses": {
            "200": {"description": ok, "content": _TWIML},
            "400": {"description": "Signed, but missing a field or unreadable",
                    "content": _TWIML},
            "403": {"description": "Not signed by Twilio for this URL; nothing changed",
                    "content": _TWIML},
            "503": {"description": "Twilio is not configured (ONCALL_TWILIO_AUTH_TOKEN)",
                    "content": _TWIML},
        },
    }


INBOUND_SMS = _callback("twilioInboundSms", "An SMS reply: ACK 123, RES 123, or ACK",
                        "The reply to send back by SMS")


def inbound_sms(twilio: Twilio, request: Request, raw: bytes) -> Response:
    """An SMS reply from a verified number, acted on as its owner for an incident they were
    paged for."""
    form = _signed_form(twilio, request, raw)
    if isinstance(form, Response):
        return form
    sender, body = form.get("From", "").strip(), form.get("Body")
    if not sender or body is None:
        log.warning("inbound SMS without From or Body: ignored")
        return _message("Sorry, that message could not be read.", 400)
    ctx = twilio.ctx
    with write_session(ctx.engine) as session:
        changed, text = _sms_reply(session, sender, body, ctx.clock())
    if changed:
        ctx.wake()
    return _message(text)


def _sms_reply(session: Session, sender: str, body: str, now: datetime) -> tuple[bool, str]:
    """Whether the reply changed an incident, and the sentence to answer it with."""
    found = _person(session, sender)
    if found is None:
        log.warning("SMS from unknown number %s ignored", _mask(sender))
        return False, ("This number is not a verified oncall contact. Add and verify it in "
                       "your oncall profile to answer pages by SMS.")
    user, actor = found
    reply = parse_sms_reply(body)
    if reply is None:
        log.info("SMS from %s not understood: %r", user.email, body[:40])
        return False, f"Sorry, I did not understand that. {HELP}"
    number = reply.number if reply.number is not None else _latest(session, user)
    if number is None:
        return False, "You have no open incident to act on."
    incident = session.get(IncidentRow, number)
    if incident is None or not _paged_for(session, user, incident):
        log.warning("SMS %s from %s for incident #%s refused: not paged for it",
                    reply.action, user.email, number)
        return False, f"Incident #{number} is not one you were paged for, so nothing was changed."
    return _act(session, actor, reply.action, number, now)


SMS_STATUS = _callback("twilioSmsStatus", "An SMS delivery receipt", "Recorded")


def sms_status(twilio: Twilio, request: Request, raw: bytes) -> Response:
    """An SMS delivery receipt: a failure pulls the person's next channel forward."""
    form = _signed_form(twilio, request, raw)
    if isinstance(form, Response):
        return form
    sid, status = form.get("MessageSid", ""), form.get("MessageStatus", "")
    if not sid or not status:
        log.warning("SMS status callback without MessageSid or MessageStatus: ignored")
        return _twiml(status=400)
    error = form.get("ErrorCode")
    failed = None
    if status in SMS_FAILED:
        failed = f"SMS {status}" + (f" (Twilio error {error})" if error else "")
    if _receipt(twilio.ctx, sid, "twilio_sms", delivered=status == "delivered", failed=failed):
        twilio.ctx.wake()
    return _twiml()


VOICE_STATUS = _callback("twilioVoiceStatus", "A call's outcome", "Recorded")


def voice_status(twilio: Twilio, request: Request, raw: bytes) -> Response:
    """A call's outcome: unanswered, or answered by a machine, pulls the next channel forward."""
    form = _signed_form(twilio, request, raw)
    if isinstance(form, Response):
        return form
    sid, status = form.get("CallSid", ""), form.get("CallStatus", "")
    if not sid or not status:
        log.warning("voice status callback without CallSid or CallStatus: ignored")
        return _twiml(status=400)
    answered_by = form.get("AnsweredBy", "")
    failed: str | None = None
    if answered_by.startswith("machine") or answered_by == "fax":
        failed = f"call answered by {answered_by}: not acknowledged"
    elif status in CALL_FAILED:
        failed = f"call {status}"
    delivered = status == "completed" and failed is None
    if _receipt(twilio.ctx, sid, "twilio_voice", delivered=delivered, failed=failed):
        twilio.ctx.wake()
    return _twiml()


VOICE_GATHER: Operation = {
    **_callback("twilioVoiceGather", "A keypress during a paging call",
                "What to say next (TwiML)"),
    "parameters": [{"name": "incident", "in": "query", "required": True,
                    "description": "The incident the call is about",
                    "schema": {"type": "integer", "minimum": 1}}],
}

_VOICE_ACTIONS = {
    VoiceDigit.ACKNOWLEDGE.value: "acknowledge",
    VoiceDigit.RESOLVE.value: "resolve",
    VoiceDigit.ESCALATE.value: "escalate",
}


def voice_gather(twilio: Twilio, request: Request, raw: bytes) -> Response:
    """A keypress on a paging call, acted on as the person the call was for."""
    form = _signed_form(twilio, request, raw)
    if isinstance(form, Response):
        return form
    raw_incident = request.query_params.get("incident", "")
    sid, digits = form.get("CallSid", ""), form.get("Digits", "")
    if not raw_incident.isdigit() or not sid:
        log.warning("voice gather without incident or CallSid: ignored")
        return _say("Sorry, something went wrong. Goodbye.", 400)
    incident_id = int(raw_incident)
    ctx, public_url = twilio.ctx, twilio.providers.public_url
    now = ctx.clock()
    gather_url = f"{public_url}{VOICE_GATHER_PATH}?incident={incident_id}"
    with write_session(ctx.engine) as session:
        call = _call_for(session, sid, incident_id)
        if isinstance(call, Response):
            return call
        row, actor = call
        notice = build_notice(session, row, ctx.config(session), public_url, now)
        action = _VOICE_ACTIONS.get(digits.strip())
        if action is None:
            return Response(render_voice_reply(notice, digits, gather_url), media_type=_XML)
        changed, text = _act(session, actor, action, incident_id, now)
    if not changed:
        return _say(text.replace("#", "") + " Goodbye.")
    ctx.wake()
    return Response(render_voice_reply(notice, digits, gather_url), media_type=_XML)


def _call_for(session: Session, sid: str, incident_id: int
              ) -> tuple[NotificationRow, Actor] | Response:
    """The paging call `sid` about this incident and the person it was for, or what to say."""
    call = session.scalar(
        select(NotificationRow).where(
            NotificationRow.provider_message_id == sid,
            NotificationRow.provider == "twilio_voice",
        )
    )
    if call is None or call.incident_id != incident_id or call.user_id is None:
        log.warning("keypress for call %s / incident %s matches no page", sid, incident_id)
        return _say("Sorry, this call is not linked to that incident. Goodbye.")
    user = session.get(UserRow, call.user_id)
    actor = actor_for_email(session, user.email, via="voice") if user else None
    if actor is None:
        log.warning("keypress from a removed user on call %s ignored", sid)
        return _say("Sorry, you are no longer an oncall user. Goodbye.")
    return call, actor


def openapi_paths() -> dict[str, Any]:
    return {
        INBOUND_SMS_PATH: {"post": INBOUND_SMS},
        SMS_STATUS_PATH: {"post": SMS_STATUS},
        VOICE_STATUS_PATH: {"post": VOICE_STATUS},
        VOICE_GATHER_PATH: {"post": VOICE_GATHER},
    }


def routes(ctx: ApiContext) -> list[BaseRoute]:
    twilio = Twilio.from_context(ctx)
    return [
        Route(INBOUND_SMS_PATH, offloaded(bind(inbound_sms, twilio)), methods=["POST"],
              name="twilio-sms"),
        Route(SMS_STATUS_PATH, offloaded(bind(sms_status, twilio)), methods=["POST"],
              name="twilio-sms-status"),
        Route(VOICE_STATUS_PATH, offloaded(bind(voice_status, twilio)), methods=["POST"],
              name="twilio-voice-status"),
        Route(VOICE_GATHER_PATH, offloaded(bind(voice_gather, twilio)), methods=["POST"],
              name="twilio-voice-gather"),
    ]


def _act(
    session: Session, actor: Actor, action: str, incident_id: int, now: datetime
) -> tuple[bool, str]:
    """Do it through the service layer in the caller's transaction: whether the incident
    changed, and a sentence saying what happened, fit for an SMS or to be spoken."""
    try:
        with session.begin_nested():
            if action == "acknowledge":
                outcome = service.acknowledge(session, incident_id, actor, now)
            elif action == "resolve":
                outcome = service.resolve(session, incident_id, actor, now)
            else:
                outcome = service.escalate_now(session, incident_id, actor, now)
    except service.NotFound:
        return False, f"Incident {incident_id} does not exist."
    except Forbidden as exc:
        log.warning("%s refused for %s on incident #%s: %s", action, actor.name, incident_id, exc)
        return False, f"Not allowed: {exc}."
    past = {"acknowledge": "acknowledged", "resolve": "resolved", "escalate": "escalated"}
    if outcome.changed:
        return True, f"Incident #{incident_id} {past[action]}."
    status = outcome.incident.status
    if action == "escalate" and status == service.TRIGGERED:
        return False, f"Incident #{incident_id} has no further escalation step."
    return False, f"Incident #{incident_id} is already {status}."


def _receipt(
    ctx: ApiContext, sid: str, provider: str, *, delivered: bool, failed: str | None
) -> tuple[int, ...]:
    """Apply a delivery receipt to the outbox row that `sid` identifies.

    Delivered: noted. Failed (or a voicemail answered): the row fails and the person's next
    planned notification for the page is pulled forward, as when the dispatcher gives up.
    Returns the rows made due now.
    """
    if not delivered and failed is None:
        return ()
    now = ctx.clock()
    with write_session(ctx.engine) as session:
        pulled = outbox.record_receipt(session, sid, provider, now, failed=failed, actor=SYSTEM)
    if pulled is None:
        log.info("%s receipt for unknown sid %s ignored", provider, sid)
        return ()
    return pulled
