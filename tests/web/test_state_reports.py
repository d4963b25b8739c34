"""The reports page's handlers: signed-in only, pickers, figures and CSV downloads."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, update

from oncall.db.engine import write_session
from oncall.db.models import IncidentRow
from oncall.web.state.reports import CUSTOM, EVERYTHING, ReportsState

from .conftest import NOW, OBSERVER, call


def earlier(web: Engine) -> None:
    """The incidents opened at NOW, moved an hour back: a period ends before its `until`."""
    with write_session(web) as session:
        session.execute(update(IncidentRow).values(triggered_at=NOW - timedelta(hours=1)))


def test_signed_out_sees_nothing(state: Callable[..., Any],
                                 incident: Callable[..., int]) -> None:
    incident("Checkout errors", "storefront-web")
    s: ReportsState = state(ReportsState, None, "/reports")
    result = call(s, "load")
    assert "/login" in str(result)
    assert s.figures == {} and s.priorities == []
    assert "/login" in str(call(s, "download", "summary"))


def test_figures_pickers_and_csv(state: Callable[..., Any], incident: Callable[..., int],
                                 web: Engine) -> None:
    incident("Checkout errors", "storefront-web")
    incident("Search slow", "search-api")
    earlier(web)
    s: ReportsState = state(ReportsState, OBSERVER, "/reports")
    call(s, "load")
    assert s.figures["incidents"] == "2" and "storefront" in s.teams
    call(s, "set_team", "payments")
    assert s.figures["incidents"] == "0"
    assert s.services == [EVERYTHING, "checkout-api", "payment-gateway", "payments-db"]
    assert s.figures["schedules"] == "payments-primary, payments-secondary"
    assert sum(r["hours"] for r in s.oncall) >= 30 * 24  # the primary is never uncovered
    call(s, "set_team", "storefront")
    call(s, "set_service", "search-api")
    assert s.figures["incidents"] == "1"
    assert {r["priority"]: r["incidents"] for r in s.priorities}["P2"] == 1

    args = {k._js_expr: v._var_value for k, v in call(s, "download", "priorities").args}
    assert args["filename"] == "oncall-priorities-search-api-20260208-20260310.csv"
    kind, _, data = args["url"].partition(";base64,")
    assert kind == "data:text/csv"
    assert base64.b64decode(data).decode().startswith("priority,incidents\r\nP1,0\r\nP2,1\r\n")

    call(s, "set_period", CUSTOM)
    call(s, "set_since", "2026-03-20")
    call(s, "set_until", "2026-03-01")
    call(s, "apply_dates")
    assert s.error == "until: must be after since" and s.figures == {}
