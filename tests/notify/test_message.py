"""Every renderer's output is pinned by a golden file; the parsers accept what we send."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from oncall.notify.message import (
    Link,
    Notice,
    SlackAction,
    SmsReply,
    gsm7_length,
    parse_slack_action,
    parse_sms_reply,
    render_email,
    render_push,
    render_slack,
    render_sms,
    render_teams,
    render_voice,
    render_voice_reply,
    to_gsm7,
)

from .conftest import ACKED, PAGE, RESOLVED

GATHER = "https://oncall.example.com/api/v1/twilio/voice/gather?incident=01J9ZK3V7QW8"


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _email(notice: Notice) -> str:
    mail = render_email(notice)
    return f"Subject: {mail.subject}\n\n{mail.text}\n--- html ---\n{mail.html}"


RENDERINGS: list[tuple[str, Callable[[], str]]] = [
    ("slack_triggered.json", lambda: _json(render_slack(PAGE))),
    ("slack_acknowledged.json", lambda: _json(render_slack(ACKED))),
    ("slack_resolved.json", lambda: _json(render_slack(RESOLVED))),
    ("slack_verification.json", lambda: _json(render_slack(Notice.verification("482913")))),
    ("email_triggered.txt", lambda: _email(PAGE)),
    ("email_resolved.txt", lambda: _email(RESOLVED)),
    ("email_test.txt", lambda: _email(Notice.test())),
    ("sms_triggered.txt", lambda: render_sms(PAGE) + "\n"),
    ("sms_acknowledged.txt", lambda: render_sms(ACKED) + "\n"),
    ("sms_resolved.txt", lambda: render_sms(RESOLVED) + "\n"),
    ("sms_verification.txt", lambda: render_sms(Notice.verification("482913")) + "\n"),
    ("voice_triggered.xml", lambda: render_voice(PAGE, GATHER) + "\n"),
    ("voice_verification.xml", lambda: render_voice(Notice.verification("4829"), GATHER) + "\n"),
    ("voice_reply_ack.xml", lambda: render_voice_reply(PAGE, "1", GATHER) + "\n"),
    ("voice_reply_invalid.xml", lambda: render_voice_reply(PAGE, "9", GATHER) + "\n"),
    ("push_triggered.json", lambda: _json(json.loads(render_push(PAGE)))),
    ("push_resolved.json", lambda: _json(json.loads(render_push(RESOLVED)))),
    ("teams_triggered.json", lambda: _json(render_teams(PAGE))),
    ("teams_resolved.json", lambda: _json(render_teams(RESOLVED))),
]


@pytest.mark.parametrize(("name", "render"), RENDERINGS, ids=[n for n, _ in RENDERINGS])
def test_rendering_matches_golden(
    name: str, render: Callable[[], str], golden: Callable[[str, str], None]
) -> None:
    golden(name, render())


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize(
    ("notice", "labels"),
    [(PAGE, ["Acknowledge", "Resolve"]), (ACKED, ["Resolve"]), (RESOLVED, [])],
)
def test_slack_buttons_follow_the_state(notice: Notice, labels: list[str]) -> None:
    buttons = _buttons(render_slack(notice))
    assert [b["text"]["text"] for b in buttons] == labels
    for button in buttons:
        action = parse_slack_action(button["action_id"], button["value"])
        assert action == SlackAction(button["text"]["text"].lower(), PAGE.incident_id)


@pytest.mark.parametrize(
    ("action_id", "value"),
    [
        ("oncall.acknowledge", "resolve:01J"),  # verb and button disagree
        ("oncall.acknowledge", "acknowledge:"),
        ("someone.else", "acknowledge:01J"),
        ("oncall.resolve", "garbage"),
    ],
)
def test_slack_action_parser_refuses_what_we_did_not_send(action_id: str, value: str) -> None:
    assert parse_slack_action(action_id, value) is None


def test_slack_escapes_mrkdwn_control_characters() -> None:
    section = render_slack(PAGE)["blocks"][1]["text"]["text"]
    assert "&lt;prod&gt; &amp; eu-west-1" in section


def test_email_html_escapes_values_and_carries_the_ack_link() -> None:
    hostile = replace(PAGE, title='<script>alert("x")</script>', summary="a & b")
    mail = render_email(hostile)
    assert "<script>" not in mail.html
    assert "&lt;script&gt;" in mail.html
    assert 'href="https://oncall.example.com/ack/t0k3n?sig=abc&amp;exp=1700000000"' in mail.html
    assert f"Acknowledge: {PAGE.ack_url}" in mail.text
    assert "Acknowledge" not in render_email(RESOLVED).text


@pytest.mark.parametrize(
    "title",
    ["short", "x" * 400, "Ünïcödé “quotes” — dashes… and emoji 🔥 " * 5, "braces {} [] ~ ^ " * 20],
)
def test_sms_is_one_gsm7_message_with_reply_instructions(title: str) -> None:
    text = render_sms(replace(PAGE, title=title))
    length = gsm7_length(text)
    assert length is not None and length <= 160, (length, text)
    assert text.startswith("oncall #123 P1: ")
    assert text.endswith("Reply ACK 123 or RES 123")


def test_to_gsm7_keeps_meaning() -> None:
    assert to_gsm7("“Disk” – 95% full…") == '"Disk" - 95% full...'
    assert to_gsm7("Zürich café, Málaga 🔥") == "Zürich café, Malaga ?"


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        ("ACK 123", SmsReply("acknowledge", 123)),
        ("ack #123", SmsReply("acknowledge", 123)),
        ("  Res 7. ", SmsReply("resolve", 7)),
        ("ACK", SmsReply("acknowledge", None)),
        ("resolve", SmsReply("resolve", None)),
        ("yes", None),
        ("ACK 12 34", None),
        ("", None),
        ("ACK abc", None),
    ],
)
def test_sms_reply_parsing(body: str, reply: SmsReply | None) -> None:
    assert parse_sms_reply(body) == reply


def test_voice_gathers_one_digit_twice_then_hangs_up() -> None:
    root = ET.fromstring(render_voice(PAGE, GATHER))
    gathers = root.findall("Gather")
    assert len(gathers) == 2
    assert all(g.get("numDigits") == "1" and g.get("action") == GATHER for g in gathers)
    spoken = " ".join(s.text or "" for s in root.iter("Say"))
    assert "Incident 123" in spoken and "Press 1 to acknowledge" in spoken
    assert root[-1].tag == "Hangup"


def test_push_payload_groups_by_incident_and_deep_links() -> None:
    payload = json.loads(render_push(PAGE))
    assert payload["tag"] == "incident-01J9ZK3V7QW8"
    assert payload["url"] == PAGE.url
    assert payload["data"]["ack_url"] == PAGE.ack_url
    assert json.loads(render_push(RESOLVED))["data"]["ack_url"] is None


def test_teams_card_is_an_adaptive_card_with_actions() -> None:
    message = render_teams(PAGE)
    card = message["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard"
    assert [a["title"] for a in card["actions"]][:2] == ["Acknowledge", "Open incident"]
    assert "Acknowledge" not in [
        a["title"] for a in render_teams(RESOLVED)["attachments"][0]["content"]["actions"]
    ]


# A sender writes the title, summary and labels of an alert; responders write their names; config
# writes service names and runbook links. None of it may ping a channel or hide a link.
HOSTILE_SLACK = "<!channel> <https://evil.example|Reset SSO> <@U0ADMIN> & more"
HOSTILE = replace(
    ACKED,
    title=HOSTILE_SLACK,
    summary=HOSTILE_SLACK,
    service=HOSTILE_SLACK,
    priority="<!here>",
    assignee="<!everyone>",
    actor="<@U0ADMIN>",
    labels=(("<!channel>", "<https://evil.example|x>"),),
    runbooks=(Link("<!channel>", "https://runbooks.example.com/a|<!channel>"),),
)


def _slack_texts(message: dict[str, Any]) -> list[str]:
    """Every string Slack parses for control sequences: the fallback and all mrkdwn texts."""
    texts = [message["text"]]
    stack: list[Any] = [message["blocks"]]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "mrkdwn":
                texts.append(item["text"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return texts


def test_slack_escapes_sender_text_in_the_fallback_and_every_mrkdwn_field() -> None:
    message = render_slack(HOSTILE)
    texts = _slack_texts(message)
    assert len(texts) >= 7
    for text in texts:
        for control in ("<!channel>", "<!here>", "<!everyone>", "<@U0ADMIN>", "<https://evil"):
            assert control not in text, text
    assert message["text"] == (
        ":eyes: Acknowledged by &lt;@U0ADMIN&gt;: #123 &lt;!channel&gt; "
        "&lt;https://evil.example|Reset SSO&gt; &lt;@U0ADMIN&gt; &amp; more"
    )
    context = next(b for b in message["blocks"] if b["type"] == "context")["elements"][0]["text"]
    # our own link markup stays a link; the URL from config cannot end it early
    assert context.startswith("<https://oncall.example.com/incidents/123|Open incident #123>")
    assert "<https://runbooks.example.com/a%7C&lt;!channel&gt;|&lt;!channel&gt;>" in context
    # plain_text is not parsed for control sequences, so the header shows the title as written
    assert message["blocks"][0]["type"] == "header"
    assert message["blocks"][0]["text"]["type"] == "plain_text"


def _teams_texts(message: dict[str, Any]) -> list[str]:
    card = message["attachments"][0]["content"]
    texts = [block["text"] for block in card["body"] if block["type"] == "TextBlock"]
    facts = next(block["facts"] for block in card["body"] if block["type"] == "FactSet")
    return texts + [fact["value"] for fact in facts]


def test_teams_shows_sender_markdown_as_written() -> None:
    link = "[Reset SSO](https://evil.example)"
    hostile = replace(
        HOSTILE,
        title=f"{link} **now**",
        summary=f"- {link}\n1. <https://evil.example>",
        service=link,
        labels=(("a", link),),
        actor=link,
    )
    texts = _teams_texts(render_teams(hostile))
    assert texts[0] == r"#123 \[Reset SSO\]\(https://evil.example\) \*\*now\*\*"
    assert (
        texts[2] == "\\- \\[Reset SSO\\]\\(https://evil.example\\)\n1\\. \\<https://evil.example\\>"
    )
    for text in texts:
        assert link not in text, text
        assert not re.search(r"(?<!\\)[<\[]", text), text  # no unescaped [link] or <autolink>
    assert any(r"\[Reset SSO\]" in text for text in texts[3:])  # facts: service, labels, actor
