"""A change made in the web app wakes the worker, as a change from any other face does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oncall.web.state.incident import IncidentState

from .conftest import RESPONDER, FakeQueue, call


def test_acknowledge_from_the_web_app_wakes_the_worker(
    state: Callable[..., Any], incident: Callable[..., int], queue: FakeQueue
) -> None:
    iid = incident()
    s: IncidentState = state(IncidentState, RESPONDER, f"/incidents/{iid}",
                             {"incident_id": str(iid)})
    call(s, "load")
    assert queue.wakes == 0
    call(s, "acknowledge", iid)
    assert s.incident["status"] == "acknowledged"
    assert queue.wakes == 1


def test_resolve_and_note_wake_the_worker(
    state: Callable[..., Any], incident: Callable[..., int], queue: FakeQueue
) -> None:
    iid = incident()
    s: IncidentState = state(IncidentState, RESPONDER, f"/incidents/{iid}",
                             {"incident_id": str(iid)})
    call(s, "load")
    call(s, "open_dialog", "resolve", iid)
    call(s, "set_dialog_text", "pods restarted")
    call(s, "submit_dialog")
    assert s.incident["status"] == "resolved"
    assert queue.wakes == 1
