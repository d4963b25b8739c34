"""Status pages inside the app: every page at a glance, and one page to write on, kept live.

Signed-in people see every page, private ones included; those who may write on a page
(`oncall.statuspages.access`) also get its forms: post a notice, update it, set a component's
status by hand for a while, or give the component back to what its services earn.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from oncall.config.configset import ConfigSet
from oncall.core.status import ComponentStatus, NoticeStatus
from oncall.statuspages import access
from oncall.statuspages.view import PageView, load_page
from oncall.store import status as store
from oncall.web import actions, context, format, queries
from oncall.web.state.live import LiveMixin
from oncall.web.state.session import SessionState

WHOLE_PAGE = "(the whole page)"
NOTICE_STATUSES = [s.value for s in NoticeStatus]
COMPONENT_STATUSES = [s.value for s in ComponentStatus]
DURATIONS = {"1 hour": 1.0, "4 hours": 4.0, "24 hours": 24.0, "until cleared": None}
"""How long a manual status lasts: long enough for an incident, never forgotten by default."""


def _tone(status: str) -> str:
    return {"operational": "ok", "under_maintenance": "maintenance",
            "degraded_performance": "degraded", "partial_outage": "degraded",
            "major_outage": "critical"}.get(status, "degraded")


class StatusPagesState(LiveMixin, SessionState):
    pages: list[dict[str, str]] = []  # noqa: RUF012
    page_name: str = ""
    found: bool = False
    page: dict[str, str] = {}  # noqa: RUF012
    components: list[dict[str, str]] = []  # noqa: RUF012
    notices: list[dict[str, Any]] = []  # noqa: RUF012
    past: list[dict[str, Any]] = []  # noqa: RUF012
    maintenances: list[dict[str, str]] = []  # noqa: RUF012
    can_write: bool = False
    component_choices: list[str] = []  # noqa: RUF012
    notice_statuses: list[str] = NOTICE_STATUSES
    component_statuses: list[str] = COMPONENT_STATUSES
    durations: list[str] = list(DURATIONS)  # noqa: RUF012
    # the forms
    new_title: str = ""
    new_body: str = ""
    new_status: str = NoticeStatus.INVESTIGATING.value
    new_component: str = WHOLE_PAGE
    update_text: dict[str, str] = {}  # noqa: RUF012
    update_status: dict[str, str] = {}  # noqa: RUF012
    manual_status: dict[str, str] = {}  # noqa: RUF012
    manual_for: dict[str, str] = {}  # noqa: RUF012

    def _route_name(self) -> str:
        raw = self.router.page.params.get("name", "") or ""
        return str(raw[0] if isinstance(raw, list) else raw)

    def _refresh(self) -> None:
        with context.read_session() as session:
            self._seen_change = queries.last_change(session)
            config = context.config(session)
            now = context.now()
            self.pages = [self._summary(load_page(session, config, name, now))
                          for name in sorted(config.status_pages)]
            if self.page_name:
                self._read_page(session, config, now)

    def _summary(self, view: PageView | None) -> dict[str, str]:
        if view is None:
            return {}
        return {"name": view.name, "title": view.title, "visibility": view.visibility,
                "indicator": view.indicator.value, "description": view.status_description,
                "tone": _tone(max((c.status for c in view.components),
                                  key=lambda s: s.rank).value),
                "open": str(len(view.open_notices)), "url": f"/status/{view.name}"}

    def _read_page(self, session: Any, config: ConfigSet, now: Any) -> None:
        view = load_page(session, config, self.page_name, now)
        self.found = view is not None
        if view is None:
            self.page, self.components, self.notices, self.past = {}, [], [], []
            self.maintenances, self.can_write = [], False
            return
        tz = self.tz
        rows = {c.component: c for c in store.components(session.connection(),
                                                         [self.page_name])}
        actor = self._remembered_actor()
        page_model = config.status_pages[self.page_name]
        self.can_write = actor is not None and access.may_write(actor, page_model, config)[0]
        self.page = self._summary(view)
        self.components = []
        for c in view.components:
            row = rows.get(c.name)
            manual = row.manual if row is not None else None
            self.components.append({
                "name": c.name, "status": c.status.value, "tone": _tone(c.status.value),
                "text": c.status.text, "uptime": f"{c.uptime:.2f}%",
                "services": ", ".join(sorted(c.services)),
                "computed": ComponentStatus(row.computed).text if row is not None else "",
                "manual": "yes" if manual else "",
                "manual_by": (row.updated_by or "") if manual and row is not None else "",
                "manual_until": (format.when(row.manual_expires_at, tz) or "until cleared")
                if manual and row is not None else "",
            })
        self.component_choices = [WHOLE_PAGE, *[c.name for c in view.components]]
        self.notices = [self._notice(n, tz) for n in view.open_notices]
        self._show_drafts()
        self.past = [self._notice(n, tz) for n in view.past_notices]
        self.maintenances = [
            {"name": m.maintenance.name, "stage": m.stage.replace("_", " "),
             "description": m.maintenance.description or "",
             "from": format.when(m.maintenance.starts_at, tz),
             "to": format.when(m.maintenance.ends_at, tz),
             "components": ", ".join(m.components)}
            for m in view.maintenances
        ]

    def _show_drafts(self) -> None:
        """What the person has typed but not sent survives a live refresh: the forms read
        their values from the rows, the drafts are kept beside them."""
        for c in self.components:
            c["choice"] = self.manual_status.get(c["name"], "")
            c["for"] = self.manual_for.get(c["name"], "")
        for n in self.notices:
            n["draft_status"] = self.update_status.get(n["id"], NoticeStatus.IDENTIFIED.value)
            n["draft_text"] = self.update_text.get(n["id"], "")
        self.components = list(self.components)
        self.notices = list(self.notices)

    @staticmethod
    def _notice(n: Any, tz: str) -> dict[str, Any]:
        return {
            "id": str(n.id), "title": n.title, "status": n.status, "impact": n.impact,
            "components": ", ".join(n.components) or "the whole page",
            "created": format.when(n.created_at, tz),
            "resolved": format.when(n.resolved_at, tz),
            "updates": [{"status": u.status, "body": u.body, "at": format.when(u.created_at, tz)}
                        for u in n.updates],
        }

    def _after_change(self) -> None:
        self._refresh()

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self.page_name = self._route_name()
        self._refresh()
        self._start_live()
        return [e for e in (StatusPagesState.watch, self._ask_tz(StatusPagesState.apply_tz))
                if e is not None]

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()

    # --- the forms -------------------------------------------------------------------------

    @rx.event
    def set_new_title(self, value: str) -> None:
        self.new_title = value

    @rx.event
    def set_new_body(self, value: str) -> None:
        self.new_body = value

    @rx.event
    def set_new_status(self, value: str) -> None:
        self.new_status = value

    @rx.event
    def set_new_component(self, value: str) -> None:
        self.new_component = value

    @rx.event
    def set_update_text(self, notice_id: str, value: str) -> None:
        self.update_text = {**self.update_text, notice_id: value}
        self._show_drafts()

    @rx.event
    def set_update_status(self, notice_id: str, value: str) -> None:
        self.update_status = {**self.update_status, notice_id: value}
        self._show_drafts()

    @rx.event
    def set_manual_status(self, component: str, value: str) -> None:
        self.manual_status = {**self.manual_status, component: value}
        self._show_drafts()

    @rx.event
    def set_manual_for(self, component: str, value: str) -> None:
        self.manual_for = {**self.manual_for, component: value}
        self._show_drafts()

    @rx.event
    def post_notice(self) -> None:
        components = [] if self.new_component == WHOLE_PAGE else [self.new_component]
        posted = self._act(lambda actor: actions.post_notice(
            actor, self.page_name, self.new_title, self.new_body, self.new_status, components))
        if posted is not None:
            self.notice = f"Notice #{posted} posted."
            self.new_title, self.new_body = "", ""
            self.new_status, self.new_component = NoticeStatus.INVESTIGATING.value, WHOLE_PAGE
            self._refresh()

    @rx.event
    def update_notice(self, notice_id: str) -> None:
        status = self.update_status.get(notice_id, NoticeStatus.IDENTIFIED.value)
        text = self.update_text.get(notice_id, "")
        done = self._act(lambda actor: actions.update_notice(
            actor, self.page_name, int(notice_id), status, text))
        if done:
            self.notice = f"Notice #{notice_id} updated: {status}."
            self.update_text = {k: v for k, v in self.update_text.items() if k != notice_id}
            self._refresh()

    @rx.event
    def set_component(self, component: str) -> None:
        status = self.manual_status.get(component, ComponentStatus.OPERATIONAL.value)
        hours = DURATIONS.get(self.manual_for.get(component, "4 hours"), 4.0)
        done = self._act(lambda actor: actions.set_component_status(
            actor, self.page_name, component, status, hours))
        if done:
            self.notice = f"{component} shows {status.replace('_', ' ')}."
            self._refresh()

    @rx.event
    def clear_component(self, component: str) -> None:
        done = self._act(lambda actor: actions.clear_component_status(
            actor, self.page_name, component))
        if done:
            self.notice = f"{component} shows what its services earn again."
            self._refresh()
