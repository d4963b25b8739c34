"""Who is on call now, and one schedule's next 14 days with overrides, swaps and feeds."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import reflex as rx

from oncall.core.schedule.overrides import Cover, members
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor
from oncall.schedules_service import (
    active_overrides,
    cancel_override,
    create_feed_token,
    create_override,
    create_swap,
    feeds_of,
    revoke_feed_token,
)
from oncall.web import context, format, oncall_view
from oncall.web.state.session import SessionState
from oncall.web.state.zoned import ZonedPage


def parse_local(text: str, tz: str) -> datetime:
    """A `datetime-local` input value (`2026-03-08T09:00`) read in the viewer's zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"invalid time {text!r}: expected YYYY-MM-DDTHH:MM") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=format.zone(tz))
    return value.replace(second=0, microsecond=0).astimezone(context.now().tzinfo)


class OnCallState(ZonedPage, SessionState):
    schedules: list[dict[str, str]] = []  # noqa: RUF012
    services: list[dict[str, str]] = []  # noqa: RUF012

    def _refresh(self) -> None:
        now = context.now()
        with context.read_session() as session:
            config = context.config(session)
            found = oncall_view.everyone_now(session, config, now, self.tz)
            by_schedule = {f.schedule: f.who for f in found}
            services = oncall_view.services_now(session, config, now, by_schedule)
        self.schedules = [
            {
                "schedule": f.schedule,
                "team": f.team,
                "who": f.who,
                "until": f.until,
                "source": f.source,
                "color": oncall_view.color(f.who),
            }
            for f in found
        ]
        self.services = [
            {
                "service": s.service,
                "team": s.team,
                "policy": s.policy,
                "first": "; ".join(s.first) or "no escalation policy",
            }
            for s in services
        ]


class ScheduleState(SessionState):
    schedule: str = ""
    found: bool = False
    team: str = ""
    schedule_tz: str = ""
    rows: list[dict[str, Any]] = []  # noqa: RUF012
    ticks: list[dict[str, str]] = []  # noqa: RUF012
    members: list[str] = []  # noqa: RUF012
    overrides: list[dict[str, str]] = []  # noqa: RUF012
    feeds: list[dict[str, str]] = []  # noqa: RUF012
    new_feed_url: str = ""
    # the override / swap form
    form_kind: str = "override"
    form_who: str = ""
    form_start: str = ""
    form_end: str = ""
    form_reason: str = ""
    form_other: str = ""
    form_other_start: str = ""
    form_other_end: str = ""

    def _route_name(self) -> str:
        raw = self.router.page.params.get("schedule", "") or ""
        return str(raw[0] if isinstance(raw, list) else raw)

    def _refresh(self) -> None:
        now = context.now()
        with context.read_session() as session:
            config = context.config(session)
            schedule = config.schedules.get(self.schedule)
            self.found = schedule is not None
            if schedule is None:
                self.rows, self.ticks, self.overrides = [], [], []
                return
            rows, ticks = oncall_view.timeline(session, schedule, now, self.tz)
            app_overrides = active_overrides(session, schedule.name, now, now + timedelta(days=366))
        self.team = schedule.team
        self.schedule_tz = schedule.timezone.key
        self.members = sorted(members(schedule))
        self.rows = [
            {
                "name": r.name,
                "bars": [
                    {
                        "who": b.who,
                        "left": f"{b.left}%",
                        "width": f"{b.width}%",
                        "color": b.color,
                        "label": b.label,
                        "short": b.who.split("@")[0],
                    }
                    for b in r.bars
                ],
            }
            for r in rows
        ]
        self.ticks = [{"left": f"{t.left}%", "label": t.label} for t in ticks]
        self.overrides = [
            {
                "id": str(o.id),
                "who": o.who,
                "replaces": o.replaces or "",
                "from": format.when(o.starts_at, self.tz),
                "to": format.when(o.ends_at, self.tz),
                "reason": o.reason or "",
                "by": o.created_by or "",
            }
            for o in app_overrides
        ]

    def _refresh_feeds(self, actor: Actor) -> None:
        with context.read_session() as session:
            self.feeds = [
                {
                    "id": str(f.id),
                    "subject": f.subject,
                    "created": format.when(f.created_at, self.tz),
                }
                for f in feeds_of(session, actor)
            ]

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self.schedule = self._route_name()
        self.new_feed_url = ""
        self._refresh()
        self.form_who = self.user_email if self.user_email in self.members else ""
        self._act(self._refresh_feeds)
        return self._ask_tz(ScheduleState.apply_tz)

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()

    @rx.event
    def set_form(self, field: str, value: str) -> None:
        if field in ("kind", "who", "start", "end", "reason", "other", "other_start", "other_end"):
            setattr(self, f"form_{field}", value)

    @rx.event
    def submit_override(self) -> None:
        now = context.now()

        def run(actor: Actor) -> str:
            with write_session(context.engine()) as session:
                config = context.config(session)
                start = parse_local(self.form_start, self.tz)
                end = parse_local(self.form_end, self.tz)
                if self.form_kind == "swap":
                    other_start = parse_local(self.form_other_start, self.tz)
                    other_end = parse_local(self.form_other_end, self.tz)
                    create_swap(
                        session,
                        config,
                        actor,
                        schedule_name=self.schedule,
                        first=Cover(self.form_who, start, end),
                        second=Cover(self.form_other, other_start, other_end),
                        now=now,
                    )
                    return f"Swapped {self.form_who} and {self.form_other}."
                made = create_override(
                    session,
                    config,
                    actor,
                    schedule_name=self.schedule,
                    who=self.form_who,
                    start=start,
                    end=end,
                    reason=self.form_reason,
                    now=now,
                )
                span = f"{format.when(start, self.tz)} → {format.when(end, self.tz)}"
                return f"{made.who} covers {span}."

        message = self._act(run)
        if message:
            self.notice = message
            self.form_start = self.form_end = self.form_reason = ""
            self.form_other = self.form_other_start = self.form_other_end = ""
            self._refresh()

    @rx.event
    def cancel(self, override_id: str) -> None:
        def run(actor: Actor) -> None:
            with write_session(context.engine()) as session:
                cancel_override(
                    session, context.config(session), actor, int(override_id), context.now(),
                    schedule_name=self.schedule,  # an id from another schedule's page is not one
                )

        self._act(run)
        if not self.error:
            self.notice = "Override cancelled."
            self._refresh()

    def _feed(self, subject: str) -> None:
        def run(actor: Actor) -> str:
            with write_session(context.engine()) as session:
                return create_feed_token(
                    session, context.config(session), actor, subject, context.now()
                )

        token = self._act(run)
        if token:
            base = context.web_settings().public_url or self.router.url.origin
            self.new_feed_url = f"{base}/ical/{token}.ics"
            self.notice = "Copy this URL into your calendar now: it is shown only once."
            self._act(self._refresh_feeds)

    @rx.event
    def feed_for_schedule(self) -> None:
        self._feed(f"schedule:{self.schedule}")

    @rx.event
    def feed_for_me(self) -> None:
        self._feed(f"person:{self.user_email}")

    @rx.event
    def revoke_feed(self, feed_id: str) -> None:
        def run(actor: Actor) -> None:
            with write_session(context.engine()) as session:
                revoke_feed_token(session, actor, int(feed_id), context.now())
            self._refresh_feeds(actor)

        self._act(run)
        if not self.error:
            self.notice = "Feed revoked: its URL no longer works."
            self.new_feed_url = ""
