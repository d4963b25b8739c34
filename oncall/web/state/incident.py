"""One incident: its alerts, full timeline, roles, the service's runbooks and their runs,
kept live; escalate now and the role changes."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlalchemy.orm import Session

from oncall.config.models import LinkRunbook
from oncall.incidents import roles, service
from oncall.incidents.access import may_act
from oncall.incidents.actors import Actor
from oncall.incidents.runbooks import runs_of
from oncall.web import actions, context, format, queries, sanitize
from oncall.web.components import changes
from oncall.web.state.incidents import PRIORITY_CHOICES, ActionsMixin, summary_row
from oncall.web.state.live import LiveMixin
from oncall.web.state.postmortems import IncidentPostmortemsMixin
from oncall.web.state.runbooks import RunbookFormMixin
from oncall.web.state.session import SessionState


class IncidentState(ActionsMixin, RunbookFormMixin, IncidentPostmortemsMixin, LiveMixin,
                    SessionState):
    incident_id: int = 0
    found: bool = False
    incident: dict[str, str] = {}  # noqa: RUF012
    can_act: bool = False
    """Whether the signed-in person may act on this incident (`may_act`): what shows the
    buttons; the server decides again on every action."""
    labels: list[dict[str, str]] = []  # noqa: RUF012
    alerts: list[dict[str, str]] = []  # noqa: RUF012
    timeline: list[dict[str, str]] = []  # noqa: RUF012
    runbooks: list[dict[str, str]] = []  # noqa: RUF012
    changes: list[dict[str, Any]] = []  # noqa: RUF012
    """The service's change events in the day before the incident triggered, newest first."""
    priorities: list[str] = PRIORITY_CHOICES
    roles: list[dict[str, str]] = []  # noqa: RUF012
    """Each role: role, label, user (email, "" if nobody), name, mine ("yes" if the viewer)."""
    role_dialog: str = ""
    """The role being given to someone ("" when the dialog is closed)."""
    role_user: str = ""
    role_choices: list[str] = []  # noqa: RUF012

    def _route_id(self) -> int:
        raw = self.router.page.params.get("incident_id", "") or ""
        raw = raw[0] if isinstance(raw, list) else raw
        return int(raw) if str(raw).isdigit() else 0

    def _refresh(self) -> None:
        actor = self._remembered_actor()
        with context.read_session() as session:
            story = _Story.read(session, self.incident_id)
            self._seen_change = queries.last_change(session)
            self.can_act = bool(story and actor and may_act(session, actor,
                                                              story.detail.item.incident)[0])
            config = context.config(session)
            recent = {} if story is None else queries.recent_changes(
                session, [story.detail.item.service], story.detail.item.incident.triggered_at)
        self.found = story is not None
        if story is None:
            self.incident, self.alerts, self.timeline, self.runbooks = {}, [], [], []
            self.changes = []
            self.runbook_runs, self.can_run_runbooks = [], False
            self.roles = []
            return
        self.roles = [
            {"role": role, "label": role.capitalize(),
             "user": h.email if h else "", "name": h.name if h else "",
             "mine": "yes" if h and h.email == self.user_email else ""}
            for role in roles.ROLES
            for h in [story.holders.get(role)]
        ]
        tz = self.tz
        detail = story.detail
        incident = detail.item.incident
        row = summary_row(detail.item, tz)
        row["policy"] = incident.escalation_policy_name or ""
        row["acknowledged"] = format.when(incident.acknowledged_at, tz)
        row["resolved"] = format.when(incident.resolved_at, tz)
        row["description"] = sanitize.markdown(incident.description)
        self.incident = row
        labels = incident.labels or {}
        self.labels = [{"name": k, "value": str(v)} for k, v in sorted(labels.items())]
        self.changes = changes.rows(recent.get(detail.item.service, []), tz)
        self.alerts = [
            {
                "id": str(a.id),
                "integration": a.integration_name,
                "status": a.status,
                "severity": a.severity or "",
                "summary": a.summary,
                "source": a.source or "",
                "source_url": sanitize.safe_url(a.source),
                "received": format.when(a.received_at, tz),
            }
            for a in detail.alerts
        ]
        self.timeline = [
            {
                "at": format.when(t.at, tz),
                "kind": t.kind,
                "actor": t.actor,
                "text": (sanitize.markdown(t.text) if t.kind == "incident.note"
                         else roles.sentence(t.kind, t.actor, t.data) or t.text),
                "is_note": "yes" if t.kind == "incident.note" else "",
            }
            for t in story.timeline
        ]
        offered = self._show_runs(runs_of(detail.timeline), detail.item.team,
                                  detail.item.service, config, self._remembered_actor())
        service = config.services.get(detail.item.service)
        self.runbooks = []
        for ref in service.runbooks if service is not None else []:
            if isinstance(ref, LinkRunbook):
                self.runbooks.append(
                    {"title": ref.title, "url": sanitize.safe_url(ref.url), "kind": "link",
                     "runnable": ""}
                )
            else:
                self.runbooks.append({"title": ref.runbook, "url": "", "kind": "automated",
                                      "runnable": "yes" if ref.runbook in offered else ""})
        self._show_postmortems(detail.item.team)

    def _after_change(self) -> None:
        self._refresh()

    @rx.event
    def escalate_now(self) -> None:
        """Page the next escalation step now (the worker runs it at once)."""
        iid = self.incident_id
        changed = self._act(lambda a: actions.escalate(a, iid))
        if self.error:
            return
        if changed:
            self.notice = f"Incident #{iid}: the next escalation step is being paged now."
        else:
            status = self.incident.get("status", "")
            self.error = (f"Incident #{iid} has no further escalation step."
                          if status == service.TRIGGERED
                          else f"Incident #{iid} is {status}: only a triggered incident "
                               "escalates.")
        self._refresh()

    def _change_role(self, role: str, email: str | None, clear: bool = False) -> None:
        iid = self.incident_id

        def change(actor: Actor) -> bool:
            if clear:
                return actions.committed(lambda s: service.clear_role(
                    s, iid, actor, role, context.now()).changed)
            return actions.committed(lambda s: service.assign_role(
                s, iid, actor, role, email, context.now()).changed)

        changed = self._act(change)
        if not self.error:
            self.role_dialog, self.role_user = "", ""
        self._refresh()
        if changed:
            held = next((r["user"] for r in self.roles if r["role"] == role), "")
            self.notice = f"{held or 'Nobody'} is {role} now."

    @rx.event
    def take_role(self, role: str) -> None:
        self._change_role(role, None)

    @rx.event
    def clear_role(self, role: str) -> None:
        self._change_role(role, None, clear=True)

    @rx.event
    def open_role(self, role: str) -> None:
        self.error = ""
        self.role_dialog, self.role_user = role, ""
        if not self.role_choices:
            with context.read_session() as session:
                self.role_choices = sorted(context.config(session).users)

    @rx.event
    def set_role_user(self, value: str) -> None:
        self.role_user = value

    @rx.event
    def close_role(self) -> None:
        self.role_dialog, self.role_user = "", ""

    @rx.event
    def submit_role(self) -> None:
        if not self.role_user:
            self.error = "Choose a person."
            return
        self._change_role(self.role_dialog, self.role_user)

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self.incident_id = self._route_id()
        self.dialog, self.role_dialog = "", ""
        self._refresh()
        self._start_live()
        return [
            e for e in (IncidentState.watch, self._ask_tz(IncidentState.apply_tz)) if e is not None
        ]

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()


class _Story:
    """The incident's story as the page shows it: the timeline and the role holders."""

    def __init__(self, story: queries.IncidentStory, holders: dict[str, roles.Holder]) -> None:
        self.detail, self.timeline, self.holders = story.detail, story.timeline, holders

    @classmethod
    def read(cls, session: Session, incident_id: int) -> _Story | None:
        story = queries.incident_story(session, incident_id)
        if story is None:
            return None
        return cls(story, roles.holders(session, incident_id))
