"""What a notification says, and how each channel shows it.

A `Notice` holds everything any channel needs; the renderers are pure functions from a notice
to the channel's wire format, so every format is pinned by golden files and the providers only
move bytes. The Slack button ids and the SMS reply words are parsed back here as well, keeping
what we send and what we accept in one place.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from twilio.twiml.voice_response import Gather, VoiceResponse

from oncall.core.escalation import Status
from oncall.core.notification_rules import Urgency

__all__ = [
    "Link",
    "Notice",
    "NoticeKind",
    "RenderedEmail",
    "SlackAction",
    "SmsReply",
    "Status",
    "VoiceDigit",
    "gsm7_length",
    "parse_slack_action",
    "parse_sms_reply",
    "render_email",
    "render_push",
    "render_slack",
    "render_sms",
    "render_teams",
    "render_voice",
    "render_voice_reply",
]


class NoticeKind(StrEnum):
    PAGE = "page"
    UPDATE = "update"
    TEST = "test"
    VERIFICATION = "verification_code"


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Notice:
    """One thing to tell a person or a channel; channel-agnostic and immutable.

    `ack_url` is the signed one-click acknowledge link (email, push); `code` is set only for
    contact-method verification notices.
    """

    kind: NoticeKind
    incident_id: str = ""
    number: int = 0
    title: str = ""
    url: str = ""
    summary: str = ""
    service: str = ""
    priority: str | None = None
    urgency: Urgency = "high"
    status: Status = Status.TRIGGERED
    assignee: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    ack_url: str | None = None
    runbooks: tuple[Link, ...] = ()
    code: str | None = None
    actor: str | None = None
    """Who changed the state, for updates ("acknowledged by ...")."""

    @classmethod
    def verification(cls, code: str) -> Notice:
        return cls(kind=NoticeKind.VERIFICATION, code=code)

    @classmethod
    def test(cls, url: str = "") -> Notice:
        return cls(kind=NoticeKind.TEST, url=url)

    @property
    def is_incident(self) -> bool:
        return self.kind in (NoticeKind.PAGE, NoticeKind.UPDATE)

    @property
    def status_word(self) -> str:
        return {
            Status.TRIGGERED: "Triggered",
            Status.ACKNOWLEDGED: "Acknowledged",
            Status.RESOLVED: "Resolved",
        }[self.status]

    @property
    def tag(self) -> str:
        """Groups every notice of one incident (push tag, email thread id)."""
        return f"incident-{self.incident_id}"


TEST_TEXT = "This is a test notification from oncall. This contact method can receive pages."


def _verification_text(notice: Notice) -> str:
    return f"Your oncall verification code is {notice.code}. Do not share it."


def _status_line(notice: Notice) -> str:
    if notice.status is Status.TRIGGERED:
        return "Triggered"
    by = f" by {notice.actor}" if notice.actor else ""
    return f"{notice.status_word}{by}"


# --------------------------------------------------------------------------------------------
# Slack Block Kit

ACK_ACTION_ID = "oncall.acknowledge"
RESOLVE_ACTION_ID = "oncall.resolve"
_SLACK_ACTIONS = {ACK_ACTION_ID: "acknowledge", RESOLVE_ACTION_ID: "resolve"}
_SLACK_STATUS_EMOJI = {
    Status.TRIGGERED: ":rotating_light:",
    Status.ACKNOWLEDGED: ":eyes:",
    Status.RESOLVED: ":white_check_mark:",
}


@dataclass(frozen=True)
class SlackAction:
    action: str
    """"acknowledge" or "resolve"."""
    incident_id: str


def parse_slack_action(action_id: str, value: str) -> SlackAction | None:
    """The button a person pressed, or None for anything we did not send."""
    action = _SLACK_ACTIONS.get(action_id)
    if action is None:
        return None
    verb, _, incident_id = value.partition(":")
    if verb != action or not incident_id:
        return None
    return SlackAction(action, incident_id)


def mrkdwn(text: str) -> str:
    """Slack's control sequences (`<!channel>`, `<@U123>`, `<https://x|label>`) all start with
    `<`: escaping &, < and > as Slack asks makes sender-written text show as written.

    Applied to every sender-written value in mrkdwn and in the fallback `text` (which Slack also
    parses: it is what notifications and screen readers show). `plain_text` objects are not
    parsed for control sequences and take the value as is. Slack's emphasis marks (*, _, ~, `)
    stay: they cannot mention anyone or hide a link.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str, label: str) -> str:
    """`<url|label>`; a `|` or `>` in the URL would end it early, so both are escaped."""
    return f"<{mrkdwn(url).replace('|', '%7C')}|{mrkdwn(label)}>"


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_slack(notice: Notice) -> dict[str, Any]:
    """`chat.postMessage` / `chat.update` arguments: fallback `text` and `blocks`.

    Buttons follow the state: Acknowledge and Resolve while triggered, Resolve once
    acknowledged, none once resolved (the message then only records the outcome).
    """
    if not notice.is_incident:
        text = TEST_TEXT if notice.kind is NoticeKind.TEST else _verification_text(notice)
        return {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn(text)}}],
        }
    emoji = _SLACK_STATUS_EMOJI[notice.status]
    heading = f"#{notice.number} {notice.title}"
    fallback = f"{emoji} {mrkdwn(_status_line(notice))}: {mrkdwn(heading)}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _truncate(f"{emoji} {heading}", 150),
                "emoji": True,
            },
        }
    ]
    if notice.summary:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _truncate(mrkdwn(notice.summary), 3000)},
            }
        )
    fields = [
        ("Status", _status_line(notice)),
        ("Service", notice.service or "-"),
        ("Priority", notice.priority or "-"),
        ("Urgency", notice.urgency),
    ]
    if notice.assignee:
        fields.append(("Assignee", notice.assignee))
    blocks.append(
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{mrkdwn(v)}"} for k, v in fields],
        }
    )
    context: list[str] = (
        [_slack_link(notice.url, f"Open incident #{notice.number}")] if notice.url else []
    )
    context += [_slack_link(link.url, link.title) for link in notice.runbooks]
    if notice.labels:
        context.append(" ".join(f"`{mrkdwn(k)}={mrkdwn(v)}`" for k, v in notice.labels))
    if context:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": " · ".join(context)}],
            }
        )
    buttons: list[dict[str, Any]] = []
    if notice.status is Status.TRIGGERED:
        buttons.append(
            {
                "type": "button",
                "action_id": ACK_ACTION_ID,
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "style": "primary",
                "value": f"acknowledge:{notice.incident_id}",
            }
        )
    if notice.status is not Status.RESOLVED:
        buttons.append(
            {
                "type": "button",
                "action_id": RESOLVE_ACTION_ID,
                "text": {"type": "plain_text", "text": "Resolve"},
                "value": f"resolve:{notice.incident_id}",
            }
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": f"oncall.incident.{notice.incident_id}",
                "elements": buttons,
            }
        )
    return {"text": fallback, "blocks": blocks}


# --------------------------------------------------------------------------------------------
# Email


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def one_line(subject: str) -> str:
    """A subject on one line, so a newline in sender-written text cannot add a header."""
    return " ".join(subject.split())[:900]


def _email_subject(notice: Notice) -> str:
    if notice.kind is NoticeKind.TEST:
        return "[oncall] Test notification"
    if notice.kind is NoticeKind.VERIFICATION:
        return "[oncall] Your verification code"
    priority = f" [{notice.priority}]" if notice.priority else ""
    return f"[oncall]{priority} #{notice.number} {_status_line(notice)}: {notice.title}"


def _facts(notice: Notice) -> list[tuple[str, str]]:
    facts = [("Status", _status_line(notice)), ("Service", notice.service or "-")]
    facts.append(("Priority", notice.priority or "-"))
    facts.append(("Urgency", notice.urgency))
    if notice.assignee:
        facts.append(("Assignee", notice.assignee))
    if notice.labels:
        facts.append(("Labels", ", ".join(f"{k}={v}" for k, v in notice.labels)))
    return facts


def render_email(notice: Notice) -> RenderedEmail:
    """Text and HTML parts saying the same; every value is escaped in the HTML part."""
    subject = _email_subject(notice)
    if not notice.is_incident:
        body = TEST_TEXT if notice.kind is NoticeKind.TEST else _verification_text(notice)
        text = body + "\n"
        page = f"<p>{html.escape(body)}</p>"
        return RenderedEmail(subject, text, _html_document(subject, page))
    lines = [f"Incident #{notice.number}: {notice.title}", ""]
    lines += [f"{name}: {value}" for name, value in _facts(notice)]
    if notice.summary:
        lines += ["", notice.summary]
    lines.append("")
    if notice.ack_url and notice.status is Status.TRIGGERED:
        lines.append(f"Acknowledge: {notice.ack_url}")
    if notice.url:
        lines.append(f"Open incident: {notice.url}")
    if notice.runbooks:
        lines += ["", "Runbooks:"] + [f"- {link.title}: {link.url}" for link in notice.runbooks]
    text = "\n".join(lines).rstrip("\n") + "\n"

    esc = html.escape
    rows = "".join(
        f'<tr><th align="left" style="padding:2px 12px 2px 0">{esc(name)}</th>'
        f"<td>{esc(value)}</td></tr>"
        for name, value in _facts(notice)
    )
    parts = [f"<h2>Incident #{notice.number}: {esc(notice.title)}</h2>", f"<table>{rows}</table>"]
    if notice.summary:
        parts.append(f'<p style="white-space:pre-wrap">{esc(notice.summary)}</p>')
    buttons = []
    if notice.ack_url and notice.status is Status.TRIGGERED:
        buttons.append(
            f'<a href="{esc(notice.ack_url)}" style="display:inline-block;padding:10px 18px;'
            'background:#c0392b;color:#ffffff;text-decoration:none;border-radius:4px">'
            "Acknowledge</a>"
        )
    if notice.url:
        buttons.append(f'<a href="{esc(notice.url)}">Open incident #{notice.number}</a>')
    if buttons:
        parts.append("<p>" + " &nbsp; ".join(buttons) + "</p>")
    if notice.runbooks:
        items = "".join(
            f'<li><a href="{esc(link.url)}">{esc(link.title)}</a></li>' for link in notice.runbooks
        )
        parts.append(f"<p>Runbooks:</p><ul>{items}</ul>")
    return RenderedEmail(subject, text, _html_document(subject, "\n".join(parts)))


def _html_document(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        f'<body style="font-family:sans-serif">\n{body}\n</body></html>\n'
    )


# --------------------------------------------------------------------------------------------
# SMS

SMS_LIMIT = 160
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")
_TO_GSM7 = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "•": "*",
    "·": "-",
    "\t": " ",
    "`": "'",
    "´": "'",
    "«": '"',
    "»": '"',
    "\u00a0": " ",
}


def gsm7_length(text: str) -> int | None:
    """Septets the text takes in GSM-7, or None if it needs UCS-2 (a 70-character SMS)."""
    length = 0
    for char in text:
        if char in _GSM7_BASIC:
            length += 1
        elif char in _GSM7_EXTENDED:
            length += 2
        else:
            return None
    return length


def to_gsm7(text: str) -> str:
    """Replace what GSM-7 lacks (typographic quotes, accents, emoji) so a page stays one SMS;
    runs of white space become one space."""
    return re.sub(r"\s+", " ", _gsm7_chars(text)).strip()


def _gsm7_chars(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char in _GSM7_BASIC or char in _GSM7_EXTENDED:
            out.append(char)
        elif char in _TO_GSM7:
            out.append(_TO_GSM7[char])
        else:
            base = unicodedata.normalize("NFKD", char)
            kept = "".join(c for c in base if c in _GSM7_BASIC or c in _GSM7_EXTENDED)
            out.append(kept or ("?" if unicodedata.category(char)[0] in "LNPS" else ""))
    return "".join(out)


def _fit_gsm7(prefix: str, middle: str, suffix: str, limit: int = SMS_LIMIT) -> str:
    """`prefix + middle + suffix`, shortening `middle` so the whole fits `limit` septets."""
    prefix, middle, suffix = _gsm7_chars(prefix), to_gsm7(middle), _gsm7_chars(suffix)
    middle = middle.rstrip(". ")
    fixed = (gsm7_length(prefix) or 0) + (gsm7_length(suffix) or 0)
    if fixed + (gsm7_length(middle) or 0) + 1 <= limit:
        return prefix + middle + "." + suffix
    room = limit - fixed - 3
    cut = ""
    for char in middle:
        if (gsm7_length(cut + char) or 0) > room:
            break
        cut += char
    return prefix + cut.rstrip() + "..." + suffix


def render_sms(notice: Notice) -> str:
    """One GSM-7 SMS: the incident number, title and how to answer by reply."""
    if notice.kind is NoticeKind.TEST:
        return to_gsm7("oncall: " + TEST_TEXT)
    if notice.kind is NoticeKind.VERIFICATION:
        return to_gsm7(_verification_text(notice))
    n = notice.number
    if notice.status is Status.TRIGGERED:
        priority = f" {notice.priority}" if notice.priority else ""
        return _fit_gsm7(f"oncall #{n}{priority}: ", notice.title, f" Reply ACK {n} or RES {n}")
    if notice.status is Status.ACKNOWLEDGED:
        by = f" by {notice.actor}" if notice.actor else ""
        return _fit_gsm7(f"oncall #{n} acknowledged{by}: ", notice.title, f" Reply RES {n}")
    return _fit_gsm7(f"oncall #{n} resolved: ", notice.title, "")


@dataclass(frozen=True)
class SmsReply:
    action: str
    """"acknowledge" or "resolve"."""
    number: int | None
    """The incident number; None for a bare `ACK`: the sender's latest incident."""


_SMS_WORDS = {
    "ACK": "acknowledge",
    "ACKNOWLEDGE": "acknowledge",
    "A": "acknowledge",
    "RES": "resolve",
    "RESOLVE": "resolve",
    "R": "resolve",
}
_SMS_REPLY = re.compile(r"^\s*([A-Za-z]+)\s*#?\s*(\d{1,12})?\s*[.!]?\s*$")


def parse_sms_reply(body: str) -> SmsReply | None:
    """`ACK 123`, `res #123`, bare `ACK`; None for anything else (it changes nothing)."""
    match = _SMS_REPLY.match(body)
    if match is None:
        return None
    action = _SMS_WORDS.get(match.group(1).upper())
    if action is None:
        return None
    number = int(match.group(2)) if match.group(2) else None
    return SmsReply(action, number)


# --------------------------------------------------------------------------------------------
# Voice (TwiML)


class VoiceDigit(StrEnum):
    ACKNOWLEDGE = "1"
    RESOLVE = "2"
    ESCALATE = "3"


_VOICE_MENU = "Press 1 to acknowledge. Press 2 to resolve. Press 3 to escalate now."
GATHER_TIMEOUT = 8
"""Seconds the call waits for a keypress after the message before repeating it."""


def _spoken(notice: Notice) -> str:
    priority = f", priority {notice.priority}" if notice.priority else ""
    service = f" on service {notice.service}" if notice.service else ""
    return f"This is oncall. Incident {notice.number}{priority}{service}: {notice.title}."


def render_voice(notice: Notice, gather_url: str, *, preface: str | None = None) -> str:
    """The call's TwiML: read the incident, take one digit, say it twice, hang up politely.

    The digit is posted to `gather_url` (1 acknowledge, 2 resolve, 3 escalate now); a call with
    no keypress ends, and its status callback lets the escalation go on.
    """
    response = VoiceResponse()
    if not notice.is_incident:
        text = (
            TEST_TEXT
            if notice.kind is NoticeKind.TEST
            else "Your oncall verification code is "
            + ", ".join(notice.code or "")
            + ". Again: "
            + ", ".join(notice.code or "")
            + "."
        )
        response.say(text)
        response.say("Goodbye.")
        response.hangup()
        return str(response)
    if preface:
        response.say(preface)
    for attempt in range(2):
        gather = Gather(num_digits=1, action=gather_url, method="POST", timeout=GATHER_TIMEOUT)
        intro = _spoken(notice) if attempt == 0 else "Again. " + _spoken(notice)
        gather.say(intro)
        gather.say(_VOICE_MENU)
        response.append(gather)
    response.say("No key was pressed. The incident stays open and escalation continues. Goodbye.")
    response.hangup()
    return str(response)


def render_voice_reply(notice: Notice, digit: str, gather_url: str) -> str:
    """TwiML answering a keypress: confirm the action and hang up, or repeat the menu."""
    outcome = {
        VoiceDigit.ACKNOWLEDGE: "acknowledged",
        VoiceDigit.RESOLVE: "resolved",
        VoiceDigit.ESCALATE: "escalated to the next level",
    }
    try:
        chosen = VoiceDigit(digit)
    except ValueError:
        return render_voice(notice, gather_url, preface="Sorry, that is not an option.")
    response = VoiceResponse()
    response.say(f"Incident {notice.number} {outcome[chosen]}. Thank you. Goodbye.")
    response.hangup()
    return str(response)


# --------------------------------------------------------------------------------------------
# Web push


def render_push(notice: Notice) -> str:
    """The encrypted payload the service worker turns into a notification.

    `tag` makes an update replace the earlier notification of the same incident.
    """
    if not notice.is_incident:
        body = TEST_TEXT if notice.kind is NoticeKind.TEST else _verification_text(notice)
        payload: dict[str, Any] = {
            "title": "oncall",
            "body": body,
            "url": notice.url,
            "tag": f"oncall-{notice.kind.value}",
        }
        return json.dumps(payload, ensure_ascii=False, sort_keys=True)
    details = [part for part in (notice.priority, notice.service, notice.summary) if part]
    actions = []
    if notice.status is Status.TRIGGERED and notice.ack_url:
        actions.append({"action": "acknowledge", "title": "Acknowledge"})
    payload = {
        "title": f"#{notice.number} {_status_line(notice)}: {notice.title}",
        "body": _truncate(" · ".join(details), 240),
        "url": notice.url,
        "tag": notice.tag,
        "renotify": notice.status is Status.TRIGGERED,
        "requireInteraction": notice.status is Status.TRIGGERED and notice.urgency == "high",
        "actions": actions,
        "data": {
            "incident_id": notice.incident_id,
            "number": notice.number,
            "status": notice.status.value,
            "ack_url": notice.ack_url if notice.status is Status.TRIGGERED else None,
        },
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True)


# --------------------------------------------------------------------------------------------
# Microsoft Teams (Adaptive Card through an incoming webhook)

_TEAMS_COLOR = {
    Status.TRIGGERED: "Attention",
    Status.ACKNOWLEDGED: "Warning",
    Status.RESOLVED: "Good",
}


# Teams renders a Markdown subset in TextBlock text and in FactSet titles and values: emphasis,
# lists at the start of a line, [links](url) and <autolinks>. A backslash before a punctuation
# mark makes it literal (CommonMark), so a title cannot become a link or a list.
_TEAMS_MARKDOWN = re.compile(r"([\\`*_~\[\]()<>|])")
_TEAMS_LIST_ITEM = re.compile(r"(?m)^(\s*)([-+]|\d+\.)(?=\s|$)")


def teams_text(text: str) -> str:
    """Sender-written text for a Teams TextBlock or fact: shown as written, never as Markdown."""
    escaped = _TEAMS_MARKDOWN.sub(r"\\\1", text)
    return _TEAMS_LIST_ITEM.sub(_literal_list_marker, escaped)


def _literal_list_marker(match: re.Match[str]) -> str:
    indent, marker = match.group(1), match.group(2)
    if marker.endswith("."):  # "1." -> "1\."
        return f"{indent}{marker[:-1]}\\."
    return f"{indent}\\{marker}"  # "-" -> "\-"


def render_teams(notice: Notice) -> dict[str, Any]:
    """An incoming-webhook message holding one Adaptive Card (schema 1.4).

    Incoming webhooks cannot change a posted card, so a state change posts a new card; the
    acknowledge action opens the signed link, as Teams offers no callback to a webhook.
    """
    body: list[dict[str, Any]]
    actions: list[dict[str, Any]] = []
    if not notice.is_incident:
        text = TEST_TEXT if notice.kind is NoticeKind.TEST else _verification_text(notice)
        body = [{"type": "TextBlock", "text": text, "wrap": True}]
    else:
        body = [
            {
                "type": "TextBlock",
                "text": f"#{notice.number} {teams_text(notice.title)}",
                "weight": "Bolder",
                "size": "Large",
                "wrap": True,
            },
            {
                "type": "TextBlock",
                "text": teams_text(_status_line(notice)),
                "color": _TEAMS_COLOR[notice.status],
                "weight": "Bolder",
                "spacing": "None",
            },
        ]
        if notice.summary:
            body.append({"type": "TextBlock", "text": teams_text(notice.summary), "wrap": True})
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": name, "value": teams_text(value)} for name, value in _facts(notice)
                ],
            }
        )
        if notice.ack_url and notice.status is Status.TRIGGERED:
            actions.append(
                {"type": "Action.OpenUrl", "title": "Acknowledge", "url": notice.ack_url}
            )
        if notice.url:
            actions.append({"type": "Action.OpenUrl", "title": "Open incident", "url": notice.url})
        actions += [
            {
                "type": "Action.OpenUrl",
                "title": _truncate(f"Runbook: {link.title}", 60),
                "url": link.url,
            }
            for link in notice.runbooks
        ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if actions:
        card["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
