"""Postmortems in the app: the list with every open action item, the editor, and the
incident page's way in.

Everything goes through `oncall.postmortems.service`, which checks who asks: a hidden button is
never the only guard, and a postmortem the reader may not read is "not found" like an unknown
one. The editor saves the body and fields a couple of seconds after typing stops (the page
debounces `autosave`) against the version the edit was made on; when someone else saved in
between nothing is written and the page says who and when, and the author chooses between their
version and their own. Markdown is shown through `sanitize.markdown` and `components.text`, so a
body holding `<script>` or a `javascript:` link is shown as text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import reflex as rx
from sqlalchemy.orm import Session

from oncall.config.configset import ConfigSet
from oncall.core.postmortem import SEVERITIES, ItemStatus, KeyFigures, Status, duration_text
from oncall.db.engine import write_session
from oncall.incidents.actors import Actor
from oncall.postmortems import access, export, queries, service
from oncall.postmortems.queries import NotFound, Postmortem
from oncall.web import context, format, sanitize
from oncall.web import queries as web_queries
from oncall.web.state.live import LiveMixin
from oncall.web.state.session import SessionState

T = TypeVar("T")
ANY = "any"
NO_SEVERITY = "none"
STATUS_LABELS = {Status.DRAFT.value: "Draft", Status.IN_REVIEW.value: "In review",
                 Status.PUBLISHED.value: "Published"}
ITEM_STATUSES = [s.value for s in ItemStatus]
AUTOSAVE_MS = 2000
"""How long after the last keystroke the editor saves: long enough not to save every word,
short enough that closing the tab loses little."""
FIELDS = ("title", "body", "severity", "owner", "status")
ITEM_FIELDS = ("title", "owner", "due", "url")


def _write(change: Callable[[Session], T]) -> T:
    """Run `change` in one write transaction (committed when it returns)."""
    with write_session(context.engine()) as session:
        return change(session)


def _view(actor: Actor, postmortem_id: int) -> service.View:
    with context.read_session() as session:
        return service.view(session.connection(), context.config(session), actor,
                            postmortem_id, context.now())


def _status_text(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " "))


def _person(label: str, config: ConfigSet | None) -> str:
    """`user:priya@…` as the person's name when the config knows it."""
    kind, _, name = label.partition(":")
    if kind != "user" or not name:
        return label
    user = config.users.get(name) if config is not None else None
    return (user.name if user is not None and user.name else name)


def _fields(pm: Postmortem) -> dict[str, str]:
    return {"title": pm.title, "body": pm.body, "severity": pm.severity or NO_SEVERITY,
            "owner": pm.owner or "", "status": pm.status}


def _figures(f: KeyFigures) -> list[dict[str, str]]:
    channels = ", ".join(f"{c} {n}" for c, n in f.pages_by_channel.items())
    night = ", ".join(f"{p} {n}" for p, n in f.night_pages_by_person.items())
    return [
        {"name": "Time to acknowledge", "value": duration_text(f.time_to_acknowledge),
         "detail": ""},
        {"name": "Time to resolve", "value": duration_text(f.time_to_resolve),
         "detail": "" if f.time_to_resolve is not None or f.started_at is None
         else "not resolved yet"},
        {"name": "People paged", "value": str(len(f.people_paged)),
         "detail": ", ".join(f.people_paged)},
        {"name": "Pages per channel", "value": str(f.pages), "detail": channels},
        {"name": "Pages at night", "value": str(f.night_pages), "detail": night},
    ]


def _item_row(item: queries.Item, tz: str, today: Any) -> dict[str, str]:
    return {
        "id": str(item.id), "title": item.title, "owner": item.owner or "",
        "status": item.status, "due": item.due_on.isoformat() if item.due_on else "",
        "overdue": "yes" if item.overdue(today) else "",
        "url": item.url or "", "safe_url": sanitize.safe_url(item.url),
        "postmortem_id": str(item.postmortem_id), "postmortem_title": item.postmortem_title,
        "teams": ", ".join(item.teams),
        "completed": format.when(item.completed_at, tz),
    }


def _today(tz: str) -> Any:
    return context.now().astimezone(format.zone(tz)).date()


# --- the list -----------------------------------------------------------------------------------


class PostmortemsState(LiveMixin, SessionState):
    """`/postmortems`: the postmortems the reader may read, and their open action items."""

    rows: list[dict[str, str]] = []  # noqa: RUF012
    status_filter: str = ANY
    team_filter: str = ANY
    status_choices: list[str] = [ANY, *STATUS_LABELS]  # noqa: RUF012
    team_choices: list[str] = [ANY]  # noqa: RUF012
    tab: str = "postmortems"
    items: list[dict[str, str]] = []  # noqa: RUF012
    item_team: str = ANY
    item_owner: str = ""

    def _refresh(self) -> None:
        actor = self._remembered_actor()
        if actor is None:
            self.rows, self.items = [], []
            return
        tz = self.tz
        with context.read_session() as session:
            self._seen_change = web_queries.last_change(session)
            self.team_choices = [ANY, *sorted(context.config(session).teams)]
            conn = session.connection()
            summaries = service.readable_summaries(
                conn, actor, status=None if self.status_filter == ANY else self.status_filter,
                team=None if self.team_filter == ANY else self.team_filter)
            found = service.readable_items(
                conn, actor, team=None if self.item_team == ANY else self.item_team,
                owner=self.item_owner.strip() or None, status=ItemStatus.OPEN.value)
        self.rows = [{
            "id": str(s.id), "title": s.title, "status": s.status,
            "status_text": _status_text(s.status), "severity": s.severity or "",
            "owner": s.owner or "", "incidents": ", ".join(f"#{i}" for i in s.incident_ids),
            "teams": ", ".join(s.teams), "open_items": str(s.open_items),
            "updated": format.when(s.updated_at, tz),
        } for s in summaries]
        today = _today(tz)
        self.items = [_item_row(i, tz, today) for i in found]

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        self._refresh()
        self._start_live()
        return [e for e in (PostmortemsState.watch, self._ask_tz(PostmortemsState.apply_tz))
                if e is not None]

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()

    @rx.event
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value if value in self.status_choices else ANY
        self._refresh()

    @rx.event
    def set_team_filter(self, value: str) -> None:
        self.team_filter = value or ANY
        self._refresh()

    @rx.event
    def set_tab(self, value: str) -> None:
        self.tab = "items" if value == "items" else "postmortems"

    @rx.event
    def set_item_team(self, value: str) -> None:
        self.item_team = value or ANY
        self._refresh()

    @rx.event
    def set_item_owner(self, value: str) -> None:
        self.item_owner = value
        self._refresh()


# --- the editor ---------------------------------------------------------------------------------


class PostmortemState(LiveMixin, SessionState):
    """`/postmortems/[id]`: one postmortem, editable by its teams' responders, read-only else."""

    pm_id: int = 0
    found: bool = False
    can_edit: bool = False
    version: int = 0
    draft: dict[str, str] = {}  # noqa: RUF012 - the fields as the author sees them
    _base: dict[str, str] = {}  # noqa: RUF012 - the same fields as saved at `version`
    dirty: bool = False
    saved_text: str = ""
    conflict: dict[str, str] = {}  # noqa: RUF012 - who saved meanwhile, and when
    _theirs: dict[str, Any] = {}  # noqa: RUF012
    preview: str = ""
    show_preview: bool = False
    meta: dict[str, str] = {}  # noqa: RUF012
    incidents: list[dict[str, str]] = []  # noqa: RUF012
    new_incident: str = ""
    figures: list[dict[str, str]] = []  # noqa: RUF012
    timeline: list[dict[str, str]] = []  # noqa: RUF012
    _entries: list[dict[str, str]] = []  # noqa: RUF012
    _notes: dict[str, str] = {}  # noqa: RUF012 - notes typed but not saved yet, by entry key
    kept_only: bool = False
    kept_count: int = 0
    entry_count: int = 0
    items: list[dict[str, str]] = []  # noqa: RUF012
    item_form: dict[str, str] = {}  # noqa: RUF012
    editing_item: str = ""
    edit_form: dict[str, str] = {}  # noqa: RUF012
    severity_choices: list[str] = [NO_SEVERITY, *SEVERITIES]  # noqa: RUF012
    item_statuses: list[str] = ITEM_STATUSES

    def _route_id(self) -> int:
        raw = self.router.page.params.get("id", "") or ""
        raw = raw[0] if isinstance(raw, list) else raw
        return int(raw) if str(raw).isdigit() else 0

    def _clear(self) -> None:
        self.found, self.can_edit, self.version, self.dirty = False, False, 0, False
        self.draft, self._base, self.conflict, self._theirs = {}, {}, {}, {}
        self.meta, self.incidents, self.figures, self.items = {}, [], [], []
        self.timeline, self._entries, self.preview, self.saved_text = [], [], "", ""

    def _refresh(self) -> None:
        actor = self._remembered_actor()
        if actor is None or not self.pm_id:
            self._clear()
            return
        with context.read_session() as session:
            self._seen_change = web_queries.last_change(session)
            config = context.config(session)
            try:
                view = service.view(session.connection(), config, actor, self.pm_id,
                                     context.now())
            except NotFound:
                self._clear()
                return
        self._show(view, config)

    def _show(self, view: service.View, config: ConfigSet | None) -> None:
        pm, tz = view.postmortem, self.tz
        self.found, self.can_edit = True, view.can_edit
        self.meta = {
            "id": str(pm.id), "created_by": _person(pm.created_by, config),
            "created": format.when(pm.created_at, tz),
            "updated_by": _person(pm.updated_by, config),
            "updated": format.when(pm.updated_at, tz),
            "published": format.when(pm.published_at, tz),
            "template": pm.template or "", "teams": ", ".join(pm.teams),
            "status": pm.status, "status_text": _status_text(pm.status),
            "print_url": f"/postmortems/{pm.id}/print",
        }
        saved = _fields(pm)
        if not self.dirty:
            self._take(saved, pm.version)
        elif pm.version != self.version and not self.conflict:
            self._conflict_with(pm, config)
        self.incidents = [{"id": str(i.id), "title": i.title, "service": i.service,
                           "team": i.team, "status": i.status, "priority": i.priority or ""}
                          for i in pm.incidents]
        self.figures = _figures(view.figures)
        self._entries = [{
            "key": e.key, "at": format.when(e.at, tz), "kind": e.kind.value, "text": e.text,
            "actor": e.actor, "incident": f"#{e.incident_id}" if e.incident_id else "",
            "kept": "yes" if e.kept else "", "saved_note": e.note or "",
        } for e in view.timeline]
        self._show_timeline()
        today = _today(tz)
        self.items = [_item_row(i, tz, today) for i in pm.items]

    def _take(self, fields: dict[str, str], version: int) -> None:
        """Show `fields` as saved at `version`: nothing of the author's is pending."""
        self.draft, self._base, self.version = dict(fields), dict(fields), version
        self.dirty, self.conflict, self._theirs = False, {}, {}
        self.preview = sanitize.markdown(fields["body"])

    def _conflict_with(self, current: Postmortem, config: ConfigSet | None) -> None:
        self.conflict = {"who": _person(current.updated_by, config),
                         "at": current.updated_at.astimezone(format.zone(self.tz))
                         .strftime("%H:%M"),
                         "version": str(current.version)}
        self._theirs = {"fields": _fields(current), "version": current.version}
        self.saved_text = ""

    def _show_timeline(self) -> None:
        entries = []
        for e in self._entries:
            note = self._notes.get(e["key"], e["saved_note"])
            entries.append({**e, "note": note})
        self.kept_count = sum(1 for e in entries if e["kept"])
        self.entry_count = len(entries)
        self.timeline = [e for e in entries if e["kept"] or not self.kept_only]

    def _after_write(self, message: str = "") -> None:
        if not self.error:
            self.notice = message
            self._refresh()

    # --- loading ---------------------------------------------------------------------------

    @rx.event
    def load(self) -> Any:
        guard = self._require()
        if guard is not None:
            return guard
        wanted = self._route_id()
        if wanted != self.pm_id:
            self._clear()
            self._notes, self.kept_only, self.show_preview = {}, False, False
            self.editing_item, self.item_form, self.edit_form = "", {}, {}
        self.pm_id = wanted
        self.dirty = False  # a reload shows what is saved
        self._refresh()
        self._start_live()
        return [e for e in (PostmortemState.watch, self._ask_tz(PostmortemState.apply_tz))
                if e is not None]

    @rx.event
    def apply_tz(self, tz: Any) -> None:
        self._take_tz(tz)
        self._refresh()

    # --- the fields and the body, saved on a version -----------------------------------------

    @rx.event
    def set_draft(self, field: str, value: str) -> None:
        if field not in FIELDS or not self.can_edit:
            return
        self.draft = {**self.draft, field: value}
        self.dirty = self.draft != self._base
        self.saved_text = "Unsaved changes" if self.dirty else self.saved_text
        if field == "body":
            self.preview = sanitize.markdown(value)

    @rx.event
    def toggle_preview(self) -> None:
        self.show_preview = not self.show_preview

    def _save(self) -> None:
        """Save the fields on the version they were edited on; a conflict writes nothing."""
        if not self.dirty or self.conflict or not self.can_edit:
            return
        draft, version = dict(self.draft), self.version
        if "severity" not in draft:  # no postmortem loaded (or a browser forged can_edit)
            return
        severity = "" if draft["severity"] == NO_SEVERITY else draft["severity"]

        def save(actor: Actor) -> int | service.Conflict:
            try:
                return _write(lambda s: service.save(
                    s.connection(), actor, self.pm_id, version, context.now(),
                    title=draft["title"], body=draft["body"], severity=severity,
                    owner=draft["owner"].strip(), status=draft["status"]))
            except service.Conflict as exc:
                return exc

        result = self._act(save)
        if isinstance(result, service.Conflict):
            with context.read_session() as session:
                config = context.config(session)
            self._conflict_with(result.current, config)
        elif result is not None:
            self.version, self._base = result, draft
            self.dirty = self.draft != self._base
            self.saved_text = "Saved at " + context.now().astimezone(
                format.zone(self.tz)).strftime("%H:%M:%S")
            self._refresh()

    @rx.event
    def autosave(self) -> None:
        self._save()

    @rx.event
    def load_theirs(self) -> None:
        """Drop the author's pending edits for the version someone else saved."""
        if self._theirs:
            self._take(self._theirs["fields"], int(self._theirs["version"]))
        self.dirty = False
        self.saved_text = ""
        self._refresh()

    @rx.event
    def keep_mine(self) -> None:
        """Save the page as the author sees it over the version someone else saved."""
        if not self._theirs:
            return
        self.version = int(self._theirs["version"])
        self.conflict, self._theirs = {}, {}
        self.dirty = True
        self._save()

    # --- incidents ---------------------------------------------------------------------------

    @rx.event
    def set_new_incident(self, value: str) -> None:
        self.new_incident = value

    @rx.event
    def link_incident(self) -> None:
        typed = self.new_incident.strip().lstrip("#").strip()
        if not typed.isdigit():
            self.error = "Type an incident number, like 42."
            return
        number = int(typed)
        added = self._act(lambda actor: _write(lambda s: service.link_incidents(
            s.connection(), actor, self.pm_id, [number], context.now())))
        if added is not None:
            self.new_incident = ""
            self._after_write(f"Incident #{number} added." if added
                              else f"Incident #{number} was already reviewed here.")

    @rx.event
    def unlink_incident(self, incident_id: str) -> None:
        number = int(incident_id)
        removed = self._act(lambda actor: _write(lambda s: service.unlink_incident(
            s.connection(), actor, self.pm_id, number, context.now())))
        if removed is not None:
            self._after_write(f"Incident #{number} removed.")

    # --- the timeline ------------------------------------------------------------------------

    def _choose(self, key: str, kept: bool, note: str) -> bool:
        done = self._act(lambda actor: _write(lambda s: service.choose(
            s.connection(), actor, self.pm_id, key, kept, note.strip() or None,
            context.now())) or True)
        return bool(done)

    def _entry(self, key: str) -> dict[str, str] | None:
        return next((e for e in self._entries if e["key"] == key), None)

    @rx.event
    def set_kept(self, key: str, kept: bool) -> None:
        entry = self._entry(key)
        if entry is None:
            self.error = "That event is no longer on the timeline."
            return
        if self._choose(key, bool(kept), self._notes.get(key, entry["saved_note"])):
            self._notes.pop(key, None)
            self._after_write()

    @rx.event
    def set_note(self, key: str, value: str) -> None:
        if self._entry(key) is None:
            return
        self._notes = {**self._notes, key: value}
        self._show_timeline()

    @rx.event
    def save_note(self, key: str, value: str | None = None) -> None:
        entry = self._entry(key)
        if entry is None:
            return
        note = value if isinstance(value, str) else self._notes.get(key, entry["saved_note"])
        if note.strip() == entry["saved_note"]:
            self._notes = {k: v for k, v in self._notes.items() if k != key}
            self._show_timeline()
            return
        if self._choose(key, bool(entry["kept"]), note):
            self._notes = {k: v for k, v in self._notes.items() if k != key}
            self._after_write()

    @rx.event
    def set_kept_only(self, value: bool) -> None:
        self.kept_only = bool(value)
        self._show_timeline()

    # --- action items ------------------------------------------------------------------------

    @rx.event
    def set_item_field(self, field: str, value: str) -> None:
        if field in ITEM_FIELDS:
            self.item_form = {**self.item_form, field: value}

    @rx.event
    def add_item(self) -> None:
        form = dict(self.item_form)
        added = self._act(lambda actor: _write(lambda s: service.add_item(
            s.connection(), actor, self.pm_id, context.now(), title=form.get("title", ""),
            owner=form.get("owner", "").strip() or None, due_on=form.get("due") or None,
            url=form.get("url", "").strip() or None)))
        if added is not None:
            self.item_form = {}
            self._after_write("Action item added.")

    @rx.event
    def set_item_status(self, item_id: str, status: str) -> None:
        number = int(item_id)
        changed = self._act(lambda actor: _write(lambda s: service.update_item(
            s.connection(), actor, number, context.now(), status=status)))
        if changed is not None:
            self._after_write()

    @rx.event
    def edit_item(self, item_id: str) -> None:
        item = next((i for i in self.items if i["id"] == item_id), None)
        if item is None:
            return
        self.editing_item = item_id
        self.edit_form = {"title": item["title"], "owner": item["owner"], "due": item["due"],
                          "url": item["url"]}

    @rx.event
    def set_edit_field(self, field: str, value: str) -> None:
        if field in ITEM_FIELDS:
            self.edit_form = {**self.edit_form, field: value}

    @rx.event
    def cancel_edit(self) -> None:
        self.editing_item, self.edit_form = "", {}

    @rx.event
    def save_item(self) -> None:
        if not self.editing_item:
            return
        number, form = int(self.editing_item), dict(self.edit_form)
        changed = self._act(lambda actor: _write(lambda s: service.update_item(
            s.connection(), actor, number, context.now(), title=form.get("title", ""),
            owner=form.get("owner", "").strip(), due_on=form.get("due", ""),
            url=form.get("url", "").strip())))
        if changed is not None:
            self.editing_item, self.edit_form = "", {}
            self._after_write("Action item saved." if changed else "")

    @rx.event
    def delete_item(self, item_id: str) -> None:
        number = int(item_id)
        done = self._act(lambda actor: _write(lambda s: service.delete_item(
            s.connection(), actor, number, context.now())) or True)
        if done:
            self._after_write("Action item deleted.")

    # --- export ------------------------------------------------------------------------------

    @rx.event
    def download_markdown(self) -> Any:
        """The Markdown file of what is saved, pending edits saved first."""
        self._save()
        if self.conflict:
            self.error = "Someone else saved meanwhile: choose a version before downloading."
            return None
        found = self._act(lambda actor: _view(actor, self.pm_id))
        if found is None:
            return None
        return rx.download(data=export.markdown(found), filename=export.filename(found),
                           mime_type="text/markdown")


# --- the incident page's way in -----------------------------------------------------------------


def open_for_incident(actor: Actor, incident_id: int) -> service.Opened:
    """The incident's postmortem, opened now unless it has one."""
    return _write(lambda s: service.open_postmortem(
        s.connection(), context.config(s), actor, [incident_id], context.now()))


class IncidentPostmortemsMixin(rx.State, mixin=True):
    """The postmortems reviewing an incident, and the button that opens one, for its page."""

    postmortems: list[dict[str, str]] = []  # noqa: RUF012
    can_open_postmortem: bool = False

    if TYPE_CHECKING:  # provided by SessionState and IncidentState
        incident_id: int

        def _remembered_actor(self) -> Actor | None: ...

        def _act(self, action: Callable[[Actor], T]) -> T | None: ...

    def _show_postmortems(self, team: str) -> None:
        actor = self._remembered_actor()
        with context.read_session() as session:
            found = queries.of_incident(session.connection(), self.incident_id)
        self.postmortems = [
            {"id": str(pm_id), "title": title, "status": _status_text(status)}
            for pm_id, title, status in found
            if actor is not None and access.may_read(actor, [team], status)]
        self.can_open_postmortem = actor is not None and access.may_edit(actor, [team])

    @rx.event
    def open_postmortem(self) -> Any:
        incident_id = self.incident_id
        opened = self._act(lambda actor: open_for_incident(actor, incident_id))
        if opened is None:
            return None
        return rx.redirect(f"/postmortems/{opened.id}")

