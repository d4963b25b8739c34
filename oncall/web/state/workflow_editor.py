"""The workflow builder (/workflows/new, /workflows/NAME/edit): a thin state around
`oncall.web.editor.workflow`, a template preview against a past incident, and the shared
review panel. It writes YAML for the config repo and nothing to the database."""

from __future__ import annotations

import re
from typing import Any

import reflex as rx
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.db.models import IncidentRow, ServiceRow
from oncall.incidents.queries import workflow_incidents
from oncall.web import context, format
from oncall.web.editor import workflow as W
from oncall.web.editor.preview_runner import PreviewFailed, bounded_preview
from oncall.web.state.editor_review import ReviewMixin
from oncall.web.state.session import SessionState

RECENT = 20
_ID = re.compile(r"^#?([0-9]{1,12})$")


def recent_incidents(session: Session, query: str, limit: int = RECENT) -> list[dict[str, Any]]:
    """The latest incidents, newest first; `#123` or `123` finds that one, other text
    searches titles and services."""
    stmt = (select(IncidentRow.id, IncidentRow.title, IncidentRow.priority, IncidentRow.status,
                   IncidentRow.triggered_at, ServiceRow.name)
            .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
            .order_by(IncidentRow.triggered_at.desc(), IncidentRow.id.desc()).limit(limit))
    text = query.strip()
    if m := _ID.match(text):
        stmt = stmt.where(IncidentRow.id == int(m.group(1)))
    elif text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(IncidentRow.title.ilike(like, escape="\\")
                          | ServiceRow.name.ilike(like, escape="\\"))
    return [{"id": row.id, "title": row.title, "priority": row.priority or "",
             "status": row.status, "service": row.name, "at": row.triggered_at}
            for row in session.execute(stmt)]


class WorkflowEditorState(ReviewMixin, SessionState):
    found: bool = True
    name: str = ""
    description: str = ""
    when: str = ""
    when_problem: str = ""
    events: list[dict[str, Any]] = []  # noqa: RUF012
    blocks: list[dict[str, Any]] = []  # noqa: RUF012
    kinds: list[str] = list(W.FIELDS)  # noqa: RUF012
    incident_query: str = ""
    incidents: list[dict[str, str]] = []  # noqa: RUF012
    preview_id: str = ""
    preview_title: str = ""
    preview_event: str = ""
    preview_when: str = ""
    preview_steps: list[dict[str, Any]] = []  # noqa: RUF012
    _form: dict[str, Any] = {}  # noqa: RUF012

    # --- ReviewMixin's hooks ----------------------------------------------------------------

    def _editor_kind(self) -> str:
        return "Workflow"

    def _editor_document(self) -> dict[str, Any]:
        return W.document(self._form)

    def _editor_teams(self) -> list[str]:
        """A workflow belongs to no team (it may fire on any incident): platform admins
        propose it from here, everyone else copies the YAML."""
        return []

    # --- plumbing ----------------------------------------------------------------------------

    def _show(self, form: W.WorkflowForm) -> None:
        """Store the form, show it with its problems, refresh the preview, review it."""
        self._form = form
        self.name, self.description, self.when = form["name"], form["description"], form["when"]
        self.when_problem = W.condition_problem(form["when"]) or ""
        self.events = [{"event": e, "on": e in form["on"]} for e in W.EVENTS]
        self.blocks = W.rows(form)
        self._refresh_preview()
        self._run_review()

    def _refresh_preview(self) -> None:
        if not self.preview_id:
            self.preview_steps, self.preview_when = [], ""
            return
        with context.read_session() as session:
            config = context.config(session)
            found = workflow_incidents(session.connection(), [int(self.preview_id)])
        incident = found.get(int(self.preview_id))
        if incident is None:
            self.preview_id, self.preview_title, self.preview_steps = "", "", []
            return
        event = self.preview_event if self.preview_event in self._form["on"] else None
        try:
            shown = bounded_preview(self._form, incident, config, event)
        except PreviewFailed as exc:
            self.preview_steps, self.preview_when = [], ""
            self.error = str(exc)
            return
        self.preview_event, self.preview_when = shown["event"], shown["when"]
        self.preview_steps = shown["steps"]
        self.preview_title = f"#{incident.id} {incident.title}"

    def _search(self) -> None:
        with context.read_session() as session:
            found = recent_incidents(session, self.incident_query)
        self.incidents = [
            {"id": str(r["id"]), "title": r["title"], "priority": r["priority"],
             "status": r["status"], "service": r["service"],
             "when": format.when(r["at"], self.tz)}
            for r in found
        ]

    # --- events --------------------------------------------------------------------------------

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._clear_pull_request()
        self.incident_query, self.preview_id, self.preview_title = "", "", ""
        self.preview_event = ""
        self._search()
        name = self._route_name()
        if not name:
            self.original, self.found = "", True
            self._show(W.blank_form())
            return None
        workflow = self._config().workflows.get(name)
        self.found = workflow is not None
        self.original = name if workflow is not None else ""
        if workflow is None:
            self.blocks, self.review_lines, self.review_plan = [], [], []
            return None
        self._show(W.form_of(workflow))
        return None

    @rx.event
    def set_name(self, value: str) -> None:
        self._show({**self._form, "name": str(value)})

    @rx.event
    def set_description(self, value: str) -> None:
        self._show({**self._form, "description": str(value)})

    @rx.event
    def set_when(self, value: str) -> None:
        self._show({**self._form, "when": str(value)})

    @rx.event
    def set_event(self, event: str, on: bool) -> None:
        self._show(W.set_event(self._form, str(event), bool(on)))

    @rx.event
    def add_step(self, kind: str) -> None:
        if kind:
            self._show(W.add_block(self._form, str(kind)))

    @rx.event
    def add_branch_step(self, path: str, branch: str, kind: str) -> None:
        if kind:
            self._show(W.add_block(self._form, str(kind), str(path), str(branch)))

    @rx.event
    def remove_step(self, path: str) -> None:
        self._show(W.remove_block(self._form, str(path)))

    @rx.event
    def move_up(self, path: str) -> None:
        self._show(W.move_block(self._form, str(path), -1))

    @rx.event
    def move_down(self, path: str) -> None:
        self._show(W.move_block(self._form, str(path), 1))

    @rx.event
    def set_field(self, path: str, name: str, value: str) -> None:
        self._show(W.set_field(self._form, str(path), str(name), str(value)))

    @rx.event
    def set_continue(self, path: str, on: bool) -> None:
        self._show(W.set_field(self._form, str(path), "continue_on_error",
                               "true" if on else ""))

    @rx.event
    def search_incidents(self, query: str) -> None:
        self.incident_query = str(query)
        self._search()

    @rx.event
    def pick_incident(self, incident_id: str) -> None:
        self.preview_id = str(incident_id) if str(incident_id).isdigit() else ""
        self._refresh_preview()

    @rx.event
    def set_preview_event(self, event: str) -> None:
        self.preview_event = str(event)
        self._refresh_preview()
