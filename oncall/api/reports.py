"""On-call health reports over the REST API: each table of the report, as JSON or CSV.

`GET /api/v1/reports/{name}?team=&service=&since=&until=&format=json|csv`, `name` being the
table. Every valid API key may read reports: they hold counts, durations and people's
addresses, no incident text. The key is checked first, so an anonymous caller learns nothing
about teams or services from the answers; a bad parameter is a 400 naming it. The report is
computed in the thread pool, never on the event loop. docs/reports.md says how each figure is
computed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from oncall.api import problems
from oncall.api.app import ApiContext
from oncall.api.openapi import UNAVAILABLE, problem
from oncall.api.rest import Problem, authenticate, run
from oncall.api.routing import Operation, bind
from oncall.core.reports import BadPeriod, Period, parse_period
from oncall.reports.service import TABLES, Filter, UnknownFilter, build, csv_of, table

BASE = "/api/v1/reports"
FORMATS = ("json", "csv")
MAX_NAME = 255


def _bad(request: Request, param: str, reason: str) -> Problem:
    return Problem(problems.problem(400, f"{param}: {reason}", instance=request.url.path,
                                    invalid_params=((param, reason),)))


def _name(request: Request, param: str) -> str | None:
    raw = request.query_params.get(param)
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if len(value) > MAX_NAME or "\x00" in value:
        raise _bad(request, param, f"expected a name of at most {MAX_NAME} characters")
    return value


def _query(request: Request, now: datetime) -> tuple[str, Filter, Period, str]:
    """(table, filter, period, format) from the path and query, or a 400/404 problem."""
    name = str(request.path_params["name"])
    if name not in TABLES:
        raise Problem(problems.problem(
            404, f"no report table {name!r}: expected one of {', '.join(TABLES)}",
            instance=request.url.path))
    fmt = (request.query_params.get("format") or "json").strip().lower()
    if fmt not in FORMATS:
        raise _bad(request, "format", "expected json or csv")
    flt = Filter(team=_name(request, "team"), service=_name(request, "service"))
    try:
        period = parse_period(request.query_params.get("since"),
                              request.query_params.get("until"), now)
    except BadPeriod as exc:
        raise _bad(request, exc.param, exc.reason) from None
    return name, flt, period, fmt


async def show(ctx: ApiContext, request: Request) -> Response:
    """One table of the report for the query's filter and period."""
    now = ctx.clock()

    def work() -> Response:
        with Session(ctx.engine) as session, session.begin():
            authenticate(session, request, now)
            name, flt, period, fmt = _query(request, now)
            try:
                report = build(session, ctx.config(session), flt, period)
            except UnknownFilter as exc:
                raise _bad(request, exc.param, exc.reason) from None
        if fmt == "csv":
            filename = f"oncall-{name}-{period.since:%Y%m%d}-{period.until:%Y%m%d}.csv"
            return Response(csv_of(report, name), media_type="text/csv; charset=utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{filename}"'})
        found = table(report, name)
        body: dict[str, Any] = {
            "table": name,
            "team": flt.team,
            "service": flt.service,
            "since": period.since.isoformat(),
            "until": period.until.isoformat(),
            "services": list(report.services),
            "schedules": list(report.schedules),
            "columns": list(found.columns),
            "rows": found.records(),
        }
        return JSONResponse(body)

    return await run(ctx, request, work)


_NAME = {"type": "string", "maxLength": MAX_NAME}
_WHEN = {"type": "string", "description": "ISO date (a whole UTC day) or datetime; without an "
                                          "offset, UTC"}

SHOW: Operation = {
    "operationId": "getReportTable",
    "summary": "One table of the on-call health report",
    "description": (
        "Incidents triggered and pages sent in [since, until) (default: the 30 days before "
        "now), for the services of `team` and/or the one `service` (default: everything). "
        "Tables: summary (incidents, MTTA and MTTR median and p90 in seconds with how many "
        "incidents each is over, pages, night pages, uncovered hours), priorities (incidents "
        "per priority P1-P5 and none), people (pages per person and channel, night pages in "
        "the person's own time zone), oncall (hours on call per person from the schedules, "
        "overrides included). See docs/reports.md."),
    "tags": ["reports"],
    "parameters": [
        {"name": "name", "in": "path", "required": True, "description": "The table",
         "schema": {"enum": list(TABLES)}},
        {"name": "team", "in": "query", "schema": _NAME},
        {"name": "service", "in": "query", "schema": _NAME},
        {"name": "since", "in": "query", "schema": _WHEN},
        {"name": "until", "in": "query", "schema": _WHEN},
        {"name": "format", "in": "query", "schema": {"enum": list(FORMATS), "default": "json"}},
    ],
    "responses": {
        "200": {
            "description": "The table",
            "content": {
                "application/json": {"schema": {
                    "type": "object",
                    "required": ["table", "since", "until", "columns", "rows"],
                    "properties": {
                        "table": {"enum": list(TABLES)},
                        "team": {"type": ["string", "null"]},
                        "service": {"type": ["string", "null"]},
                        "since": {"type": "string", "format": "date-time"},
                        "until": {"type": "string", "format": "date-time"},
                        "services": {"type": "array", "items": {"type": "string"}},
                        "schedules": {"type": "array", "items": {"type": "string"}},
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "rows": {"type": "array", "items": {"type": "object"}},
                    },
                }},
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        "400": problem("A parameter is invalid (a date, an unknown team or service); "
                       "invalid-params names it"),
        "401": problem("Missing or invalid API key"),
        "404": problem("No such table"),
        "503": UNAVAILABLE,
    },
}


def openapi_paths() -> dict[str, Any]:
    return {BASE + "/{name}": {"get": SHOW}}


def routes(ctx: ApiContext) -> list[BaseRoute]:
    return [Route(BASE + "/{name}", bind(show, ctx), methods=["GET"], name="report-table")]
