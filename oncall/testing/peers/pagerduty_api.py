"""A stand-in for PagerDuty's REST API v2 (https only, as PagerDuty's own client requires),
serving recorded responses the way the real API pages them.

Responses are the files of a saved account (`users.json`, `schedules/P1.json`, ...; see
docs/migrating.md) or the same held in a dict by path. Lists are paged by `offset`/`limit`
with `more`; a wrong token gets PagerDuty's 401 error body.

`render` is a reference of what PagerDuty renders as a schedule's final schedule, written from
PagerDuty's documented semantics minute by minute (no shortcut shared with our schedule engine),
for making recorded responses of generated accounts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from oncall.testing.peers.base import Peer, RecordedRequest, Reply

COLLECTIONS = ("users", "teams", "schedules", "escalation_policies", "services")
DEFAULT_LIMIT, MAX_LIMIT = 25, 100


def load_account(root: str | Path) -> dict[str, Any]:
    """Saved responses under `root`, by request path (`schedules/P1`)."""
    base = Path(root)
    return {p.relative_to(base).with_suffix("").as_posix(): json.loads(p.read_text())
            for p in sorted(base.rglob("*.json"))}


def save_account(responses: Mapping[str, Any], root: str | Path) -> None:
    for path, body in responses.items():
        file = Path(root) / f"{path}.json"
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(body, indent=2) + "\n")


def _error(status: int, message: str, code: int) -> Reply:
    return Reply.json({"error": {"message": message, "code": code}}, status=status)


class PagerDutyApiPeer(Peer):
    name = "pagerduty-api"

    def __init__(self, responses: Mapping[str, Any], token: str = "test-token",
                 host: str = "127.0.0.1", port: int = 0, tls: bool = True) -> None:
        super().__init__(host, port, tls=tls)
        self.responses = dict(responses)
        self.token = token

    def handle(self, request: RecordedRequest) -> Reply:
        if request.header("Authorization") != f"Token token={self.token}":
            return _error(401, "Unauthorized", 2006)
        if request.method != "GET":
            return _error(405, "Method Not Allowed", 2100)
        path = request.path.strip("/")
        if path in COLLECTIONS and path in self.responses:
            items = list(self.responses[path][path])
            query = {k: v[-1] for k, v in request.query.items()}
            offset = int(query.get("offset", 0))
            limit = min(int(query.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            page = items[offset:offset + limit]
            return Reply.json({path: page, "offset": offset, "limit": limit,
                               "more": offset + limit < len(items), "total": None})
        if path in self.responses:
            return Reply.json(self.responses[path])
        return _error(404, "Not Found", 2100)


# --- reference rendering --------------------------------------------------------------------


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _restricted_out(layer: Mapping[str, Any], local: datetime) -> bool:
    """True when the layer's restrictions leave `local` (wall-clock) uncovered."""
    restrictions = layer.get("restrictions") or []
    if not restrictions:
        return False
    minute_of_day = local.hour * 60 + local.minute
    minute_of_week = local.weekday() * 1440 + minute_of_day
    for r in restrictions:
        h, m, *_ = (int(p) for p in r["start_time_of_day"].split(":"))
        length = int(r["duration_seconds"]) // 60
        if r["type"] == "daily_restriction":
            if (minute_of_day - (h * 60 + m)) % 1440 < length:
                return False
        else:
            begin = (int(r["start_day_of_week"]) - 1) * 1440 + h * 60 + m
            if (minute_of_week - begin) % 10080 < length:
                return False
    return True


def _turn(layer: Mapping[str, Any], t: datetime, tz: ZoneInfo) -> int:
    """Which turn of the layer holds instant `t` (wall-clock handoffs for whole days)."""
    start = _instant(layer["rotation_virtual_start"])
    seconds = int(layer["rotation_turn_length_seconds"])
    if seconds % 86400:
        return int((t - start).total_seconds() // seconds)
    days = seconds // 86400
    first = start.astimezone(tz).replace(tzinfo=None)
    here = t.astimezone(tz).replace(tzinfo=None)
    # Handoffs are at the start's wall-clock time: count turns in wall-clock time.
    return (here - first) // timedelta(days=days)


def who(schedule: Mapping[str, Any], overrides: list[Mapping[str, Any]], t: datetime,
        tz: ZoneInfo) -> str | None:
    """The user id PagerDuty has on call at instant `t`."""
    for o in reversed(overrides):
        if _instant(o["start"]) <= t < _instant(o["end"]):
            return str(o["user"]["id"])
    layers = sorted(schedule["schedule_layers"], key=lambda x: -int(x["rendering_index"]))
    local = t.astimezone(tz).replace(tzinfo=None)
    for layer in layers:
        if t < _instant(layer["start"]) or (layer.get("end") and t >= _instant(layer["end"])):
            continue
        if _restricted_out(layer, local):
            continue
        users = layer["users"]
        return str(users[_turn(layer, t, tz) % len(users)]["user"]["id"])
    return None


def render(schedule: Mapping[str, Any], overrides: list[Mapping[str, Any]], since: datetime,
           until: datetime, users: Mapping[str, str], step: timedelta = timedelta(minutes=1)
           ) -> list[dict[str, Any]]:
    """`final_schedule.rendered_schedule_entries` over [since, until): consecutive time with
    the same person is one entry, times in the schedule's zone; `users` maps id -> name."""
    tz = ZoneInfo(schedule["time_zone"])
    entries: list[dict[str, Any]] = []
    t = since
    current: tuple[str | None, datetime] | None = None

    def close(end: datetime) -> None:
        if current is not None and current[0] is not None:
            uid = current[0]
            entries.append({
                "start": current[1].astimezone(tz).isoformat(),
                "end": end.astimezone(tz).isoformat(),
                "user": {"id": uid, "type": "user_reference", "summary": users.get(uid, uid),
                         "self": f"https://api.pagerduty.com/users/{uid}"}})

    while t < until:
        uid = who(schedule, overrides, t, tz)
        if current is None or current[0] != uid:
            close(t)
            current = (uid, t)
        t += step
    close(until)
    return entries


def utc(text: str) -> datetime:
    return _instant(text).astimezone(UTC)


# --- generated accounts ---------------------------------------------------------------------

SYNTHETIC_ZONES = ("America/New_York", "Europe/Berlin", "Etc/UTC", "Australia/Sydney",
                   "America/Los_Angeles")


def synthetic_account(schedules: int, users: int, services: int, since: datetime,
                      days: int) -> dict[str, Any]:
    """A large account's recorded responses: each schedule a weekly layer under a weekday
    business-hours daily layer with an override, in zones on whole-hour offsets; final
    schedules rendered hourly (every handoff is on the hour) over `[since, since + days)`."""
    until = since + timedelta(days=days)
    team_count = max(1, schedules // 4)
    people: list[dict[str, Any]] = [{"id": f"PU{i:05d}", "type": "user", "name": f"Person {i}",
               "email": f"person{i}@corp.example", "role": "user",
               "teams": [{"id": f"PT{i % team_count:04d}", "type": "team_reference"}]}
              for i in range(users)]
    names: dict[str, str] = {p["id"]: p["name"] for p in people}
    out: dict[str, Any] = {
        "users": {"users": people, "more": False},
        "teams": {"teams": [{"id": f"PT{t:04d}", "type": "team", "name": f"Team {t}"}
                            for t in range(team_count)], "more": False},
    }
    listed: list[dict[str, Any]] = []
    for s in range(schedules):
        team = s % team_count
        crew: list[str] = [p["id"] for p in people if int(p["teams"][0]["id"][2:]) == team][:6]
        tz = SYNTHETIC_ZONES[s % len(SYNTHETIC_ZONES)]
        zone = ZoneInfo(tz)
        week0 = datetime(2026, 1, 5, 9, tzinfo=zone).isoformat()
        day0 = datetime(2026, 1, 1, 9, tzinfo=zone).isoformat()

        def users_of(ids: list[str]) -> list[dict[str, Any]]:
            return [{"user": {"id": u, "type": "user_reference"}} for u in ids]

        layers = [
            {"id": f"PL{s:04d}B", "name": "Business hours", "rendering_index": 2,
             "start": day0, "end": None, "rotation_virtual_start": day0,
             "rotation_turn_length_seconds": 86400, "users": users_of(crew[1::2] or crew),
             "restrictions": [{"type": "weekly_restriction", "start_day_of_week": d,
                               "start_time_of_day": "09:00:00", "duration_seconds": 28800}
                              for d in range(1, 6)]},
            {"id": f"PL{s:04d}W", "name": "Weekly", "rendering_index": 1, "start": week0,
             "end": None, "rotation_virtual_start": week0,
             "rotation_turn_length_seconds": 7 * 86400, "users": users_of(crew),
             "restrictions": []},
        ]
        o_start = (since + timedelta(days=3 + s % 7)).replace(minute=0, second=0)
        overrides: list[Mapping[str, Any]] = [{"id": f"PO{s:04d}", "start": o_start.isoformat(),
                      "end": (o_start + timedelta(hours=6)).isoformat(),
                      "user": {"id": crew[-1], "type": "user_reference"}}]
        schedule: dict[str, Any] = {"id": f"PS{s:04d}", "type": "schedule", "name": f"Schedule {s}",
                    "time_zone": tz, "teams": [{"id": f"PT{team:04d}"}],
                    "schedule_layers": layers}
        schedule["final_schedule"] = {"name": "Final Schedule", "rendered_schedule_entries":
                                      render(schedule, overrides, since, until, names,
                                             step=timedelta(hours=1))}
        out[f"schedules/PS{s:04d}"] = {"schedule": schedule, "since": since.isoformat(),
                                       "until": until.isoformat()}
        out[f"schedules/PS{s:04d}/overrides"] = {"overrides": overrides}
        listed.append({"id": f"PS{s:04d}", "type": "schedule", "name": f"Schedule {s}"})
    out["schedules"] = {"schedules": listed, "more": False}
    out["escalation_policies"] = {"escalation_policies": [
        {"id": f"PE{s:04d}", "name": f"Policy {s}", "num_loops": 1, "teams": [],
         "escalation_rules": [{"escalation_delay_in_minutes": 10, "targets": [
             {"id": f"PS{s:04d}", "type": "schedule_reference"}]}]}
        for s in range(schedules)], "more": False}
    out["services"] = {"services": [
        {"id": f"PV{v:04d}", "name": f"Service {v}", "status": "active",
         "escalation_policy": {"id": f"PE{v % schedules:04d}"}, "teams": [],
         "incident_urgency_rule": {"type": "constant", "urgency": "high"},
         "integrations": [{"id": f"PI{v:04d}", "type": "events_api_v2_inbound_integration",
                           "name": "Events", "integration_key": f"{v:032x}"}]}
        for v in range(services)], "more": False}
    return out
