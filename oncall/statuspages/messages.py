"""What a status page's subscribers receive: mails and webhook payloads.

Pure: a page's public text in, a `Mail` or JSON text out. Only what the page itself shows is
used (the notice's title and messages, component and maintenance names), never anything of
an incident. Every mail carries a one-click unsubscribe link and RFC 8058's headers, so mail
clients offer "unsubscribe" themselves; links are absolute under the deployment's public URL.

A webhook payload has Statuspage's webhook shape (`meta`, `page`, and `incident` or
`component_update`/`component`), so receivers built for Statuspage read it. It is signed:
`X-Oncall-Timestamp` holds the Unix time at which it was queued and `X-Oncall-Signature` is
`sha256=` and the hex HMAC-SHA256, keyed with the subscription's secret, of
`<timestamp>.<body>` (the exact bytes received). A receiver recomputes it, compares in
constant time, and may refuse a timestamp far in the past (a retried post keeps its first
timestamp, so allow for retries: up to an hour).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup

from oncall.core.status import ComponentStatus, Maintenance
from oncall.notify.mail import Mail
from oncall.statuspages import render_json
from oncall.statuspages.view import PageView

TIMESTAMP_HEADER = "X-Oncall-Timestamp"
SIGNATURE_HEADER = "X-Oncall-Signature"
ONE_CLICK = "List-Unsubscribe=One-Click"

_STATUS = {"investigating": "Investigating", "identified": "Identified",
           "monitoring": "Monitoring", "resolved": "Resolved"}
_STAGE = {"started": "Maintenance started", "completed": "Maintenance completed"}


@dataclass(frozen=True)
class PageRef:
    """The page a message is about, and where its links point."""

    name: str
    title: str
    base_url: str

    @property
    def url(self) -> str:
        return render_json.page_url(self.base_url, self.name)

    def subscription(self, token: str, action: str) -> str:
        """The absolute link that confirms or ends (`action`) the subscription of `token`."""
        return f"{self.url}/subscriptions/{token}/{action}"


@dataclass(frozen=True)
class NoticeText:
    """One message of a notice, as the page shows it."""

    id: int
    title: str
    status: str
    """The message's stage (investigating … resolved)."""
    body: str
    components: tuple[str, ...]
    at: datetime


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%d %b %Y, %H:%M UTC")


def _stage(status: str) -> str:
    return _STATUS.get(status, status.capitalize())


def _following(components: Sequence[str]) -> str:
    return f" ({', '.join(components)})" if components else ""


def _mail(page: PageRef, token: str, subject: str, lines: list[str], html: Markup,
          link: str, following: Sequence[str]) -> Mail:
    """A subscriber's mail: the message, a link to the page, why it came and how to stop."""
    unsubscribe = page.subscription(token, "unsubscribe")
    why = f"You receive this because you subscribed to {page.title}{_following(following)}."
    text = "\n".join([*lines, "", f"View the status page: {link}", "", why,
                      f"Unsubscribe: {unsubscribe}", ""])
    document = Markup(
        '<!doctype html><html><body style="font-family:system-ui,sans-serif;max-width:40rem">'
        '{html}<p><a href="{link}">View the status page</a></p>'
        '<hr><p style="color:#616e7c;font-size:.875rem">{why} '
        '<a href="{unsubscribe}">Unsubscribe</a></p></body></html>\n'
    ).format(html=html, link=link, why=why, unsubscribe=unsubscribe)
    return Mail(subject=f"[{page.title}] {subject}", text=text, html=str(document),
                headers={"List-Unsubscribe": f"<{unsubscribe}>",
                         "List-Unsubscribe-Post": ONE_CLICK})


def confirmation(page: PageRef, token: str, components: Sequence[str]) -> Mail:
    """The one mail sent before a subscription is confirmed: the link that confirms it."""
    confirm = page.subscription(token, "confirm")
    what = f"{page.title}{_following(components)}"
    text = "\n".join([
        f"Someone, hopefully you, asked to receive updates of {what} at this address.",
        "", f"Confirm the subscription: {confirm}", "",
        "If it was not you, ignore this mail: nothing more will be sent.", ""])
    html = Markup(
        '<!doctype html><html><body style="font-family:system-ui,sans-serif;max-width:40rem">'
        "<p>Someone, hopefully you, asked to receive updates of {what} at this address.</p>"
        '<p><a href="{confirm}">Confirm the subscription</a></p>'
        "<p>If it was not you, ignore this mail: nothing more will be sent.</p>"
        "</body></html>\n").format(what=what, confirm=confirm)
    return Mail(subject=f"[{page.title}] Confirm your subscription", text=text,
                html=str(html))


def notice_mail(page: PageRef, token: str, notice: NoticeText,
                following: Sequence[str] = ()) -> Mail:
    """A notice opened, updated or resolved: its title, this message and what it affects."""
    stage = _stage(notice.status)
    affects = f"Affects: {', '.join(notice.components)}" if notice.components else ""
    lines = [notice.title, "", f"{stage} - {notice.body}"]
    if affects:
        lines.append(affects)
    lines.append(f"Posted {_when(notice.at)}")
    html = Markup(
        "<h2>{title}</h2><p><strong>{stage}</strong> - {body}</p>{affects}"
        '<p style="color:#616e7c">Posted {at}</p>'
    ).format(title=notice.title, stage=stage,
             body=Markup("<br>").join(notice.body.splitlines() or [""]),
             affects=Markup("<p>{}</p>").format(affects) if affects else Markup(""),
             at=_when(notice.at))
    return _mail(page, token, f"{stage}: {notice.title}", lines, html,
                 f"{page.url}#incident-{notice.id}", following)


def maintenance_mail(page: PageRef, token: str, window: Maintenance, stage: str,
                     components: Sequence[str], following: Sequence[str] = ()) -> Mail:
    """A maintenance window started or completed (`stage`), with the components it affects."""
    heading = _STAGE[stage]
    span = f"Scheduled {_when(window.starts_at)} to {_when(window.ends_at)}"
    affects = f"Affects: {', '.join(components)}" if components else ""
    lines = [f"{heading}: {window.name}", ""]
    if window.description:
        lines.append(window.description)
    lines.append(span)
    if affects:
        lines.append(affects)
    anchor = render_json.stable_id("maintenance", page.name, window.name)
    html = Markup("<h2>{heading}: {name}</h2>{description}<p>{span}</p>{affects}").format(
        heading=heading, name=window.name,
        description=(Markup("<p>{}</p>").format(window.description) if window.description
                     else Markup("")),
        span=span, affects=Markup("<p>{}</p>").format(affects) if affects else Markup(""))
    return _mail(page, token, f"{heading}: {window.name}", lines, html,
                 f"{page.url}#maintenance-{anchor}", following)


# --- webhooks ---------------------------------------------------------------------------------


def _envelope(view: PageView, unsubscribe: str) -> dict[str, Any]:
    """`meta.documentation` is the page itself: the unsubscribe link lives under it
    (`/status/NAME/subscriptions/TOKEN/unsubscribe`)."""
    page_url = unsubscribe.rsplit("/subscriptions/", 1)[0]
    return {"meta": {"unsubscribe": unsubscribe, "documentation": page_url},
            "page": {"id": render_json.stable_id("page", view.name),
                     "status_indicator": view.indicator.value,
                     "status_description": view.status_description}}


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def incident_payload(view: PageView, notice_id: int, unsubscribe: str,
                     base_url: str) -> str | None:
    """A notice as Statuspage's `incident` webhook; None when the page does not show it."""
    found = [i for i in render_json.incidents(view, base_url)["incidents"]
             if i["id"] == str(notice_id)]
    if not found:
        return None
    return _text({**_envelope(view, unsubscribe), "incident": found[0]})


def maintenance_payload(view: PageView, window: str, unsubscribe: str,
                        base_url: str) -> str | None:
    """A maintenance window as Statuspage sends one: an `incident` of impact maintenance."""
    wanted = render_json.stable_id("maintenance", view.name, window)
    found = [m for m in render_json.scheduled_maintenances(view, base_url)
             ["scheduled_maintenances"] if m["id"] == wanted]
    if not found:
        return None
    return _text({**_envelope(view, unsubscribe), "incident": found[0]})


def component_payload(view: PageView, component: str, old: ComponentStatus,
                      new: ComponentStatus, at: datetime, unsubscribe: str) -> str:
    """A component's change of status as Statuspage's `component_update` webhook."""
    component_id = render_json.stable_id("component", view.name, component)
    when = render_json.when(at)
    return _text({**_envelope(view, unsubscribe),
                  "component_update": {
                      "created_at": when, "new_status": new.value, "old_status": old.value,
                      "id": render_json.stable_id("component-update", view.name, component,
                                                  when or ""),
                      "component_id": component_id},
                  "component": {"created_at": when, "id": component_id, "name": component,
                                "status": new.value}})


def signature(secret: str, timestamp: str, content: str) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<content>` under `secret`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.{content}".encode(),
                      hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(secret: str, content: str, now: datetime) -> dict[str, str]:
    """The headers that let a receiver check a payload came from this page, unchanged."""
    timestamp = str(int(now.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, content)}
