"""The Reflex app: pages, and the HTTP routes of the API and of sign-in and feeds.

`reflex run` finds this module through `app_module_import` in rxconfig.py. The API app and the
web app's own routes are API transformers: their routes are matched before Reflex's own.
"""

from __future__ import annotations

import contextlib

import reflex as rx
from starlette.applications import Starlette

from oncall.api.app import create_api, serving
from oncall.db.migrate import require_current
from oncall.web import context, routes
from oncall.web.components.layout import pwa_head
from oncall.web.components.push import push_page
from oncall.web.headers import SecurityHeaders
from oncall.web.pages.audit import audit_page
from oncall.web.pages.delivery import delivery_page
from oncall.web.pages.incident import incident_page
from oncall.web.pages.incidents import incidents_page
from oncall.web.pages.login import LoginState, login_page
from oncall.web.pages.oncall import oncall_page, schedule_page
from oncall.web.pages.policy_editor import edit_policy_page, new_policy_page
from oncall.web.pages.postmortems import postmortem_page, postmortems_page
from oncall.web.pages.profile import profile_page
from oncall.web.pages.reports import reports_page
from oncall.web.pages.schedule_editor import schedule_editor_page
from oncall.web.pages.schedules import schedules_page, week_page
from oncall.web.pages.service import service_page
from oncall.web.pages.services import config_page, services_page
from oncall.web.pages.status import status_page_page, status_pages_page
from oncall.web.pages.workflow_editor import edit_workflow_page, new_workflow_page
from oncall.web.state.audit import AuditState
from oncall.web.state.delivery import DeliveryState
from oncall.web.state.incident import IncidentState
from oncall.web.state.incidents import IncidentsState
from oncall.web.state.oncall import OnCallState, ScheduleState
from oncall.web.state.policy_editor import PolicyEditorState
from oncall.web.state.postmortems import PostmortemsState, PostmortemState
from oncall.web.state.profile import ProfileState
from oncall.web.state.push import PushState
from oncall.web.state.reports import ReportsState
from oncall.web.state.schedule_editor import ScheduleEditorState
from oncall.web.state.schedules import ScheduleListState, WeekState
from oncall.web.state.service import ServiceState
from oncall.web.state.services import ConfigState, ServicesState
from oncall.web.state.status import StatusPagesState
from oncall.web.state.workflow_editor import WorkflowEditorState


def api_app() -> Starlette:
    """The HTTP API (ingest, REST) on the web app's process context; the schema is checked at
    startup."""
    ctx = context.current()
    return create_api(ctx.settings, ctx.engine, check_schema=False, core=ctx, clock=ctx.clock)


def check_schema() -> None:
    """Refuse to serve an unmigrated database (run `oncall db upgrade` first)."""
    require_current(context.engine())


api = api_app()


def api_serving() -> contextlib.AbstractAsyncContextManager[None]:
    """The API's start-up and shutdown (its connection pool), in the web app's lifespan."""
    return serving(api.state.ctx)


app = rx.App(
    # The last transformer wraps everything the backend serves: pages, websocket, API, sign-in.
    api_transformer=[routes.router(), api, SecurityHeaders],
    head_components=[
        rx.el.meta(name="viewport", content="width=device-width, initial-scale=1"),
        *pwa_head(),
    ],
    stylesheets=["/a11y.css"],  # contrast and keyboard fixes to Radix Themes (docs/web.md)
)
app.register_lifespan_task(check_schema)
app.register_lifespan_task(api_serving)
app.add_page(login_page, route="/login", title="Sign in · oncall", on_load=LoginState.load)
app.add_page(incidents_page, route="/", title="Incidents · oncall", on_load=IncidentsState.load)
app.add_page(
    incident_page,
    route="/incidents/[incident_id]",
    title="Incident · oncall",
    on_load=IncidentState.load,
)
app.add_page(oncall_page, route="/oncall", title="On call · oncall", on_load=OnCallState.load)
app.add_page(
    schedule_page,
    route="/schedules/[schedule]",
    title="Schedule · oncall",
    on_load=ScheduleState.load,
)
app.add_page(
    services_page, route="/services", title="Services · oncall", on_load=ServicesState.load
)
app.add_page(status_pages_page, route="/status-pages", title="Status pages · oncall",
             on_load=StatusPagesState.load)
app.add_page(status_page_page, route="/status-pages/[name]", title="Status page · oncall",
             on_load=StatusPagesState.load)
app.add_page(postmortems_page, route="/postmortems", title="Postmortems · oncall",
             on_load=PostmortemsState.load)
app.add_page(postmortem_page, route="/postmortems/[id]", title="Postmortem · oncall",
             on_load=PostmortemState.load)
app.add_page(config_page, route="/config", title="Config · oncall", on_load=ConfigState.load)
app.add_page(profile_page, route="/profile", title="Profile · oncall", on_load=ProfileState.load)
app.add_page(reports_page, route="/reports", title="Reports · oncall", on_load=ReportsState.load)
app.add_page(push_page, route="/push", title="Push notifications · oncall",
             on_load=PushState.check_login)
app.add_page(delivery_page, route="/delivery", title="Delivery health · oncall",
             on_load=DeliveryState.load)
app.add_page(service_page, route="/services/[name]", title="Service · oncall",
             on_load=ServiceState.load)
app.add_page(schedules_page, route="/schedules", title="Schedules · oncall",
             on_load=ScheduleListState.load)
app.add_page(week_page, route="/oncall/week", title="This week · oncall", on_load=WeekState.load)
app.add_page(audit_page, route="/audit", title="Audit log · oncall", on_load=AuditState.load)
app.add_page(schedule_editor_page, route="/schedules/new", title="New schedule · oncall",
             on_load=ScheduleEditorState.load)
app.add_page(schedule_editor_page, route="/schedules/[schedule]/edit",
             title="Edit schedule · oncall", on_load=ScheduleEditorState.load)
app.add_page(new_policy_page, route="/policies/new", title="New escalation policy · oncall",
             on_load=PolicyEditorState.load)
app.add_page(edit_policy_page, route="/policies/[name]/edit",
             title="Edit escalation policy · oncall", on_load=PolicyEditorState.load)
app.add_page(new_workflow_page, route="/workflows/new", title="New workflow · oncall",
             on_load=WorkflowEditorState.load)
app.add_page(edit_workflow_page, route="/workflows/[name]/edit",
             title="Edit workflow · oncall", on_load=WorkflowEditorState.load)
