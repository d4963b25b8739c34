"""One-click acknowledge links from emails and push notifications.

The link carries a random token whose hash is stored (secret_tokens, purpose "ack"); it expires
and works once. Opening the link (GET) only shows a confirmation page, because mail scanners
open links; the button on it (POST) acknowledges as the person the link was sent to.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api.app import ApiContext
from oncall.api.routing import Operation, bind
from oncall.api.threads import offloaded
from oncall.core.tokens import hash_token
from oncall.db.engine import write_session
from oncall.db.models import IncidentRow, SecretTokenRow, UserRow
from oncall.incidents import service
from oncall.incidents.actors import Forbidden
from oncall.incidents.people import actor_for_email, is_active
from oncall.paging.notices import ACK_PURPOSE

PATH = "/ack/{token}"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;"
        "padding:0 1rem}button{font-size:1.2rem;padding:.8rem 1.6rem;border-radius:.5rem;"
        "border:0;background:#c0392b;color:#fff;width:100%}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>",
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _usable(session: Session, token: str, now: datetime) -> SecretTokenRow | None:
    row = session.scalar(
        select(SecretTokenRow).where(
            SecretTokenRow.token_hash == hash_token(token), SecretTokenRow.purpose == ACK_PURPOSE
        )
    )
    if row is None or row.used_at is not None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    user = session.get(UserRow, row.user_id) if row.user_id is not None else None
    if user is None or not is_active(user):
        return None  # sent to someone no longer in the config: the link is dead
    return row


GONE = "This acknowledge link has expired or was already used. Open the incident in oncall."


_PAGE = {"text/html": {"schema": {"type": "string"}}}
_TOKEN = {"name": "token", "in": "path", "required": True,
          "description": "The link's token, from the email or push notification",
          "schema": {"type": "string"}}
_GONE = {"description": "Expired, already used, revoked, or unknown", "content": _PAGE}


SHOW: Operation = {
    "operationId": "showAcknowledgeLink",
    "summary": "The confirmation page of a one-click acknowledge link (changes nothing)",
    "tags": ["acknowledge-link"],
    "security": [],
    "parameters": [_TOKEN],
    "responses": {"200": {"description": "A page with an Acknowledge button", "content": _PAGE},
                  "410": _GONE},
}


def show(ctx: ApiContext, request: Request, _body: bytes) -> Response:
    """The confirmation page: mail scanners open links, so opening one only shows this."""
    token = request.path_params["token"]
    with Session(ctx.engine) as session:
        row = _usable(session, token, ctx.clock())
        incident = session.get(IncidentRow, row.incident_id) if row and row.incident_id else None
    if row is None or incident is None:
        return _page("Link no longer valid", f"<p>{GONE}</p>", 410)
    title = html.escape(f"#{incident.id} {incident.title}")
    return _page(
        "Acknowledge incident",
        f"<p>{title}</p><p>Status: {html.escape(incident.status)}</p>"
        "<form method='post'><button type='submit'>Acknowledge</button></form>",
    )


ACKNOWLEDGE: Operation = {
    "operationId": "acknowledgeByLink",
    "summary": "Acknowledge as the person the link was sent to; the link then stops working",
    "tags": ["acknowledge-link"],
    "security": [],
    "parameters": [_TOKEN],
    "responses": {
        "200": {"description": "Acknowledged, or already so", "content": _PAGE},
        "403": {"description": "The link's user may no longer act on it", "content": _PAGE},
        "404": {"description": "The incident no longer exists", "content": _PAGE},
        "410": _GONE,
    },
}


def _claim(session: Session, token: str, now: datetime) -> tuple[int, int] | None:
    """(user id, incident id) of the link, marked used: the first request to do so wins."""
    claimed = session.execute(
        update(SecretTokenRow)
        .where(
            SecretTokenRow.token_hash == hash_token(token),
            SecretTokenRow.purpose == ACK_PURPOSE,
            SecretTokenRow.used_at.is_(None),
            SecretTokenRow.revoked_at.is_(None),
            SecretTokenRow.expires_at > now,
        )
        .values(used_at=now)
        .returning(SecretTokenRow.user_id, SecretTokenRow.incident_id)
    ).first()
    if claimed is None or claimed.incident_id is None or claimed.user_id is None:
        return None
    return claimed.user_id, claimed.incident_id


def acknowledge(ctx: ApiContext, request: Request, _body: bytes) -> Response:
    """The button on the confirmation page; a committed acknowledgement wakes the worker."""
    now = ctx.clock()
    with write_session(ctx.engine) as session:
        claimed = _claim(session, request.path_params["token"], now)
        if claimed is None:
            return _page("Link no longer valid", f"<p>{GONE}</p>", 410)
        user_id, incident_id = claimed
        user = session.get(UserRow, user_id)
        actor = actor_for_email(session, user.email, via="email") if user else None
        if actor is None:
            return _page("Not allowed", "<p>This link's user no longer exists.</p>", 403)
        try:
            outcome = service.acknowledge(session, incident_id, actor, now)
        except Forbidden as exc:
            return _page("Not allowed", f"<p>{html.escape(str(exc))}.</p>", 403)
        except service.NotFound:
            return _page("Not found", "<p>That incident no longer exists.</p>", 404)
    if outcome.changed:
        ctx.wake()
        message = "Acknowledged. Escalation has stopped."
    else:
        message = f"Nothing to do: the incident is already {outcome.incident.status}."
    return _page(f"Incident #{incident_id}", f"<p>{html.escape(message)}</p>")


def openapi_paths() -> dict[str, Any]:
    return {"/ack/{token}": {"get": SHOW, "post": ACKNOWLEDGE}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [
        Route(PATH, offloaded(bind(show, ctx)), methods=["GET"], name="ack-link"),
        Route(PATH, offloaded(bind(acknowledge, ctx)), methods=["POST"], name="ack-link-post"),
    ]
