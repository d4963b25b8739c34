"""One-click acknowledge links from emails and push notifications.

The link carries a random token whose hash is stored (secret_tokens, purpose "ack"); it expires
and works once. Opening the link (GET) only shows a confirmation page, because mail scanners
open links; the button on it (POST) acknowledges as the person the link was sent to.
"""

from __future__ import annotations

import html
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api.app import ApiContext
from oncall.api.threads import offloaded
from oncall.db.engine import write_session
from oncall.db.models import IncidentRow, SecretTokenRow, UserRow
from oncall.incidents import service
from oncall.incidents.actors import Forbidden
from oncall.incidents.people import actor_for_email, is_active
from oncall.paging.notices import ACK_PURPOSE, hash_token

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


def routes(ctx: ApiContext) -> list[BaseRoute]:
    def show(request: Request, _body: bytes) -> Response:
        token = request.path_params["token"]
        with Session(ctx.engine) as session:
            row = _usable(session, token, ctx.clock())
            incident = (
                session.get(IncidentRow, row.incident_id) if row and row.incident_id else None
            )
        if row is None or incident is None:
            return _page("Link no longer valid", f"<p>{GONE}</p>", 410)
        title = html.escape(f"#{incident.id} {incident.title}")
        return _page(
            "Acknowledge incident",
            f"<p>{title}</p><p>Status: {html.escape(incident.status)}</p>"
            "<form method='post'><button type='submit'>Acknowledge</button></form>",
        )

    def acknowledge(request: Request, _body: bytes) -> Response:
        token = request.path_params["token"]
        now = ctx.clock()
        with write_session(ctx.engine) as session:
            # single use: the first request to flip used_at wins
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
                return _page("Link no longer valid", f"<p>{GONE}</p>", 410)
            user = session.get(UserRow, claimed.user_id)
            actor = actor_for_email(session, user.email, via="email") if user else None
            if actor is None:
                return _page("Not allowed", "<p>This link's user no longer exists.</p>", 403)
            try:
                outcome = service.acknowledge(session, claimed.incident_id, actor, now)
            except Forbidden as exc:
                return _page("Not allowed", f"<p>{html.escape(str(exc))}.</p>", 403)
            except service.NotFound:
                return _page("Not found", "<p>That incident no longer exists.</p>", 404)
        status = outcome.incident.status
        message = (
            "Acknowledged. Escalation has stopped."
            if outcome.changed
            else (f"Nothing to do: the incident is already {status}.")
        )
        return _page(f"Incident #{claimed.incident_id}", f"<p>{html.escape(message)}</p>")

    return [
        Route(PATH, offloaded(show), methods=["GET"], name="ack-link"),
        Route(PATH, offloaded(acknowledge), methods=["POST"], name="ack-link-post"),
    ]
