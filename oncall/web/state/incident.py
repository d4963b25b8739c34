"""One incident as a responder's cockpit: its alerts, the timeline in sentences with filters,
roles, the service's runbooks and their runs, who is on call now and next, related incidents,
changes before it and the services affected; kept live; escalate now and the role changes."""

from __future__ import annotations

from typing import Any

import reflex as rx
from sqlalchemy.orm import Session

from oncall.config.models import LinkRunbook
from oncall.incidents import queries as incident_queries
from oncall.incidents import roles, service
from oncall.incidents.access import may_act
from oncall.incidents.actors import Actor
from oncall.incidents.runbooks import runs_of
from oncall.web import actions, cockpit, cockpit_reads, context, format, queries, sanitize
from oncall.web import timeline as story_timeline
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
    alerts: list[dict[str, Any]] = []  # noqa: RUF012
    """`cockpit.alert_row`: labels, links, images, annotations, details as indented JSON."""
    timeline: list[dict[str, Any]] = []  # noqa: RUF012
    """The entries the chosen filter shows (`oncall.web.timeline.row`), oldest first."""
    timeline_filter: str = story_timeline.ALL
    timeline_filters: list[dict[str, str]] = []  # noqa: RUF012
    """Each filter: name, label, count."""
    _timeline_all: list[dict[str, Any]] = []  # noqa: RUF012
    oncall: list[dict[str, str]] = []  # noqa: RUF012
    """Each schedule of the service's policy: step, schedule, now, until, next."""
    related: list[dict[str, str]] = []  # noqa: RUF012
    upstream: list[dict[str, str]] = []  # noqa: RUF012
    downstream: list[dict[str, str]] = []  # noqa: RUF012
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
        now = context.now()
        with context.read_session() as session:
            story = _Story.read(session, self.incident_id)
            self._seen_change = queries.last_change(session)
            self.can_act = bool(story and actor and may_act(session, actor,
                                                              story.detail.item.incident)[0])
            config = context.config(session)
            if story is None:
                self._clear()
                return
            item = story.detail.item
            recent = queries.recent_changes(session, [item.service], item.incident.triggered_at)
            events, notices, names = cockpit_reads.timeline_inputs(
                session, self.incident_id, story.detail.timeline)
            related = cockpit_reads.related(session, self.incident_id, item.service,
                                            item.incident.triggered_at, now)
            oncall = cockpit_reads.oncall(session, config, item.service, now)
        self.found = True
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
            cockpit.alert_row(id=a.id, integration=a.integration_name, status=a.status,
                              severity=a.severity, summary=a.summary, source=a.source,
                              labels=a.labels, annotations=a.annotations,
                              received=format.when(a.received_at, tz))
            for a in detail.alerts
        ]
        policy = config.policies.get(incident.escalation_policy_name or "")
        timeouts = [s.timeout.timedelta for s in policy.steps] if policy else []
        entries = story_timeline.build(events, notices, names, timeouts)
        self._timeline_all = [self._note_safe(story_timeline.row(e, tz)) for e in entries]
        counts = story_timeline.counts(entries)
        self.timeline_filters = [{"name": n, "label": label, "count": str(counts.get(n, 0))}
                                 for n, label in story_timeline.FILTERS]
        self._show_timeline()
        people = {email: u.name for email, u in config.users.items() if u.name}
        self.oncall = cockpit.oncall_rows(oncall, people, tz)
        self.related = cockpit.related_rows(related, tz)
        depends_on = {name: list(s.depends_on) for name, s in config.services.items()}
        up, down = cockpit.affected(detail.item.service, depends_on)
        self.upstream, self.downstream = cockpit.affected_rows(up), cockpit.affected_rows(down)
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

    def _clear(self) -> None:
        self.found = False
        self.incident, self.alerts, self.timeline, self.runbooks = {}, [], [], []
        self._timeline_all, self.timeline_filters = [], []
        self.oncall, self.related, self.upstream, self.downstream = [], [], [], []
        self.changes = []
        self.runbook_runs, self.can_run_runbooks = [], False
        self.roles = []

    @staticmethod
    def _note_safe(row: dict[str, Any]) -> dict[str, Any]:
        """A note's Markdown as `sanitize.markdown` lets it through, nothing else raw."""
        if row["note"]:
            row["note"] = sanitize.markdown(row["note"])
        return row

    def _show_timeline(self) -> None:
        chosen = self.timeline_filter
        self.timeline = (self._timeline_all if chosen == story_timeline.ALL
                         else [r for r in self._timeline_all if r["category"] == chosen])

    @rx.event
    def set_timeline_filter(self, name: str) -> None:
        """Show one kind of entry (pages, people's actions, automation, alerts) or all."""
        known = {n for n, _label in story_timeline.FILTERS}
        self.timeline_filter = name if name in known else story_timeline.ALL
        self._show_timeline()

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
        self.timeline_filter = story_timeline.ALL  # each incident opens on its whole story
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
    """The incident with its alerts and events, and the role holders."""

    def __init__(self, detail: incident_queries.IncidentDetail,
                 holders: dict[str, roles.Holder]) -> None:
        self.detail, self.holders = detail, holders

    @classmethod
    def read(cls, session: Session, incident_id: int) -> _Story | None:
        detail = incident_queries.incident_detail(session, incident_id)
        if detail is None:
            return None
        return cls(detail, roles.holders(session, incident_id))
