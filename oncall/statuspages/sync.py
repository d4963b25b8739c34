"""Keep status page components, and their automatic notices, in step with incidents.

Every worker runs `sync_pages` about once a second. It reads (outside any write transaction)
the component rows, the open automatic notices and the open incidents' service and priority,
lets `core.status` decide what each component shows, and only when something differs takes a
write transaction to store it. Every write is compare-and-set against what was read, so any
number of processes may sync at once: the one whose write lands records the change, opens or
resolves the notice and reports it; the others find the row moved and leave it to the next
sync. Nothing of an alert (title, labels, hosts) is read here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, select

from oncall.config.configset import ConfigSet
from oncall.config.models import NoticeTexts as NoticesConfig
from oncall.config.models import StatusPage
from oncall.config.templates import TemplateProblem, render_notice
from oncall.core import status as core
from oncall.core.incident import Status
from oncall.core.status import ComponentStatus, Manual, NoticeStatus, OpenIncident
from oncall.db.engine import write_connection
from oncall.db.models import IncidentRow, ServiceRow
from oncall.statuspages import audit, subscribers
from oncall.statuspages.view import impact_of_page, maintenances_of
from oncall.store import status as store
from oncall.store.status import ComponentState, Notice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One thing a sync changed on a page, enough to tell its subscribers.

    `old` is None for a component just added, `new` None for one removed; `notice_id` and
    `notice_status` name the automatic notice opened (investigating) or resolved with it."""

    page: str
    component: str
    old: ComponentStatus | None
    new: ComponentStatus | None
    notice_id: int | None = None
    notice_status: NoticeStatus | None = None


_FALLBACK = NoticesConfig()
"""The default texts, for a page gone from the config whose automatic notice still needs
resolving."""


@dataclass(frozen=True)
class NoticeTexts:
    """A page's automatic-notice templates (over `component`, `page` and `status` only)."""

    page_title: str
    templates: NoticesConfig

    def title(self, component: str, status: ComponentStatus) -> str:
        return self._render(self.templates.title, _FALLBACK.title, component, status)

    def opened(self, component: str, status: ComponentStatus) -> str:
        return self._render(self.templates.opened, _FALLBACK.opened, component, status)

    def resolved(self, component: str) -> str:
        return self._render(self.templates.resolved, _FALLBACK.resolved, component,
                            ComponentStatus.OPERATIONAL)

    def _render(self, source: str, default: str, component: str,
                status: ComponentStatus) -> str:
        """`oncall validate` checked the template; should it still fail, the default text
        stands in rather than holding the page's change back."""
        for template in (source, default):
            try:
                return render_notice(template, component=component, page=self.page_title,
                                     status=status.text)
            except TemplateProblem:
                log.warning("status page %r: notice template failed", self.page_title)
        return f"{component}: {status.text}"


def notice_texts(page: StatusPage | None, name: str) -> NoticeTexts:
    """The page's automatic-notice texts (a page gone from the config: the defaults)."""
    if page is None:
        return NoticeTexts(name, _FALLBACK)
    return NoticeTexts(page.title, page.notices)


def open_incidents(conn: Connection, services: Iterable[str]) -> list[OpenIncident]:
    """Service and priority of every unresolved incident on `services`, in one query."""
    names = sorted(set(services))
    if not names:
        return []
    rows = conn.execute(
        select(ServiceRow.name, IncidentRow.priority)
        .join(ServiceRow, ServiceRow.id == IncidentRow.service_id)
        .where(IncidentRow.status != Status.RESOLVED.value, ServiceRow.name.in_(names)))
    return [OpenIncident(service=r.name, priority=r.priority) for r in rows]


def _is_incident(status: ComponentStatus | None) -> bool:
    """A status an incident causes (maintenance and operational are not)."""
    return status in core.IMPACTS


@dataclass(frozen=True)
class _Plan:
    """What one component needs, decided from what was read."""

    page: str
    component: str
    row: ComponentState | None
    computed: ComponentStatus | None
    shown: ComponentStatus | None
    """None: the component is no longer in its page's config."""
    clear_manual: bool
    notice: Notice | None
    texts: NoticeTexts

    @property
    def old(self) -> ComponentStatus | None:
        return None if self.row is None else ComponentStatus(self.row.status)

    def needed(self) -> bool:
        if self.shown is None or self.row is None:
            return True
        if (self.shown.value, self.computed) != (self.row.status, self.row.computed) or (
                self.clear_manual):
            return True
        if self.notice is not None and not _is_incident(self.shown):
            return True  # resolved whatever showed it operational (a manual status included)
        return self.notice is not None and self.notice.impact != core.NOTICE_IMPACT[self.shown]


def _plans(config: ConfigSet, rows: Sequence[ComponentState], notices: Sequence[Notice],
           incidents: Sequence[OpenIncident], now: datetime) -> list[_Plan]:
    pages = config.status_pages
    windows = maintenances_of(config)
    by_key = {(r.page, r.component): r for r in rows}
    open_auto = {(n.page, n.auto_component): n for n in notices if n.auto_component}
    plans: list[_Plan] = []
    for page_name, page in sorted(pages.items()):
        impact, texts = impact_of_page(page), notice_texts(page, page_name)
        for part in page.components:
            row = by_key.pop((page_name, part.name), None)
            computed = core.computed_status(part.services, incidents, windows, now, impact)
            manual = None if row is None or row.manual is None else Manual(
                ComponentStatus(row.manual), row.updated_by or "", row.manual_set_at or now,
                row.manual_expires_at)
            expired = manual is not None and not manual.in_force(now)
            shown = core.shown_status(computed, None if expired else manual, now)
            plans.append(_Plan(page_name, part.name, row, computed, shown, expired,
                               open_auto.pop((page_name, part.name), None), texts))
    for (page_name, name), row in sorted(by_key.items()):
        plans.append(_Plan(page_name, name, row, None, None, False,
                           open_auto.pop((page_name, name), None),
                           notice_texts(pages.get(page_name), page_name)))
    for (page_name, name), notice in sorted(open_auto.items(), key=lambda kv: kv[1].id):
        assert name is not None
        plans.append(_Plan(page_name, name, None, None, None, False, notice,
                           notice_texts(pages.get(page_name), page_name)))
    return [p for p in plans if p.needed()]


def sync_pages(engine: Engine, config: ConfigSet, now: datetime,
               public_url: str | None = None) -> list[Change]:
    """Bring every component of the applied status pages to what its services earn; the
    changes this call made (another process's are its own to report). In the same write
    transaction the subscribers are told: of each automatic notice opened or resolved, of
    each component's change (webhooks), and of each maintenance window that started or
    ended; links are rooted at `public_url` (None: ONCALL_PUBLIC_URL)."""
    pages = config.status_pages
    services = {s for page in pages.values() for part in page.components for s in part.services}
    due = subscribers.due_windows(config, now)
    with engine.connect() as conn:
        rows = store.components(conn)
        notices = store.open_notices(conn, sorted({*pages, *(r.page for r in rows)}),
                                     automatic=True)
        incidents = open_incidents(conn, services)
        untold = subscribers.untold(conn, due)
    plans = _plans(config, rows, notices, incidents, now)
    if not plans and not untold:
        return []
    changes: list[Change] = []
    base_url = subscribers.public_url(public_url)
    with write_connection(engine) as conn:
        for plan in plans:
            change = _apply(conn, plan, now)
            if change is not None:
                changes.append(change)
        for change in changes:
            if change.notice_id is not None:
                subscribers.tell_notice(conn, config, change.notice_id, now, base_url)
        subscribers.tell_component_changes(
            conn, config, [(c.page, c.component, c.old, c.new) for c in changes], now,
            base_url)
        subscribers.tell_maintenances(conn, config, untold, now, base_url)
    return changes


def _apply(conn: Connection, plan: _Plan, now: datetime) -> Change | None:
    """Write one plan, compare-and-set; the change made, None if another process moved first."""
    old, new = plan.old, plan.shown
    if plan.row is None and new is not None:
        assert plan.computed is not None
        if not store.insert_component(conn, plan.page, plan.component, status=new.value,
                                      computed=plan.computed.value, now=now):
            return None
        audit.record(conn, plan.page, audit.COMPONENT_ADDED, actor=audit.SYSTEM, at=now,
                     after=new.value, data={"component": plan.component})
    elif plan.row is not None and new is None:
        if not store.delete_component(conn, plan.row):
            return None
        audit.record(conn, plan.page, audit.COMPONENT_REMOVED, actor=audit.SYSTEM, at=now,
                     before=plan.row.status, data={"component": plan.component})
    elif plan.row is not None and new is not None:
        assert plan.computed is not None
        moved = (new.value, plan.computed.value) != (plan.row.status, plan.row.computed)
        if (moved or plan.clear_manual) and not store.record_computed(
                conn, plan.row, computed=plan.computed.value, shown=new.value,
                clear_manual=plan.clear_manual, now=now):
            return None
        if old != new:
            audit.record(conn, plan.page, audit.COMPONENT_CHANGED, actor=audit.SYSTEM, at=now,
                         before=plan.row.status, after=new.value,
                         data={"component": plan.component,
                               "manual_expired": plan.clear_manual})
    notice_id, notice_status = _notice(conn, plan, now)
    if old == new and notice_id is None:
        return None
    return Change(plan.page, plan.component, old, new, notice_id, notice_status)


def _notice(conn: Connection, plan: _Plan, now: datetime
            ) -> tuple[int | None, NoticeStatus | None]:
    """Open, resolve or re-grade the component's automatic notice after its change."""
    new, texts, name = plan.shown, plan.texts, plan.component
    if plan.notice is not None and not _is_incident(new):
        if store.update_notice(conn, plan.notice.id, status=NoticeStatus.RESOLVED.value,
                               body=texts.resolved(name), by=None, now=now):
            audit.record(conn, plan.page, audit.NOTICE_UPDATED, actor=audit.SYSTEM, at=now,
                         before=plan.notice.status, after=NoticeStatus.RESOLVED.value,
                         data={"notice_id": plan.notice.id, "component": name})
            return plan.notice.id, NoticeStatus.RESOLVED
        return None, None
    if new is None or not _is_incident(new):
        return None, None
    impact = core.NOTICE_IMPACT[new]
    if plan.notice is not None:
        store.set_impact(conn, plan.notice.id, impact, now)
        return None, None
    if _is_incident(plan.old):
        return None, None  # already away from operational: its notice was resolved by hand
    notice_id = store.open_auto_notice(
        conn, plan.page, name, title=texts.title(name, new),
        body=texts.opened(name, new), status=NoticeStatus.INVESTIGATING.value,
        impact=impact, now=now)
    if notice_id is None:
        return None, None
    audit.record(conn, plan.page, audit.NOTICE_POSTED, actor=audit.SYSTEM, at=now,
                 after=NoticeStatus.INVESTIGATING.value,
                 data={"notice_id": notice_id, "component": name, "impact": impact})
    return notice_id, NoticeStatus.INVESTIGATING
