"""The incidents dashboard: filters, counts, pagination, live updates, one-tap actions, and
the form that declares an incident by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import reflex as rx
from sqlalchemy import select

from oncall.db.models import ServiceRow
from oncall.incidents import service
from oncall.incidents.access import acting_on, may_declare
from oncall.incidents.actors import Actor
from oncall.incidents.queries import IncidentItem
from oncall.incidents.service import PRIORITIES
from oncall.web import actions, bulk, context, format, queries
from oncall.web.state.bulk import BulkMixin
from oncall.web.state.live import LiveMixin
from oncall.web.state.session import SessionState

T = TypeVar("T")
PAGE_SIZE = 25
STATUS_CHOICES = ["open", "triggered", "acknowledged", "resolved", "all"]
ANY = "any"


def summary_row(item: IncidentItem, tz: str) -> dict[str, str]:
    incident = item.incident
    return {
        "id": str(incident.id),
        "title": incident.title,
        "status": incident.status,
        "priority": incident.priority or "",
        "urgency": incident.urgency,
        "service": item.service,
        "team": item.team,
        "assignee": item.assignee or "",
        "alerts": str(incident.alert_count),
        "age": format.age(incident.triggered_at, context.now()),
        "triggered": format.when(incident.triggered_at, tz),
    }


class ActionsMixin(rx.State, mixin=True):
    """Incident actions shared by the list and the detail page, with their dialog."""

    dialog: str = ""  # "", resolve, reassign, note
    dialog_incident: int = 0
    dialog_text: str = ""
    reassign_choices: list[str] = []  # noqa: RUF012 - Reflex state var default

    if TYPE_CHECKING:  # provided by SessionState, which every user of the mixin derives from
        error: str
        notice: str

        def _act(self, action: Callable[[Actor], T]) -> T | None: ...

    def _after_change(self) -> None:
        raise NotImplementedError

    def _done(self, result: Any, message: str) -> None:
        if not self.error:
            self.notice = message if result is not False else "Nothing to change: already done."
            self._after_change()

    @rx.event
    def acknowledge(self, incident_id: int | str) -> None:
        iid = int(incident_id)
        result = self._act(lambda a: actions.acknowledge(a, iid))
        self._done(result, f"Incident #{iid} acknowledged.")

    @rx.event
    def change_priority(self, incident_id: int | str, priority: str) -> None:
        iid = int(incident_id)
        result = self._act(lambda a: actions.change_priority(a, iid, priority))
        self._done(result, f"Incident #{iid} is now {priority}.")

    @rx.event
    def open_dialog(self, kind: str, incident_id: int | str) -> None:
        self.dialog, self.dialog_incident, self.dialog_text = kind, int(incident_id), ""
        self.error = ""
        if kind == "reassign" and not self.reassign_choices:
            with context.read_session() as session:
                self.reassign_choices = sorted(context.config(session).users)

    @rx.event
    def close_dialog(self) -> None:
        self.dialog, self.dialog_incident, self.dialog_text = "", 0, ""

    @rx.event
    def set_dialog_text(self, text: str) -> None:
        self.dialog_text = text

    @rx.event
    def submit_dialog(self) -> None:
        iid, text, kind = self.dialog_incident, self.dialog_text, self.dialog
        if kind == "resolve":
            result: Any = self._act(lambda a: actions.resolve(a, iid, text))
            message = f"Incident #{iid} resolved."
        elif kind == "reassign":
            result = self._act(lambda a: actions.reassign(a, iid, text))
            message = f"Incident #{iid} reassigned to {text}."
        elif kind == "note":
            result = self._act(lambda a: actions.add_note(a, iid, text))
            message = f"Note added to incident #{iid}."
        else:
            return
        if not self.error:
            self.dialog, self.dialog_incident, self.dialog_text = "", 0, ""
        self._done(result, message)


DECLARE_FIELDS = ("service", "title", "priority", "description")


class DeclareMixin(rx.State, mixin=True):
    """The "Declare incident" form: a service the person may declare on, a title, a
    priority and a description; on success the browser goes to the new incident."""

    declaring: bool = False
    declare_service: str = ""
    declare_title: str = ""
    declare_priority: str = service.DEFAULT_PRIORITY
    declare_description: str = ""
    declare_error: str = ""
    declare_choices: list[str] = []  # noqa: RUF012 - Reflex state var default

    if TYPE_CHECKING:  # provided by SessionState, which every user of the mixin derives from
        error: str
        notice: str

        def _act(self, action: Callable[[Actor], T]) -> T | None: ...
        def _remembered_actor(self) -> Actor | None: ...

    def _declarable(self) -> list[str]:
        """The services the signed-in person may declare an incident on."""
        actor = self._remembered_actor()
        if actor is None:
            return []
        with context.read_session() as session:
            rows = session.execute(select(ServiceRow.name, ServiceRow.team_name)
                                   .where(ServiceRow.retired_at.is_(None))
                                   .order_by(ServiceRow.name))
            return [name for name, team in rows if may_declare(actor, team)]

    @rx.event
    def open_declare(self) -> None:
        self.declare_choices = self._declarable()
        self.declaring, self.declare_error = True, ""
        self.declare_title, self.declare_description = "", ""
        self.declare_priority = service.DEFAULT_PRIORITY
        if self.declare_service not in self.declare_choices:
            self.declare_service = self.declare_choices[0] if self.declare_choices else ""

    @rx.event
    def close_declare(self) -> None:
        self.declaring, self.declare_error = False, ""

    @rx.event
    def set_declare_field(self, field: str, value: str) -> None:
        if field in DECLARE_FIELDS:
            setattr(self, f"declare_{field}", value)

    @rx.event
    def submit_declare(self) -> Any:
        fields = (self.declare_service, self.declare_title, self.declare_priority,
                  self.declare_description)

        def declare(actor: Actor) -> int:
            name, title, priority, description = fields
            return actions.committed(lambda s: service.declare(
                s, actor, service_name=name, title=title, priority=priority,
                description=description, now=context.now()).id)

        incident_id = self._act(declare)
        if incident_id is None:
            self.declare_error, self.error = self.error, ""
            return None
        self.declaring, self.declare_error = False, ""
        self.notice = f"Incident #{incident_id} declared: you are its commander."
        return rx.redirect(f"/incidents/{incident_id}")


class IncidentsState(BulkMixin, DeclareMixin, ActionsMixin, LiveMixin, SessionState):
    items: list[dict[str, str]] = []  # noqa: RUF012
    counts: dict[str, int] = {}  # noqa: RUF012
    total: int = 0
    page: int = 1
    pages: int = 1
    status: str = "open"
    service: str = ANY
    team: str = ANY
    priority: str = ANY
    text: str = ""
    service_choices: list[str] = []  # noqa: RUF012
    team_choices: list[str] = []  # noqa: RUF012

    def _filter(self) -> queries.IncidentFilter:
        return queries.IncidentFilter(
            status=self.status,
            service="" if self.service == ANY else self.service,
            team="" if self.team == ANY else self.team,
            priority="" if self.priority == ANY else self.priority,
            text=self.text,
            page=self.page,
            page_size=PAGE_SIZE,
        )

    def _refresh(self) -> None:
        actor = self._remembered_actor()
        with context.read_session() as session:
            found = queries.list_incidents(session, self._filter())
            self._seen_change = queries.last_change(session)
            acting = (acting_on(session, actor, [(i.incident, i.team) for i in found.items])
                      if actor is not None else set())
        self.total = found.total
        self.pages = max(1, -(-found.total // PAGE_SIZE))
        if self.page > self.pages:
            self.page = self.pages
        self.counts = found.counts
        self.items = [{**summary_row(item, self.tz),
                       "can_act": "yes" if item.incident.id in acting else ""}
                      for item in found.items]
        self.selected = bulk.keep_shown(self.selected, [item["id"] for item in self.items])

    def _after_change(self) -> None:
        self._refresh()

    def _load_choices(self) -> None:
        with context.read_session() as session:
            self.service_choices = list(
                session.scalars(
                    select(ServiceRow.name)
                    .where(ServiceRow.retired_at.is_(None))
                    .order_by(ServiceRow.name)
                )
            )
            self.team_choices = sorted(context.config(session).teams)

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._load_choices()
        self._refresh()
        self._start_live()
        return [
            e
            for e in (IncidentsState.watch, self._ask_tz(IncidentsState.apply_tz))
            if e is not None
        ]

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()

    def _set_filter(self, name: str, value: str) -> None:
        setattr(self, name, value)
        self.page = 1
        self._refresh()

    @rx.event
    def set_status_filter(self, value: str) -> None:
        self._set_filter("status", value if value in STATUS_CHOICES else "open")

    @rx.event
    def set_service_filter(self, value: str) -> None:
        self._set_filter("service", value)

    @rx.event
    def set_team_filter(self, value: str) -> None:
        self._set_filter("team", value)

    @rx.event
    def set_priority_filter(self, value: str) -> None:
        self._set_filter("priority", value)

    @rx.event
    def set_text_filter(self, value: str) -> None:
        self._set_filter("text", value[:200])

    @rx.event
    def clear_filters(self) -> None:
        self.status, self.service, self.team, self.priority, self.text = "open", ANY, ANY, ANY, ""
        self.page = 1
        self._refresh()

    @rx.event
    def next_page(self) -> None:
        if self.page < self.pages:
            self.page += 1
            self._refresh()

    @rx.event
    def prev_page(self) -> None:
        if self.page > 1:
            self.page -= 1
            self._refresh()


PRIORITY_CHOICES = list(PRIORITIES)
