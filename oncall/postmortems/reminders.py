"""Overdue action items remind their owners, once a day, through the outbox.

The worker's sweep calls `remind_overdue` (at most once a minute per process). An item is
overdue when it is open and its due date has passed (in UTC). Each reminder is claimed with a
compare-and-set on the item's `reminded_on` day and queued in the same transaction, so any
number of workers together send one reminder per item per day. The owner is told in Slack
when they have a Slack contact method, else by email.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Connection, or_, select
from sqlalchemy.orm import join

from oncall.db.models import ActionItemRow, ContactMethodRow, PostmortemRow, UserRow
from oncall.notify.mail import Mail
from oncall.postmortems import audit
from oncall.store import outbox
from oncall.store import postmortems as store

_A = ActionItemRow
_P = PostmortemRow
_U = UserRow
_M = ContactMethodRow

BATCH = 200
SYSTEM = "system:reminders"


def _overdue(conn: Connection, today: date) -> list[tuple[int, int, str, date, str, str]]:
    rows = conn.execute(
        select(_A.id, _A.postmortem_id, _A.title, _A.due_on, _U.email,
               _P.title.label("pm_title"))
        .select_from(join(_A, _U, _U.id == _A.owner_id).join(_P, _P.id == _A.postmortem_id))
        .where(_A.status == "open", _A.due_on < today, _U.disabled_at.is_(None),
               or_(_A.reminded_on.is_(None), _A.reminded_on < today))
        .order_by(_A.due_on, _A.id).limit(BATCH))
    return [(r.id, r.postmortem_id, r.title, r.due_on, r.email, r.pm_title) for r in rows]


def _slack_address(conn: Connection, email: str) -> str | None:
    """The owner's Slack address when they have one set up, else None (email then)."""
    return conn.scalar(
        select(_M.address).select_from(join(_M, _U, _U.id == _M.user_id))
        .where(_U.email == email, _M.type == "slack", _M.disabled_at.is_(None))
        .order_by(_M.id).limit(1))


def reminder(title: str, due_on: date, pm_id: int, pm_title: str, today: date,
             public_url: str) -> Mail:
    late = (today - due_on).days
    link = f"{public_url.rstrip('/')}/postmortems/{pm_id}"
    return Mail(
        subject=f"Overdue action item: {title}",
        text=(f"The action item \"{title}\" of postmortem #{pm_id} ({pm_title}) was due on "
              f"{due_on.isoformat()}, {late} day{'s' if late != 1 else ''} ago.\n\n"
              f"Mark it done, or give it a new due date: {link}\n"))


def remind_overdue(conn: Connection, now: datetime, public_url: str) -> int:
    """Queue today's reminders, in the caller's transaction; how many were queued."""
    today = now.date()
    queued = 0
    for item_id, pm_id, title, due_on, email, pm_title in _overdue(conn, today):
        if not store.claim_reminder(conn, item_id, today):
            continue
        mail = reminder(title, due_on, pm_id, pm_title, today, public_url)
        slack = _slack_address(conn, email)
        channel, address = ("slack", slack) if slack else ("email", email)
        outbox.queue_mail(conn, key=f"action-item:{item_id}:{today.isoformat()}",
                          address=address, mail=mail, now=now, channel=channel)
        audit.record(conn, pm_id, audit.ITEM_REMINDED, actor=SYSTEM, at=now,
                     data={"item": item_id, "owner": email, "channel": channel})
        queued += 1
    return queued
