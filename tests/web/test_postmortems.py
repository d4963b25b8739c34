"""Postmortems in the web app: opening one from an incident, the editor's autosave and its
conflict warning, the timeline choices, action items, who reads and who edits, and the two
take-away routes (printable page, Markdown file)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from oncall.db.engine import write_session
from oncall.db.models import ActionItemRow, AuditEventRow, PostmortemRow
from oncall.web import auth, routes
from oncall.web.state.incident import IncidentState
from oncall.web.state.postmortems import PostmortemsState, PostmortemState

from .conftest import ADMIN, NOW, OBSERVER, RESPONDER, call

OUTSIDER = "marcus.bell@northwind.example"  # a payments responder: no part of storefront's
SCRIPT = "<script>alert('owned')</script>"


def _opened(state: Callable[..., Any], incident_id: int, who: str = RESPONDER) -> int:
    """Open the incident's postmortem with the incident page's button; its id."""
    page: IncidentState = state(IncidentState, who, f"/incidents/{incident_id}",
                                {"incident_id": str(incident_id)})
    call(page, "load")
    result = call(page, "open_postmortem")
    assert page.error == "", page.error
    path = str(result)
    assert "/postmortems/" in path, path
    return int(path.split("/postmortems/")[1].split('"')[0].split("\\")[0])


def _editor(state: Callable[..., Any], who: str | None, pm_id: int) -> PostmortemState:
    s: PostmortemState = state(PostmortemState, who, f"/postmortems/{pm_id}", {"id": str(pm_id)})
    call(s, "load")
    return s


def _row(web: Engine, pm_id: int) -> PostmortemRow:
    with write_session(web) as session:
        row = session.get(PostmortemRow, pm_id)
        assert row is not None
        session.expunge(row)
        return row


def _events(web: Engine, type: str) -> int:
    with web.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(AuditEventRow)
                               .where(AuditEventRow.type == type)) or 0)


def test_the_incident_page_opens_one_postmortem_and_lists_it(
        state: Callable[..., Any], incident: Callable[..., int]) -> None:
    iid = incident("Checkout errors")
    pm_id = _opened(state, iid)
    assert _opened(state, iid, ADMIN) == pm_id  # a second click goes to the same one
    page: IncidentState = state(IncidentState, RESPONDER, f"/incidents/{iid}",
                                {"incident_id": str(iid)})
    call(page, "load")
    assert page.can_open_postmortem
    assert page.postmortems == [{"id": str(pm_id), "title": "Checkout errors",
                                 "status": "Draft"}]
    observer: IncidentState = state(IncidentState, OBSERVER, f"/incidents/{iid}",
                                    {"incident_id": str(iid)})
    call(observer, "load")
    assert not observer.can_open_postmortem and observer.postmortems  # reads, cannot open
    outsider: IncidentState = state(IncidentState, OUTSIDER, f"/incidents/{iid}",
                                    {"incident_id": str(iid)})
    call(outsider, "load")
    assert outsider.postmortems == []  # a draft of another team is not even named
    assert call(outsider, "open_postmortem") is None and "not a responder" in outsider.error


def test_the_editor_shows_the_postmortem_and_autosaves_the_fields(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    s = _editor(state, RESPONDER, pm_id)
    assert s.found and s.can_edit and s.version == 1
    assert s.draft["title"] == "Checkout errors" and s.draft["status"] == "draft"
    assert s.draft["owner"] == RESPONDER and s.draft["body"].startswith("## ")
    assert [i["id"] for i in s.incidents] == [str(s.incidents[0]["id"])]
    assert [f["name"] for f in s.figures] == ["Time to acknowledge", "Time to resolve",
                                              "People paged", "Pages per channel",
                                              "Pages at night"]
    assert s.timeline and all(e["key"] for e in s.timeline)

    call(s, "set_draft", "body", "## Summary\n\nThe **cache** expired.")
    call(s, "set_draft", "severity", "P1")
    assert s.dirty and s.saved_text == "Unsaved changes"
    assert "<strong>" not in s.preview and "**cache**" in s.preview  # Markdown, shown as such
    call(s, "autosave")
    assert s.error == "" and not s.dirty and s.version == 2
    assert s.saved_text.startswith("Saved at")
    row = _row(web, pm_id)
    assert row.body == "## Summary\n\nThe **cache** expired." and row.severity == "P1"

    call(s, "set_draft", "status", "published")
    call(s, "autosave")
    assert _row(web, pm_id).status == "published" and s.meta["status_text"] == "Published"
    call(s, "set_draft", "status", "draft")  # and back
    call(s, "autosave")
    assert _row(web, pm_id).status == "draft" and _row(web, pm_id).published_at is None


def test_a_save_on_an_old_version_shows_who_saved_and_writes_nothing(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    mine = _editor(state, RESPONDER, pm_id)
    theirs = _editor(state, ADMIN, pm_id)
    call(theirs, "set_draft", "body", "Lena's words")
    call(theirs, "autosave")
    assert theirs.version == 2
    updates = _events(web, "postmortem.updated")

    call(mine, "set_draft", "body", "Samuel's words")
    call(mine, "autosave")
    assert mine.conflict == {"who": "Lena Fischer", "at": NOW.strftime("%H:%M"),
                             "version": "2"}
    assert mine.dirty and mine.draft["body"] == "Samuel's words"
    assert _row(web, pm_id).body == "Lena's words" and _row(web, pm_id).version == 2
    assert _events(web, "postmortem.updated") == updates
    call(mine, "autosave")  # no silent retry while the warning stands
    assert _row(web, pm_id).body == "Lena's words"

    call(mine, "keep_mine")
    assert mine.conflict == {} and not mine.dirty and mine.version == 3
    assert _row(web, pm_id).body == "Samuel's words"


def test_loading_their_version_drops_the_pending_edit(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    mine = _editor(state, RESPONDER, pm_id)
    theirs = _editor(state, ADMIN, pm_id)
    call(theirs, "set_draft", "title", "Checkout errors after the deploy")
    call(theirs, "autosave")
    call(mine, "set_draft", "body", "mine")
    call(mine, "autosave")
    assert mine.conflict
    call(mine, "load_theirs")
    assert mine.conflict == {} and not mine.dirty and mine.version == 2
    assert mine.draft["title"] == "Checkout errors after the deploy"
    assert mine.draft["body"] == _row(web, pm_id).body != "mine"


def test_a_live_refresh_warns_before_the_autosave_and_follows_when_nothing_is_pending(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    idle = _editor(state, OBSERVER, pm_id)
    mine = _editor(state, RESPONDER, pm_id)
    theirs = _editor(state, ADMIN, pm_id)
    call(mine, "set_draft", "body", "typing")
    call(theirs, "set_draft", "body", "saved first")
    call(theirs, "autosave")
    mine._refresh()
    idle._refresh()
    assert mine.conflict["who"] == "Lena Fischer" and mine.draft["body"] == "typing"
    assert idle.conflict == {} and idle.draft["body"] == "saved first"


def test_keeping_and_dropping_timeline_events_with_notes(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    s = _editor(state, RESPONDER, pm_id)
    opened = next(e for e in s.timeline if e["text"].startswith("Incident opened"))
    joined = next(e for e in s.timeline if e["text"].startswith("Alert joined"))
    assert opened["kept"] == "yes" and joined["kept"] == ""
    call(s, "set_kept", opened["key"], False)
    call(s, "set_kept", joined["key"], True)
    call(s, "set_note", joined["key"], "the first sign")
    call(s, "save_note", joined["key"], "the first sign")
    assert s.error == ""
    shown = {e["key"]: e for e in s.timeline}
    assert shown[opened["key"]]["kept"] == "" and shown[joined["key"]]["kept"] == "yes"
    assert shown[joined["key"]]["note"] == "the first sign"
    call(s, "set_kept_only", True)
    assert joined["key"] in [e["key"] for e in s.timeline]
    assert opened["key"] not in [e["key"] for e in s.timeline]
    assert len(s.timeline) == s.kept_count < s.entry_count
    again = _editor(state, ADMIN, pm_id)  # saved for everyone
    kept = {e["key"]: (e["kept"], e["note"]) for e in again.timeline}
    assert kept[joined["key"]] == ("yes", "the first sign")
    assert kept[opened["key"]] == ("", "")


def test_linking_and_unlinking_incidents(
        state: Callable[..., Any], incident: Callable[..., int]) -> None:
    first = incident("Checkout errors")
    second = incident("Catalog down", "catalog-api")
    pm_id = _opened(state, first)
    s = _editor(state, RESPONDER, pm_id)
    call(s, "set_new_incident", f"#{second}")
    call(s, "link_incident")
    assert s.error == "" and [i["id"] for i in s.incidents] == [str(first), str(second)]
    call(s, "unlink_incident", str(first))
    assert [i["id"] for i in s.incidents] == [str(second)]
    call(s, "unlink_incident", str(second))
    assert "at least one incident" in s.error
    call(s, "set_new_incident", "nine")
    call(s, "link_incident")
    assert "incident number" in s.error


def test_action_items_added_changed_deleted_and_listed_across_postmortems(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    s = _editor(state, RESPONDER, pm_id)
    for field, value in (("title", "Alert on cache expiry"), ("owner", ADMIN),
                         ("due", (NOW - timedelta(days=1)).date().isoformat()),
                         ("url", "https://tickets.example/OPS-1")):
        call(s, "set_item_field", field, value)
    call(s, "add_item")
    assert s.error == "" and s.item_form == {}
    (item,) = s.items
    assert item["title"] == "Alert on cache expiry" and item["owner"] == ADMIN
    assert item["overdue"] == "yes" and item["safe_url"] == "https://tickets.example/OPS-1"

    call(s, "edit_item", item["id"])
    call(s, "set_edit_field", "title", "Alert on cache expiry, per region")
    call(s, "set_edit_field", "due", "")
    call(s, "save_item")
    (item,) = s.items
    assert item["title"] == "Alert on cache expiry, per region" and item["due"] == ""
    assert item["overdue"] == "" and s.editing_item == ""
    call(s, "set_item_field", "title", "Runbook for the cache")
    call(s, "set_item_field", "url", "javascript:alert(1)")
    call(s, "add_item")
    assert "https://" in s.error and len(s.items) == 1

    listing: PostmortemsState = state(PostmortemsState, RESPONDER, "/postmortems")
    call(listing, "load")
    (row,) = listing.rows
    assert row["id"] == str(pm_id) and row["open_items"] == "1" and row["teams"] == "storefront"
    assert [i["title"] for i in listing.items] == ["Alert on cache expiry, per region"]
    call(listing, "set_item_owner", RESPONDER)
    assert listing.items == []
    call(listing, "set_item_owner", ADMIN.upper())
    assert len(listing.items) == 1
    call(listing, "set_item_team", "payments")
    assert listing.items == []
    call(listing, "set_item_team", "storefront")
    call(listing, "set_status_filter", "published")
    assert listing.rows == [] and len(listing.items) == 1
    outsider: PostmortemsState = state(PostmortemsState, OUTSIDER, "/postmortems")
    call(outsider, "load")
    assert outsider.rows == [] and outsider.items == []  # a draft of another team

    call(s, "set_item_status", item["id"], "done")
    assert s.items[0]["status"] == "done"
    call(listing, "load")
    assert listing.items == []
    call(s, "delete_item", item["id"])
    assert s.items == []
    with web.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ActionItemRow)) == 0


def test_a_reader_who_may_not_edit_sees_it_read_only_and_changes_nothing(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    s = _editor(state, OBSERVER, pm_id)
    assert s.found and not s.can_edit
    call(s, "set_draft", "body", "mine now")
    assert not s.dirty and s.draft["body"] != "mine now"
    call(s, "autosave")
    call(s, "set_item_field", "title", "Something")
    call(s, "add_item")
    assert "not a responder" in s.error
    call(s, "set_kept", s.timeline[0]["key"], False)
    assert "not a responder" in s.error
    row = _row(web, pm_id)
    assert row.version == 1 and row.body != "mine now"
    assert _events(web, "postmortem.timeline_chosen") == 0
    assert _events(web, "postmortem.action_item_added") == 0


def test_unknown_and_unreadable_postmortems_are_not_found(
        state: Callable[..., Any], incident: Callable[..., int]) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    outsider = _editor(state, OUTSIDER, pm_id)
    assert not outsider.found and outsider.draft == {} and outsider.timeline == []
    call(outsider, "set_item_field", "title", "x")
    call(outsider, "add_item")
    assert outsider.error and outsider.items == []
    assert call(outsider, "download_markdown") is None
    unknown = _editor(state, RESPONDER, 9999)
    assert not unknown.found and unknown.meta == {}


def test_an_anonymous_browser_gets_nothing(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    s = _editor(state, None, pm_id)
    assert not s.found and s.draft == {} and s.timeline == []
    for handler, args in (("download_markdown", ()), ("autosave", ()),
                          ("set_kept", ("event:1", False)), ("add_item", ())):
        assert "/login?next=" in str(call(s, handler, *args))
    listing: PostmortemsState = state(PostmortemsState, None, "/postmortems")
    assert "/login?next=" in str(call(listing, "load"))
    assert listing.rows == [] and listing.items == []


def test_download_markdown_gives_the_saved_document(
        state: Callable[..., Any], incident: Callable[..., int]) -> None:
    pm_id = _opened(state, incident("Checkout errors"))
    s = _editor(state, OBSERVER, pm_id)
    event = call(s, "download_markdown")
    rendered = str(event)
    assert f"postmortem-{pm_id}-checkout-errors.md" in rendered
    encoded = rendered.split("data:text/markdown;base64,")[1].split('"')[0].split("\\")[0]
    text = base64.b64decode(encoded).decode()
    assert text.startswith("# Checkout errors\n") and "## Timeline" in text


# --- the routes ---------------------------------------------------------------------------------


@pytest.fixture
def client(web: Engine) -> TestClient:
    return TestClient(routes.router(), base_url="http://testserver", follow_redirects=False)


def _get(client: TestClient, path: str, token: str | None) -> Any:
    client.cookies.clear()
    if token:
        client.cookies.set(auth.SESSION_COOKIE, token)
    return client.get(path)


def test_the_printable_page_and_markdown_file_need_a_reader(
        state: Callable[..., Any], incident: Callable[..., int], web: Engine,
        client: TestClient, sign_in: Callable[[str], str]) -> None:
    iid = incident("Checkout errors")
    pm_id = _opened(state, iid)
    editor = _editor(state, RESPONDER, pm_id)
    call(editor, "set_draft", "title", f"Checkout {SCRIPT}")
    call(editor, "set_draft", "body", f"## Summary\n\n{SCRIPT}\n\n[click](javascript:alert(1))")
    assert "<script>" not in editor.preview and "\\<script\\>" in editor.preview  # as text
    call(editor, "autosave")
    assert editor.error == "" and not editor.dirty
    assert "<script>" not in editor.preview
    reader, outsider = sign_in(OBSERVER), sign_in(OUTSIDER)
    for suffix in ("print", "export.md"):
        path = f"/postmortems/{pm_id}/{suffix}"
        anonymous = _get(client, path, None)
        assert anonymous.status_code == 403 and "Checkout" not in anonymous.text
        refused = _get(client, path, outsider)
        assert refused.status_code == 404 and "Checkout" not in refused.text
        assert _get(client, f"/postmortems/9999/{suffix}", reader).status_code == 404

    page = _get(client, f"/postmortems/{pm_id}/print", reader)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text.lower() and "href=\"javascript:" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "private, no-store"

    md = _get(client, f"/postmortems/{pm_id}/export.md", reader)
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    disposition = md.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"postmortem-{pm_id}-checkout" in disposition
    assert md.text.startswith(f"# Checkout {SCRIPT}\n")  # the file holds what was typed
    assert f"#{iid} Checkout errors" in md.text

