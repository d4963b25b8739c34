"""One incident: its alerts, full timeline, the service's runbooks and their runs, kept live."""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.config.models import LinkRunbook
from oncall.incidents.runbooks import runs_of
from oncall.web import context, format, queries, sanitize
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
    labels: list[dict[str, str]] = []  # noqa: RUF012
    alerts: list[dict[str, str]] = []  # noqa: RUF012
    timeline: list[dict[str, str]] = []  # noqa: RUF012
    runbooks: list[dict[str, str]] = []  # noqa: RUF012
    changes: list[dict[str, Any]] = []  # noqa: RUF012
    """The service's change events in the day before the incident triggered, newest first."""
    priorities: list[str] = PRIORITY_CHOICES

    def _route_id(self) -> int:
        raw = self.router.page.params.get("incident_id", "") or ""
        raw = raw[0] if isinstance(raw, list) else raw
        return int(raw) if str(raw).isdigit() else 0

    def _refresh(self) -> None:
        with context.read_session() as session:
            story = queries.incident_story(session, self.incident_id)
            self._seen_change = queries.last_change(session)
            config = context.config(session)
            recent = {} if story is None else queries.recent_changes(
                session, [story.detail.item.service], story.detail.item.incident.triggered_at)
        self.found = story is not None
        if story is None:
            self.incident, self.alerts, self.timeline, self.runbooks = {}, [], [], []
            self.changes = []
            self.runbook_runs, self.can_run_runbooks = [], False
            return
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
                "text": sanitize.markdown(t.text) if t.kind == "incident.note" else t.text,
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
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self.incident_id = self._route_id()
        self.dialog = ""
        self._refresh()
        self._start_live()
        return [
            e for e in (IncidentState.watch, self._ask_tz(IncidentState.apply_tz)) if e is not None
        ]

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()
