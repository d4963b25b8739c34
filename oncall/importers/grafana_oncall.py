"""Grafana OnCall → our config: teams, schedules, escalation chains, integrations.

Grafana OnCall's public API (`/api/v1/...`, `Authorization: <token>`, lists paged by `next`
links) is read as its own clients read it. What decides the mapping:

- A schedule's on-call shifts (`on_call_shifts`) are recurring events of a `duration`; where
  they overlap the higher `level` wins, overrides win over all. Shifts become layers ordered by
  level (ours: a later layer wins); an event shorter than its period becomes the layer's
  `restrictions`; a daily shift limited to some weekdays (`by_day`) turns only on those days,
  which is an `rrule` rotation.
- An integration sends its alerts through its routes to escalation chains. What is paged is
  the chain, so each (team, escalation chain) of an integration's default route becomes one
  Service with that chain as its policy, and each integration an Integration of that service;
  routes with a regex are reported (they become RoutingRules written by hand).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from oncall.config.models import (
    EscalationPolicy,
    Integration,
    Schedule,
    Service,
    Team,
)
from oncall.config.types import zone as time_zone
from oncall.importers.base import (
    HttpSource,
    Imported,
    ImportFailed,
    Reader,
    Source,
    ssl_context,
)
from oncall.importers.names import env_name, slug
from oncall.importers.opsgenie import (
    DAY_MINUTES,
    WEEK_MINUTES,
    flatten,
    local,
    parse_instant,
    week_restrictions,
)

VENDOR = "grafana-oncall"
TOKEN_ENV = "GRAFANA_ONCALL_API_TOKEN"
DEFAULT_URL: str | None = None

API = "api/v1"
REPEATS = 5
"""Grafana OnCall's `repeat_escalation` step runs the chain again at most five times."""
LAST_STEP_TIMEOUT = 30
_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_INTEGRATION_TYPES = {"alertmanager": "alertmanager", "grafana": "grafana",
                      "grafana_alerting": "grafana", "webhook": "generic",
                      "formatted_webhook": "generic"}


def live_source(api_url: str, token: str, environ: Mapping[str, str]) -> Source:
    """The OnCall API URL shown on Grafana OnCall's settings page, the token as its clients
    send it (`Authorization: <token>`, no scheme word), TLS verified. A Grafana service
    account token also needs the stack's address: `GRAFANA_URL`, sent as `X-Grafana-URL`."""
    if not api_url.startswith("https://"):
        raise ImportFailed(f"{api_url}: Grafana OnCall is only spoken over https")
    headers = {"Authorization": token}
    if environ.get("GRAFANA_URL"):
        headers["X-Grafana-URL"] = environ["GRAFANA_URL"]
    return HttpSource(api_url, headers, ssl_context(environ))


def _pages(source: Source, path: str, params: Mapping[str, str | int] | None = None
           ) -> Iterator[dict[str, Any]]:
    """Every item of a list, following `next` links (saved files hold one page)."""
    seen: set[str] = set()
    query: Mapping[str, str | int] | None = params
    while True:
        page = source.get(path, query)
        items = [item for item in page.get("results") or []
                 if str(item.get("id", id(item))) not in seen]
        yield from items
        seen.update(str(item.get("id", id(item))) for item in items)
        link = page.get("next")
        if not link or not items:
            return
        parts = urlsplit(link)
        at = parts.path.find(f"/{API}/")
        path = parts.path[at + 1:] if at >= 0 else parts.path.lstrip("/")
        query = dict(parse_qsl(parts.query))


def _has_dst(zone: ZoneInfo, year: int) -> bool:
    return datetime(year, 1, 1, tzinfo=zone).utcoffset() != datetime(year, 7, 1,
                                                                     tzinfo=zone).utcoffset()


def _naive(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=None)


def _fmt(value: datetime) -> str:
    return value.isoformat(timespec="seconds" if value.second else "minutes")


class _Reader(Reader):
    LABELS = ("name", "email")

    def __init__(self, source: Source, since: datetime | None, days: int | None) -> None:
        super().__init__(VENDOR, source, since, days)
        self.emails: dict[str, str] = {}
        self.teams: dict[str, str] = {}
        self.default_team: str | None = None
        self.fallback: list[dict[str, str]] = []
        self.schedules: dict[str, str] = {}
        self.policies: dict[str, str] = {}
        self.services: dict[tuple[str, str | None], str] = {}


    def team_of(self, team_id: object) -> str:
        team = self.teams.get(str(team_id)) if team_id else None
        return self.make_default_team() if team is None else team

    def read(self) -> Imported:
        self.read_teams()
        self.read_schedules()
        self.read_chains()
        self.read_integrations()
        self.out.objects.sort(key=lambda o: ("Team", "Schedule", "EscalationPolicy", "Service",
                                             "Integration").index(type(o).KIND))
        return self.out

    def read_teams(self) -> None:
        users = list(_pages(self.source, f"{API}/users/"))
        roles = {"admin": "admin", "viewer": "observer"}
        grafana_teams = list(_pages(self.source, f"{API}/teams/"))
        by_team: dict[str, list[dict[str, str]]] = {str(t["id"]): [] for t in grafana_teams}
        loose: list[dict[str, str]] = []
        for user in users:
            email = str(user.get("email") or "").lower()
            if "@" not in email:
                self.unmapped("user", user, "no email address")
                continue
            self.emails[str(user["id"])] = email
            member = {"email": email, "role": roles.get(str(user.get("role")), "responder")}
            homes = [t for t in user.get("teams") or [] if str(t) in by_team]
            for team_id in homes:
                by_team[str(team_id)].append(member)
            if not homes:
                loose.append(member)
        for team in grafana_teams:
            members = by_team[str(team["id"])]
            if not members:
                self.unmapped("team", team, "no members with an email address")
                continue
            name = self.name("Team", team["name"])
            self.teams[str(team["id"])] = name
            self.add(Team, {"kind": "Team", "name": name, "members": members})
        everyone = {m["email"]: m for members in by_team.values() for m in members}
        self.fallback = loose or list(everyone.values())
        if loose:
            self.make_default_team()

    def make_default_team(self) -> str:
        """A team for users in none and objects without one: those users, else everyone."""
        if self.default_team is None:
            if not self.fallback:
                raise ImportFailed("an object without a team, and no user to form one")
            self.default_team = self.name("Team", "oncall")
            self.add(Team, {"kind": "Team", "name": self.default_team, "members": self.fallback,
                            "description": "Grafana OnCall users and objects without a team"})
        return self.default_team

    # schedules ------------------------------------------------------------------------------

    def read_schedules(self) -> None:
        shifts = list(_pages(self.source, f"{API}/on_call_shifts/"))
        for schedule in _pages(self.source, f"{API}/schedules/"):
            if schedule.get("type") == "ical":
                self.unmapped("schedule", schedule, "an iCal schedule: its events live in an "
                              "external calendar; recreate its rotations as layers")
                continue
            ids = set(schedule.get("shifts") or [])
            mine = [s for s in shifts if s.get("schedule") == schedule["id"] or s["id"] in ids]
            self.schedule(schedule, mine)

    def zone_of(self, schedule: Mapping[str, Any], shift: Mapping[str, Any]) -> str:
        """The zone Grafana OnCall reads a shift's `start` in: its own, else a calendar
        schedule's, else UTC (web schedules' shifts are kept in UTC)."""
        if shift.get("time_zone"):
            return str(shift["time_zone"])
        if schedule.get("type") == "calendar":
            return str(schedule.get("time_zone") or "UTC")
        return "UTC"

    def schedule(self, schedule: Mapping[str, Any], shifts: list[dict[str, Any]]) -> None:
        rotations = sorted((s for s in shifts if s.get("type") != "override"),
                           key=lambda s: int(s.get("level") or 0))
        if not rotations:
            self.unmapped("schedule", schedule, "no on-call shifts")
            return
        zone_name = self.zone_of(schedule, rotations[0])
        try:
            zone = time_zone(zone_name)
        except ValueError as exc:
            self.unmapped("schedule", schedule, str(exc))
            return
        layers = []
        taken: set[str] = set()
        for shift in rotations:
            if self.zone_of(schedule, shift) != zone_name:
                self.unmapped("shift", shift, f"in time zone {self.zone_of(schedule, shift)}, "
                              f"other shifts of the schedule in {zone_name}; ours have one zone")
                continue
            layer = self.layer(shift, zone, web=schedule.get("type") == "web")
            if layer is not None:
                layer["name"] = slug(str(shift.get("name") or shift["id"]), taken)
                layers.append(layer)
        if not layers:
            self.unmapped("schedule", schedule, "no shift could be imported")
            return
        overrides = [o for s in shifts if s.get("type") == "override"
                     if (o := self.override(schedule, s, zone)) is not None]
        if schedule.get("ical_url_overrides"):
            self.unmapped("schedule", schedule, "overrides from the iCal feed "
                          f"{schedule['ical_url_overrides']} are not imported")
        name = self.name("Schedule", schedule["name"])
        self.schedules[str(schedule["id"])] = name
        self.add(Schedule, {"kind": "Schedule", "name": name,
                            "team": self.team_of(schedule.get("team_id")),
                            "timezone": zone.key, "layers": layers,
                            "overrides": sorted(overrides, key=lambda o: o["from"])})
        if self.days is not None:
            self.rendered(schedule, name)

    def users_of(self, shift: Mapping[str, Any]) -> list[list[str]] | None:
        """The turns of a shift, one list of emails per turn."""
        if shift.get("type") == "rolling_users":
            turns = [list(group) for group in shift.get("rolling_users") or []]
            first = int(shift.get("start_rotation_from_user_index") or 0)
            turns = turns[first:] + turns[:first]
        else:
            turns = [list(shift.get("users") or [])]
        emails = [[self.emails[u] for u in turn if u in self.emails] for turn in turns]
        return emails if emails and all(emails) else None

    def layer(self, shift: dict[str, Any], zone: ZoneInfo, *, web: bool = False
              ) -> dict[str, Any] | None:
        turns = self.users_of(shift)
        if turns is None:
            self.unmapped("shift", shift, "no users, or users without an email")
            return None
        if any(len(turn) > 1 for turn in turns):
            self.unmapped("shift", shift, "several users on call in one turn; our "
                          "layers have one person at a time (split them into schedules)")
            return None
        members = [turn[0] for turn in turns]
        start = _naive(shift["start"])
        rotation_start = _naive(shift.get("rotation_start") or shift["start"])
        if shift.get("by_month") or shift.get("by_monthday"):
            self.unmapped("shift", shift, "monthly day limits have no equivalent")
            return None
        duration = timedelta(seconds=int(shift["duration"]))
        frequency = shift.get("frequency")
        interval = int(shift.get("interval") or 1)
        by_day = [d for d in _WEEKDAYS if d in (shift.get("by_day") or [])]
        layer: dict[str, Any] = {"members": members}
        if shift.get("type") == "single_event" or frequency is None:
            layer["rotation"] = {"every": "1w", "start": _fmt(start)}
            layer["until"] = _fmt(start + duration)
            return layer
        period = {"hourly": timedelta(hours=interval), "daily": timedelta(days=interval),
                  "weekly": timedelta(weeks=interval)}.get(str(frequency))
        if period is None:
            self.unmapped("shift", shift, f"{frequency} frequency has no equivalent")
            return None
        minutes = int(duration.total_seconds() // 60)
        if rotation_start > start:
            if by_day:
                self.unmapped("shift", shift, "a rotation_start after start on chosen weekdays "
                              "has no equivalent")
                return None
            start, members = _restarted(start, rotation_start, period, duration, members,
                                        web=web)
            layer["members"] = members
        if by_day and frequency in ("daily", "weekly"):
            week_start = _WEEKDAYS.index(str(shift.get("week_start") or "SU"))
            order = [(week_start + i) % 7 for i in range(7)]
            if start.weekday() not in [_WEEKDAYS.index(d) for d in by_day]:
                first = next(d for d in order if _WEEKDAYS[d] in by_day)
                start += timedelta(days=(first - start.weekday()) % 7)
            if minutes > DAY_MINUTES or (frequency == "weekly" and interval > 1):
                self.unmapped("shift", shift, "events longer than a day on chosen "
                              "weekdays, or weekdays every few weeks, have no equivalent")
                return None
            mask = bytearray(WEEK_MINUTES)
            at = start.hour * 60 + start.minute
            for day in by_day:
                for minute in range(minutes):
                    mask[(_WEEKDAYS.index(day) * DAY_MINUTES + at + minute) % WEEK_MINUTES] = 1
            if frequency == "daily":
                rule = (f"FREQ=WEEKLY;BYDAY={','.join(by_day)};BYHOUR={start.hour};"
                        f"BYMINUTE={start.minute}")
                layer["members"] = [m for m in members for _ in range(interval)]
                layer["rotation"] = {"rrule": rule, "start": _fmt(start)}
            else:
                layer["rotation"] = {"every": "1w", "start": _fmt(start)}
            if restrictions := week_restrictions(mask):
                layer["restrictions"] = restrictions
        elif duration == period:
            unit = {"hourly": "h", "daily": "d", "weekly": "w"}[str(frequency)]
            layer["rotation"] = {"every": f"{interval}{unit}", "start": _fmt(start)}
            if _has_dst(zone, start.year):
                self.unmapped("shift", shift, f"Grafana OnCall keeps each event "
                              f"{int(duration.total_seconds())}s long, so an event spanning a "
                              f"DST change of {zone.key} ends an hour early or late (a gap or "
                              "an overlap at that handoff); imported with handoffs at the "
                              "same wall-clock time")
        elif interval == 1 and frequency in ("daily", "weekly") and duration < period:
            mask = bytearray(WEEK_MINUTES)
            weekdays = range(7) if frequency == "daily" else [start.weekday()]
            at = start.hour * 60 + start.minute
            for weekday in weekdays:
                for minute in range(minutes):
                    mask[(weekday * DAY_MINUTES + at + minute) % WEEK_MINUTES] = 1
            layer["rotation"] = {"every": "1d" if frequency == "daily" else "1w",
                                 "start": _fmt(start)}
            layer["restrictions"] = week_restrictions(mask)
        else:
            self.unmapped("shift", shift, f"events of {duration} every {period} have "
                          "no equivalent")
            return None
        if shift.get("until"):
            layer["until"] = _fmt(_last_end(layer, by_day, start, duration,
                                            _naive(shift["until"])))
        return layer

    def override(self, schedule: Mapping[str, Any], shift: Mapping[str, Any],
                 zone: ZoneInfo) -> dict[str, str] | None:
        users = [self.emails[u] for u in shift.get("users") or [] if u in self.emails]
        if len(users) != 1:
            self.unmapped("override", shift, "an override needs exactly one user with an email")
            return None
        start = _naive(shift["start"])
        end = start + timedelta(seconds=int(shift["duration"]))
        try:
            own = time_zone(self.zone_of(schedule, shift))
        except ValueError as exc:
            self.unmapped("override", shift, str(exc))
            return None
        begin, finish = start.replace(tzinfo=own), end.replace(tzinfo=own)
        if self.since is not None and finish <= self.since:
            return None
        return {"who": users[0], "from": local(begin, zone), "to": local(finish, zone)}

    def rendered(self, schedule: Mapping[str, Any], name: str) -> None:
        assert self.days is not None
        path = f"{API}/schedules/{schedule['id']}/final_shifts"
        params: dict[str, str | int] = {}
        if self.since is not None:
            until = self.since + timedelta(days=self.days)
            params = {"start_date": self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M"),
                      "end_date": until.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")}
        first = self.source.get(path, params)
        start = self.since or (self.out.window[0] if self.out.window else None)
        if start is None:  # saved: shifts are cut at the requested start, the earliest is it
            shifts = [parse_instant(s["shift_start"]) for s in first.get("results") or []]
            if not shifts:
                raise ImportFailed(f"{path}: no shifts to take the window from")
            start = min(shifts)
        window = (start, start + timedelta(days=self.days))
        self.out.window = window
        periods = [(parse_instant(s["shift_start"]), parse_instant(s["shift_end"]),
                    str(s["user_email"]).lower(), False)
                   for s in _pages(_Replay(self.source, path, first), path, params)]
        periods.sort()
        for (_, end_a, who_a, _), (start_b, _, who_b, _) in pairwise(periods):
            if start_b < end_a and who_a != who_b:
                self.unmapped("schedule", schedule, f"{who_a} and {who_b} are on call at the "
                              f"same time at {start_b.isoformat()}; ours has one person")
                break
        self.out.rendered[name] = flatten(periods, window)

    # escalation chains ----------------------------------------------------------------------

    def read_chains(self) -> None:
        steps_of: dict[str, list[dict[str, Any]]] = {}
        for policy in _pages(self.source, f"{API}/escalation_policies/"):
            steps_of.setdefault(str(policy.get("escalation_chain_id")), []).append(policy)
        for chain in _pages(self.source, f"{API}/escalation_chains/"):
            policies = sorted(steps_of.get(str(chain["id"]), []),
                              key=lambda p: int(p.get("position") or 0))
            self.chain(chain, policies)

    def chain(self, chain: Mapping[str, Any], policies: list[dict[str, Any]]) -> None:
        steps: list[dict[str, Any]] = []
        targets: list[str] = []
        repeat = 0
        for policy in policies:
            kind = policy.get("type")
            if repeat:
                self.unmapped("escalation_policy", {**policy, "name": chain["name"]}, f"a "
                              f"{kind!r} step after the repeat runs only after the last repeat")
                continue
            if kind == "wait":
                minutes = max(1, int(policy.get("duration") or 60) // 60)
                if targets:
                    steps.append({"targets": targets, "timeout": minutes})
                    targets = []
                elif steps:
                    steps[-1]["timeout"] += minutes
                else:
                    self.unmapped("escalation_policy", {**policy, "name": chain["name"]}, "a "
                                  "wait before anyone is notified; our first step pages at once")
            elif kind == "repeat_escalation":
                repeat = REPEATS
            else:
                targets += [t for t in self.targets(chain, policy) if t not in targets]
        if targets:
            steps.append({"targets": targets, "timeout": 1 if repeat else LAST_STEP_TIMEOUT})
            if repeat:
                self.unmapped("escalation_chain", chain, "repeats with no wait after its last "
                              "notification; ours waits 1 minute before repeating")
        if not steps:
            self.unmapped("escalation_chain", chain, "no step notifies anyone we can page")
            return
        name = self.name("EscalationPolicy", chain["name"])
        self.policies[str(chain["id"])] = name
        self.add(EscalationPolicy, {
            "kind": "EscalationPolicy", "name": name, "repeat": repeat,
            "steps": [{"targets": s["targets"], "timeout": f"{s['timeout']}m"} for s in steps]})

    def targets(self, chain: Mapping[str, Any], policy: Mapping[str, Any]) -> list[str]:
        kind = policy.get("type")
        if kind == "notify_persons":
            return [f"user:{self.emails[u]}" for u in policy.get("persons_to_notify") or []
                    if u in self.emails]
        if kind == "notify_on_call_from_schedule":
            schedule = self.schedules.get(str(policy.get("notify_on_call_from_schedule")))
            if schedule is not None:
                return [f"schedule:{schedule}"]
        if kind == "notify_team_members" and str(policy.get("team_to_notify")) in self.teams:
            return [f"team:{self.teams[str(policy['team_to_notify'])]}"]
        reasons = {
            "notify_person_next_each_time": "notifies one person of a list in turn",
            "notify_user_group": "notifies a Slack user group",
            "trigger_webhook": "calls an outgoing webhook (write a Workflow webhook step)",
            "notify_if_time_from_to": "continues only within a time of day",
            "notify_if_num_alerts_in_window": "continues only past a number of alerts",
        }
        self.unmapped("escalation_policy", {**policy, "name": chain["name"]}, f"a {kind!r} step "
                      + reasons.get(str(kind), "has no equivalent here or names something that "
                                    "was not imported"))
        return []

    # integrations and their services --------------------------------------------------------

    def read_integrations(self) -> None:
        routes: dict[str, list[dict[str, Any]]] = {}
        for route in _pages(self.source, f"{API}/routes/"):
            routes.setdefault(str(route.get("integration_id")), []).append(route)
        for integration in _pages(self.source, f"{API}/integrations/"):
            kind = _INTEGRATION_TYPES.get(str(integration.get("type")))
            if kind is None:
                self.unmapped("integration", integration, f"a {integration.get('type')!r} "
                              "integration: point that source at one of our integration types")
                continue
            for route in routes.get(str(integration["id"]), []):
                if not route.get("is_the_last_route"):
                    self.unmapped("route", {**route, "name": integration["name"]}, "route "
                                  f"{route.get('routing_regex')!r} to chain "
                                  f"{route.get('escalation_chain_id')}: write a RoutingRule "
                                  "with label matchers")
            chain = str((integration.get("default_route") or {}).get("escalation_chain_id")
                        or "") or None
            team = self.team_of(integration.get("team_id"))
            service = self.service(team, chain, integration)
            name = self.name("Integration", integration["name"])
            variable = env_name("GRAFANA_ONCALL_KEY", name)
            self.out.secrets[variable] = (
                f"a new token for the senders of Grafana OnCall integration "
                f"{integration['name']!r} (Grafana OnCall took its secret from the URL "
                f"{integration.get('link')}); set it in the sender as a bearer token")
            self.add(Integration, {
                "kind": "Integration", "name": name, "type": kind, "service": service,
                "secret": f"${{env:{variable}}}",
                "description": f"Grafana OnCall {integration.get('type')} integration "
                               f"{integration['name']!r} ({integration['id']})"})

    def service(self, team: str, chain: str | None, integration: Mapping[str, Any]) -> str:
        key = (team, chain)
        if key not in self.services:
            policy = self.policies.get(chain) if chain else None
            label = next((n for i, n in self.policies.items() if i == chain), None)
            name = self.name("Service", label or str(integration["name"]))
            doc: dict[str, Any] = {"kind": "Service", "name": name, "team": team}
            if policy is not None:
                doc["escalation_policy"] = policy
            else:
                self.unmapped("integration", integration, "its default route escalates to no "
                              "imported chain: its service pages no one")
            self.add(Service, doc)
            self.services[key] = name
        return self.services[key]


def _restarted(start: datetime, rotation_start: datetime, period: timedelta,
               duration: timedelta, members: list[str], *, web: bool
               ) -> tuple[datetime, list[str]]:
    """A rotation whose events only count from `rotation_start`: Grafana OnCall skips the
    events before it (for a shift made in the web UI, those already over by then) and keeps
    every later event's person, so the layer starts at the first event kept, its members
    turned to match."""
    elapsed = rotation_start - start - (duration if web else timedelta(0))
    skipped = max(0, -(-elapsed // period) if not web else elapsed // period + 1)
    turn = skipped % len(members)
    return start + skipped * period, members[turn:] + members[:turn]


def _last_end(layer: Mapping[str, Any], by_day: list[str], start: datetime,
              duration: timedelta, until: datetime) -> datetime:
    """Where a shift with `until` really stops: `until` ends the recurrence (no event starts
    after it), and the last event still runs its whole duration."""
    if by_day:
        rule = f"FREQ=WEEKLY;BYDAY={','.join(by_day)};BYHOUR={start.hour};BYMINUTE={start.minute}"
    else:
        every = str(layer["rotation"]["every"])
        freq = {"h": "HOURLY", "d": "DAILY", "w": "WEEKLY"}[every[-1]]
        rule = f"FREQ={freq};INTERVAL={every[:-1]}"
    events = rrulestr(rule, dtstart=start)
    last = events.before(until, inc=True)
    return until if last is None else max(until, last + duration)


class _Replay:
    """A source whose first answer for `path` is already known (the window came from it)."""

    def __init__(self, source: Source, path: str, first: Any) -> None:
        self.source, self.path, self.first = source, path, first

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        if path == self.path and self.first is not None:
            first, self.first = self.first, None
            return first
        return self.source.get(path, params)


def read(source: Source, *, since: datetime | None, days: int | None) -> Imported:
    """Everything the account holds that we can express, and a reason for what we cannot."""
    return _Reader(source, since, days).read()
