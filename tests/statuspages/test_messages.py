"""What subscribers receive: mails pinned by golden files, escaped, each with a one-click
unsubscribe; webhook payloads in Statuspage's shape with a signature a receiver can check.

Run with `UPDATE_GOLDEN=1` to rewrite the goldens after a deliberate change, then review the diff.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from pathlib import Path

import pytest

from oncall.core.status import ComponentStatus, Maintenance
from oncall.notify.mail import Mail
from oncall.statuspages import messages
from oncall.statuspages.messages import NoticeText, PageRef
from oncall.testing import golden

from .pageviews import BASE_URL, HOSTILE, NOW, sample_view

GOLDEN = Path(__file__).parent / "golden" / "messages"
PAGE = PageRef("northwind-status", "Northwind <status>", BASE_URL)
TOKEN = "tok_3xAmple"
UNSUBSCRIBE = f"{BASE_URL}/status/northwind-status/subscriptions/{TOKEN}/unsubscribe"
NOTICE = NoticeText(7, f"Checkout errors {HOSTILE}", "identified",
                    "Bad deploy.\nRolling back <b>now</b>.", ("Checkout & payments",), NOW)
SECRET = "9f2c" * 16


def _as_text(mail: Mail) -> str:
    headers = "".join(f"{k}: {v}\n" for k, v in sorted(mail.headers.items()))
    return (f"Subject: {mail.subject}\n{headers}\n--- text ---\n{mail.text}"
            f"--- html ---\n{mail.html}")


def _window(stage: str) -> Maintenance:
    found: Maintenance = sample_view().maintenances[0 if stage == "started" else 1].maintenance
    return found


MAILS = {
    "confirmation": lambda: messages.confirmation(PAGE, TOKEN, ("Search",)),
    "notice_opened": lambda: messages.notice_mail(
        PAGE, TOKEN, NoticeText(7, NOTICE.title, "investigating", "Looking into it.",
                                NOTICE.components, NOW)),
    "notice_updated": lambda: messages.notice_mail(PAGE, TOKEN, NOTICE,
                                                   ("Checkout & payments",)),
    "notice_resolved": lambda: messages.notice_mail(
        PAGE, TOKEN, NoticeText(7, NOTICE.title, "resolved", "Fixed.", (), NOW)),
    "maintenance_started": lambda: messages.maintenance_mail(
        PAGE, TOKEN, _window("started"), "started", ("Search",)),
    "maintenance_completed": lambda: messages.maintenance_mail(
        PAGE, TOKEN, _window("completed"), "completed", ("Checkout & payments",)),
}


@pytest.mark.parametrize("name", sorted(MAILS))
def test_each_mail_matches_its_golden(name: str) -> None:
    golden.check(GOLDEN / f"{name}.txt", _as_text(MAILS[name]()))


@pytest.mark.parametrize("name", sorted(set(MAILS) - {"confirmation"}))
def test_every_mail_to_a_subscriber_offers_one_click_unsubscribe(name: str) -> None:
    mail = MAILS[name]()
    assert mail.headers == {"List-Unsubscribe": f"<{UNSUBSCRIBE}>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert UNSUBSCRIBE in mail.text and UNSUBSCRIBE in (mail.html or "")
    assert f"{BASE_URL}/status/northwind-status#" in mail.text  # a link to the page
    assert mail.subject.startswith("[Northwind <status>] ")


@pytest.mark.parametrize(("notice", "subject"), [
    (NOTICE, "[Northwind <status>] Identified: Checkout errors " + HOSTILE),
    (NoticeText(1, "Slow", "investigating", "b", (), NOW),
     "[Northwind <status>] Investigating: Slow"),
    (NoticeText(1, "Slow", "resolved", "b", (), NOW), "[Northwind <status>] Resolved: Slow"),
])
def test_the_subject_names_the_page_the_stage_and_the_notice(notice: NoticeText,
                                                             subject: str) -> None:
    assert messages.notice_mail(PAGE, TOKEN, notice).subject == subject


def test_markup_in_page_and_notice_text_is_escaped_in_the_html() -> None:
    html = messages.notice_mail(PAGE, TOKEN, NOTICE).html or ""
    assert "<script" not in html and "<b>" not in html and "<status>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Rolling back &lt;b&gt;now&lt;/b&gt;" in html
    confirm = messages.confirmation(PAGE, TOKEN, ()).html or ""
    assert "<status>" not in confirm and "&lt;status&gt;" in confirm


def test_the_confirmation_mail_only_asks() -> None:
    mail = messages.confirmation(PAGE, TOKEN, ())
    assert f"{BASE_URL}/status/northwind-status/subscriptions/{TOKEN}/confirm" in mail.text
    assert "List-Unsubscribe" not in mail.headers
    assert mail.subject == "[Northwind <status>] Confirm your subscription"


# --- webhooks ---------------------------------------------------------------------------------


def _pretty(content: str) -> str:
    return json.dumps(json.loads(content), indent=2, ensure_ascii=False) + "\n"


def test_the_incident_payload_matches_its_golden_and_statuspages_shape() -> None:
    content = messages.incident_payload(sample_view(), 7, UNSUBSCRIBE, BASE_URL)
    assert content is not None
    golden.check(GOLDEN / "webhook_incident.json", _pretty(content))
    data = json.loads(content)
    assert list(data) == ["meta", "page", "incident"]
    assert data["meta"] == {"unsubscribe": UNSUBSCRIBE,
                            "documentation": f"{BASE_URL}/status/northwind-status"}
    assert set(data["page"]) == {"id", "status_indicator", "status_description"}
    assert data["page"]["status_indicator"] == "major"
    assert data["incident"]["id"] == "7" and data["incident"]["status"] == "identified"
    assert [u["id"] for u in data["incident"]["incident_updates"]] == ["12", "11"]
    assert messages.incident_payload(sample_view(), 999, UNSUBSCRIBE, BASE_URL) is None


def test_the_maintenance_payload_matches_its_golden() -> None:
    content = messages.maintenance_payload(sample_view(), "search-reindex", UNSUBSCRIBE,
                                           BASE_URL)
    assert content is not None
    golden.check(GOLDEN / "webhook_maintenance.json", _pretty(content))
    assert json.loads(content)["incident"]["impact"] == "maintenance"


def test_the_component_payload_matches_its_golden() -> None:
    component = messages.component_payload(
        sample_view(), "Search", ComponentStatus.OPERATIONAL,
        ComponentStatus.UNDER_MAINTENANCE, NOW - timedelta(hours=1), UNSUBSCRIBE)
    golden.check(GOLDEN / "webhook_component_update.json", _pretty(component))
    data = json.loads(component)
    assert (data["component_update"]["old_status"], data["component_update"]["new_status"]) == (
        "operational", "under_maintenance")
    assert data["component"]["id"] == data["component_update"]["component_id"]


def test_a_receiver_can_verify_the_signature_with_the_stdlib() -> None:
    content = messages.incident_payload(sample_view(), 7, UNSUBSCRIBE, BASE_URL)
    assert content is not None
    headers = messages.signed_headers(SECRET, content, NOW)
    timestamp = headers["X-Oncall-Timestamp"]
    assert timestamp == str(int(NOW.timestamp()))
    expected = "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.{content}".encode(),
                                    hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Oncall-Signature"], expected)
    tampered = messages.signature(SECRET, timestamp, content.replace("identified", "resolved"))
    assert tampered != headers["X-Oncall-Signature"]
    assert messages.signature("another-secret", timestamp, content) != expected
