"""Opsgenie → our config: teams, schedules, escalations, services and API integrations.

Opsgenie's REST API (https://docs.opsgenie.com/docs/api-overview) is read as its own clients
read it: `Authorization: GenieKey <key>`, lists paged by `offset`/`limit` with `paging.next`.
Two differences in meaning decide the mapping:

- The rotations of an Opsgenie schedule are cumulative: everyone on call in any rotation is
  notified. Our layers are not (a later layer wins), so rotations that can be on call at the
  same time go to separate schedules (`NAME`, `NAME-<rotation>`), and an escalation rule
  naming the Opsgenie schedule pages all of them. Rotations that never overlap (business
  hours and off hours, say) stay layers of one schedule.
- Escalation rules wait from the alert's creation (`delay`); our steps wait from the previous
  step (`timeout`), so rules with equal delays become one step.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

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
    RenderedShift,
    Source,
    ssl_context,
)
from oncall.importers.names import env_name, slug

VENDOR = "opsgenie"
TOKEN_ENV = "OPSGENIE_API_KEY"
DEFAULT_URL: str | None = "https://api.opsgenie.com"

PAGE_SIZE = 100
WEEK_MINUTES = 7 * 24 * 60
DAY_MINUTES = 24 * 60
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_INDEX = {name: i for i, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}
_UNIT_MINUTES = {"minutes": 1, "hours": 60, "days": DAY_MINUTES}
_EVERY_UNIT = {"daily": "d", "weekly": "w", "hourly": "h"}
LAST_STEP_TIMEOUT = 30
"""Minutes the last step of a policy that does not repeat waits: nothing follows it."""


def live_source(api_url: str, token: str, environ: Mapping[str, str]) -> Source:
    """Opsgenie's API with the key as its clients send it, TLS verified (private CA honoured)."""
    if not api_url.startswith("https://"):
        raise ImportFailed(f"{api_url}: Opsgenie is only spoken over https")
    return HttpSource(api_url, {"Authorization": f"GenieKey {token}"}, ssl_context(environ))


# --- helpers the Grafana OnCall importer shares -------------------------------------------------


def local(instant: datetime, zone: ZoneInfo) -> str:
    """An instant as a local date-time of our format in `zone`."""
    value = instant.astimezone(zone).replace(tzinfo=None)
    return value.isoformat(timespec="seconds" if value.second else "minutes")


def parse_instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def week_restrictions(mask: bytearray) -> list[dict[str, Any]]:
    """Our `restrictions` for a minute-of-week mask (Monday 00:00 = 0, local time): a run of at
    most a day is one window (crossing midnight where it does), a longer run is cut at
    midnights; windows with equal times on several days share one entry. An all-week mask is
    no restriction."""
    if all(mask):
        return []
    if not any(mask):
        raise ValueError("empty restriction")
    first_off = mask.index(0)
    runs: list[tuple[int, int]] = []
    minute = first_off
    end = first_off + WEEK_MINUTES
    while minute < end:
        if mask[minute % WEEK_MINUTES]:
            start = minute
            while minute < end and mask[minute % WEEK_MINUTES]:
                minute += 1
            runs.append((start, minute))
        else:
            minute += 1
    windows: list[tuple[int, int, int]] = []  # (day, from, to) with to in (0, 1440]
    for start, stop in runs:
        if stop - start <= DAY_MINUTES:
            day, offset = divmod(start % WEEK_MINUTES, DAY_MINUTES)
            to = (offset + stop - start) % DAY_MINUTES or DAY_MINUTES
            windows.append((day, offset, to))
            continue
        cursor = start
        while cursor < stop:
            day, offset = divmod(cursor % WEEK_MINUTES, DAY_MINUTES)
            piece = min(stop - cursor, DAY_MINUTES - offset)
            windows.append((day, offset, offset + piece))
            cursor += piece
    grouped: dict[tuple[int, int], list[int]] = {}
    for day, start, to in windows:
        grouped.setdefault((start, to), []).append(day)
    return [
        {"days": [DAYS[d] for d in sorted(days)], "from": clock(start), "to": clock(to)}
        for (start, to), days in sorted(grouped.items(), key=lambda item: min(item[1]))
    ]


def flatten(periods: list[tuple[datetime, datetime, str, bool]],
            window: tuple[datetime, datetime]) -> list[RenderedShift]:
    """A vendor's rendered periods `(start, end, email, is_override)` as one person per
    instant over `window`, gaps included (who None); an override period wins where it
    overlaps a regular one."""
    lo, hi = window
    cuts = {lo, hi}
    for start, end, _, _ in periods:
        for t in (start, end):
            if lo < t < hi:
                cuts.add(t)
    edges = sorted(cuts)
    shifts: list[RenderedShift] = []
    for a, b in pairwise(edges):
        covering = [(over, who) for start, end, who, over in periods if start <= a and end >= b]
        who = max(covering)[1] if covering else None
        if shifts and shifts[-1].who == who and shifts[-1].end == a:
            shifts[-1] = RenderedShift(shifts[-1].start, b, who)
        else:
            shifts.append(RenderedShift(a, b, who))
    return shifts


# --- reading ----------------------------------------------------------------------------------


def _pages(source: Source, path: str, params: Mapping[str, str | int] | None = None
           ) -> Iterator[dict[str, Any]]:
    """Every item of a list, following `paging.next` by offset (saved files hold one page)."""
    offset = 0
    seen: set[str] = set()
    while True:
        page = source.get(path, {**(params or {}), "offset": offset, "limit": PAGE_SIZE})
        data = page.get("data") or []
        fresh = [item for item in data if str(item.get("id")) not in seen]
        yield from fresh
        seen.update(str(item.get("id")) for item in fresh)
        if not fresh or not (page.get("paging") or {}).get("next"):
            return
        offset += len(data)


class _Reader(Reader):
    LABELS = ("name", "username")

    def __init__(self, source: Source, since: datetime | None, days: int | None) -> None:
        super().__init__(VENDOR, source, since, days)
        self.emails: dict[str, str] = {}
        self.teams: dict[str, str] = {}          # Opsgenie team id -> our team name
        self.admins: dict[str, list[str]] = {}   # our team name -> admin emails
        self.schedules: dict[str, list[str]] = {}  # Opsgenie schedule id -> our schedule names
        self.policies: dict[str, str] = {}       # Opsgenie escalation id -> our policy name
        self.policy_of_team: dict[str, str] = {}  # our team name -> its policy name
        self.services_of_team: dict[str, list[str]] = {}
        self.cutoff = since
        """Overrides that ended before this are history, not imported."""


    def read(self) -> Imported:
        self.users()
        self.read_teams()
        self.read_schedules()
        self.read_escalations()
        self.read_routing()
        self.read_services()
        self.read_integrations()
        return self.out

    def users(self) -> None:
        for user in _pages(self.source, "v2/users"):
            username = str(user.get("username") or "")
            if "@" not in username:
                self.unmapped("user", user, "no email address as username")
                continue
            self.emails[str(user["id"])] = username.lower()

    def read_teams(self) -> None:
        in_a_team: set[str] = set()
        for item in _pages(self.source, "v2/teams"):
            team = self.source.get(f"v2/teams/{item['id']}")["data"]
            members = []
            for member in team.get("members") or []:
                email = self.emails.get(str((member.get("user") or {}).get("id")))
                if email is None:
                    continue
                role = "admin" if member.get("role") == "admin" else "responder"
                members.append({"email": email, "role": role})
                in_a_team.add(email)
            if not members:
                self.unmapped("team", team, "no members with an email address")
                continue
            name = self.name("Team", team["name"])
            self.teams[str(team["id"])] = name
            self.admins[name] = [m["email"] for m in members if m["role"] == "admin"]
            doc: dict[str, Any] = {"kind": "Team", "name": name, "members": members}
            if team.get("description"):
                doc["description"] = team["description"]
            self.add(Team, doc)
        for user_id, email in self.emails.items():
            if email not in in_a_team:
                self.unmapped("user", {"id": user_id, "name": email},
                              "in no team: our users exist through team membership")

    # schedules ------------------------------------------------------------------------------

    def read_schedules(self) -> None:
        for schedule in _pages(self.source, "v2/schedules", {"expand": "rotation"}):
            team = self.teams.get(str((schedule.get("ownerTeam") or {}).get("id")))
            if team is None:
                self.unmapped("schedule", schedule, "no owner team that could be imported")
                continue
            try:
                zone = time_zone(str(schedule.get("timezone") or "UTC"))
            except ValueError as exc:
                self.unmapped("schedule", schedule, str(exc))
                continue
            layers = [(rot, layer) for rot in schedule.get("rotations") or []
                      if (layer := self.layer(schedule, rot, zone)) is not None]
            if not layers:
                self.unmapped("schedule", schedule, "no rotation could be imported")
                continue
            groups = _groups(layers)
            if len(groups) > 1:
                names = [r["name"] for group in groups for r, _ in group[:1]]
                self.unmapped("schedule", schedule,
                              "rotations " + ", ".join(names) + " are on call at the same time "
                              "(Opsgenie notifies all of them): imported as one schedule each, "
                              "and escalation steps naming it page every one")
            timeline = self.timeline(schedule) if self.days is not None else None
            overrides = self.overrides(schedule, zone)
            names = []
            for index, group in enumerate(groups):
                label = str(schedule["name"]) if index == 0 else \
                    f"{schedule['name']}-{group[0][0]['name']}"
                name = self.name("Schedule", label)
                names.append(name)
                ids = {str(rot.get("id")) for rot, _ in group}
                doc: dict[str, Any] = {
                    "kind": "Schedule", "name": name, "team": team, "timezone": zone.key,
                    "layers": [layer for _, layer in group],
                    "overrides": [o for o, rotations in overrides
                                  if not rotations or ids <= rotations],
                }
                if schedule.get("description"):
                    doc["description"] = schedule["description"]
                self.add(Schedule, doc)
                self.partial_overrides(schedule, overrides, ids)
                if timeline is not None:
                    known = {str(rot.get("id")) for rot in schedule.get("rotations") or []}
                    self.rendered(timeline, name, ids, known)
            self.schedules[str(schedule["id"])] = names

    def layer(self, schedule: Mapping[str, Any], rot: Mapping[str, Any],
              zone: ZoneInfo) -> dict[str, Any] | None:
        what = f"rotation {rot.get('name')!r} of schedule {schedule.get('name')!r}"
        unit = _EVERY_UNIT.get(str(rot.get("type")))
        if unit is None:
            self.unmapped("rotation", rot, f"{what}: unknown rotation type {rot.get('type')!r}")
            return None
        members = []
        for participant in rot.get("participants") or []:
            email = self.emails.get(str(participant.get("id")))
            if participant.get("type") == "user" and email is not None:
                members.append(email)
            else:
                self.unmapped("rotation", rot,
                              f"{what}: participant of type {participant.get('type')!r} "
                              "cannot take a turn in our rotations; left out, so later turns "
                              "move up")
        if not members:
            self.unmapped("rotation", rot, f"{what}: no participant is a user")
            return None
        start = parse_instant(rot["startDate"])
        layer: dict[str, Any] = {
            "name": slug(str(rot.get("name") or "rotation"),
                         self.taken.setdefault(f"layer:{schedule['id']}", set())),
            "members": members,
            "rotation": {"every": f"{int(rot.get('length') or 1)}{unit}",
                         "start": local(start, zone)},
        }
        if rot.get("endDate"):
            layer["until"] = local(parse_instant(rot["endDate"]), zone)
        mask = _restriction_mask(rot.get("timeRestriction"))
        if mask is not None:
            try:
                layer["restrictions"] = week_restrictions(mask)
            except ValueError:
                self.unmapped("rotation", rot, f"{what}: its time restriction covers no time")
                return None
        return layer

    def overrides(self, schedule: Mapping[str, Any], zone: ZoneInfo
                  ) -> list[tuple[dict[str, str], set[str]]]:
        """Each override with the rotation ids it is limited to (empty: the whole schedule)."""
        found = []
        response = self.source.get(f"v2/schedules/{schedule['id']}/overrides")
        for override in response.get("data") or []:
            user = override.get("user") or {}
            email = self.emails.get(str(user.get("id"))) or (
                str(user.get("username")).lower() if "@" in str(user.get("username")) else None)
            item = {"id": override.get("alias"), "name": schedule.get("name")}
            if user.get("type") != "user" or email is None:
                self.unmapped("override", item, f"override for a {user.get('type')!r}, "
                              "not a user")
                continue
            end = parse_instant(override["endDate"])
            if self.cutoff is not None and end <= self.cutoff:
                continue
            start = parse_instant(override["startDate"])
            rotations = {str(r.get("id")) for r in override.get("rotations") or []}
            found.append(({"who": email, "from": local(start, zone), "to": local(end, zone)},
                          rotations))
        return found

    def partial_overrides(self, schedule: Mapping[str, Any],
                          overrides: list[tuple[dict[str, str], set[str]]], ids: set[str]) -> None:
        for override, rotations in overrides:
            if rotations and rotations & ids and not ids <= rotations:
                self.unmapped("override", {"id": override["from"], "name": schedule["name"]},
                              f"override by {override['who']} from {override['from']} to "
                              f"{override['to']} applies to some rotations of a schedule whose "
                              "layers share the on-call time; ours apply to a whole schedule")

    def timeline(self, schedule: Mapping[str, Any]) -> dict[str, Any]:
        """Opsgenie's rendered schedule over the window; saved responses say where their
        window starts (`startDate`), and from there on overrides count."""
        assert self.days is not None
        params: dict[str, str | int] = {"interval": self.days, "intervalUnit": "days"}
        if self.since is not None:
            params["date"] = self.since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data: dict[str, Any] = self.source.get(f"v2/schedules/{schedule['id']}/timeline",
                                               params)["data"]
        if self.out.window is None:  # the first schedule's answer sets it for all
            start = self.since or parse_instant(data["startDate"])
            self.out.window = (start, start + timedelta(days=self.days))
            self.cutoff = start
        start, until = self.out.window
        if data.get("endDate") and parse_instant(data["endDate"]) < until:
            covered = parse_instant(data["endDate"]) - start
            raise ImportFailed(f"the timeline of schedule {schedule.get('name')!r} covers "
                               f"{covered.days} days from {start:%Y-%m-%dT%H:%MZ}: ask for at "
                               "most that many")
        return data

    def rendered(self, data: Mapping[str, Any], name: str, ids: set[str],
                 known: set[str]) -> None:
        """Opsgenie's final timeline of the rotations `ids` (one of our schedules); override
        periods listed apart from every rotation of the schedule count for each part."""
        assert self.out.window is not None
        window = self.out.window
        periods = []
        for rot in (data.get("finalTimeline") or {}).get("rotations") or []:
            rotation_id = str(rot.get("id"))
            if rotation_id not in ids and rotation_id in known:
                continue
            for period in rot.get("periods") or []:
                recipient = period.get("recipient") or {}
                if recipient.get("type") != "user" or (
                        rotation_id not in ids and period.get("type") != "override"):
                    continue
                who = self.emails.get(str(recipient.get("id"))) or str(recipient["name"]).lower()
                periods.append((parse_instant(period["startDate"]),
                                parse_instant(period["endDate"]), who,
                                period.get("type") == "override"))
        self.out.rendered[name] = flatten(periods, window)

    # escalations ----------------------------------------------------------------------------

    def read_escalations(self) -> None:
        for escalation in _pages(self.source, "v2/escalations"):
            steps: dict[int, list[str]] = {}
            for rule in escalation.get("rules") or []:
                delay = rule.get("delay") or {}
                minutes = int(delay.get("timeAmount") or 0) * _UNIT_MINUTES.get(
                    str(delay.get("timeUnit") or "minutes"), 1)
                targets = self.targets(escalation, rule)
                if targets:
                    steps.setdefault(minutes, []).extend(
                        t for t in targets if t not in steps.get(minutes, []))
            if not steps:
                self.unmapped("escalation", escalation, "no rule has a target we can page")
                continue
            delays = sorted(steps)
            if delays[0] > 0:
                self.unmapped("escalation", escalation,
                              f"its first rule waits {delays[0]} minutes after the alert; our "
                              "first step pages at once")
            repeat = escalation.get("repeat") or {}
            wait = int(repeat.get("waitInterval") or 0)
            count = max(1, min(20, int(repeat.get("count") or 1))) if wait > 0 else 0
            last = wait if count else LAST_STEP_TIMEOUT
            if count and repeat.get("closeAlertAfterAll"):
                self.unmapped("escalation", escalation, "closes the alert after its last "
                              "repeat; ours leave the incident open")
            doc_steps = []
            for index, minutes in enumerate(delays):
                wait = delays[index + 1] - minutes if index + 1 < len(delays) else last
                doc_steps.append({"targets": steps[minutes], "timeout": f"{max(1, wait)}m"})
            name = self.name("EscalationPolicy", escalation["name"])
            doc: dict[str, Any] = {"kind": "EscalationPolicy", "name": name,
                                   "steps": doc_steps, "repeat": count}
            if escalation.get("description"):
                doc["description"] = escalation["description"]
            self.add(EscalationPolicy, doc)
            self.policies[str(escalation["id"])] = name
            team = self.teams.get(str((escalation.get("ownerTeam") or {}).get("id")))
            if team is not None:
                self.policy_of_team.setdefault(team, name)

    def targets(self, escalation: Mapping[str, Any], rule: Mapping[str, Any]) -> list[str]:
        recipient = rule.get("recipient") or {}
        kind, notify = recipient.get("type"), rule.get("notifyType") or "default"
        what = f"rule notifying {kind} {recipient.get('name') or recipient.get('id')}"
        if rule.get("condition") == "if-not-closed":
            self.unmapped("escalation", escalation, f"{what}: runs until the alert is closed; "
                          "ours stop at the first acknowledgement")
        if kind == "user":
            email = self.emails.get(str(recipient.get("id")))
            if email is not None:
                return [f"user:{email}"]
        elif kind == "schedule" and notify == "default":
            names = self.schedules.get(str(recipient.get("id")))
            if names:
                return [f"schedule:{n}" for n in names]
        elif kind == "team":
            team = self.teams.get(str(recipient.get("id")))
            if team is not None and notify == "all":
                return [f"team:{team}"]
            if team is not None and notify == "admins" and self.admins.get(team):
                return [f"user:{email}" for email in self.admins[team]]
        self.unmapped("escalation", escalation,
                      f"{what} (notify type {notify!r}) has no equivalent target here")
        return []

    # services and integrations --------------------------------------------------------------

    def read_routing(self) -> None:
        """A team's default routing rule names the escalation its alerts take."""
        for team_id, team in self.teams.items():
            rules = self.source.get(f"v2/teams/{team_id}/routing-rules").get("data") or []
            for rule in rules:
                notify = rule.get("notify") or {}
                if not rule.get("isDefault"):
                    self.unmapped("routing_rule", rule, f"team {team}: conditional routing "
                                  "rules are not imported; write RoutingRules with matchers")
                elif notify.get("type") == "escalation" and str(notify.get("id")) in self.policies:
                    self.policy_of_team[team] = self.policies[str(notify["id"])]
                elif notify.get("type") != "none":
                    self.unmapped("routing_rule", rule, f"team {team}: the default rule "
                                  f"notifies a {notify.get('type')!r}, not an escalation")

    def read_services(self) -> None:
        for service in _pages(self.source, "v1/services"):
            team = self.teams.get(str(service.get("teamId")))
            if team is None:
                self.unmapped("service", service, "its team could not be imported")
                continue
            self.service(team, service["name"], service.get("description"))

    def service(self, team: str, vendor_name: str, description: str | None) -> str:
        name = self.name("Service", vendor_name)
        doc: dict[str, Any] = {"kind": "Service", "name": name, "team": team}
        if team in self.policy_of_team:
            doc["escalation_policy"] = self.policy_of_team[team]
        if description:
            doc["description"] = description
        self.add(Service, doc)
        self.services_of_team.setdefault(team, []).append(name)
        return name

    def read_integrations(self) -> None:
        for item in _pages(self.source, "v2/integrations"):
            if item.get("type") != "API":
                self.unmapped("integration", item, f"a {item.get('type')!r} integration: point "
                              "that source at one of our integration types instead")
                continue
            detail = self.source.get(f"v2/integrations/{item['id']}")["data"]
            team_id = (detail.get("ownerTeam") or {}).get("id") or item.get("teamId")
            team = self.teams.get(str(team_id))
            if team is None:
                self.unmapped("integration", item, "no owner team that could be imported")
                continue
            services = self.services_of_team.get(team) or [
                self.service(team, team, "alerts of the team's Opsgenie integrations")]
            if len(services) > 1:
                self.unmapped("integration", item, f"team {team} has several services; its "
                              f"alerts go to {services[0]} (add RoutingRules to split them)")
            name = self.name("Integration", item["name"])
            variable = env_name("OPSGENIE_KEY", name)
            self.out.secrets[variable] = (f"the API key of the Opsgenie integration "
                                          f"{item['name']!r}, which its monitors send")
            if detail.get("apiKey"):
                self.out.secret_values[variable] = str(detail["apiKey"])
            self.add(Integration, {
                "kind": "Integration", "name": name, "type": "opsgenie", "service": services[0],
                "secret": f"${{env:{variable}}}",
                "description": f"Opsgenie API integration {item['name']!r} ({item['id']})",
            })


def _restriction_mask(restriction: Mapping[str, Any] | None) -> bytearray | None:
    """Opsgenie's `timeRestriction` as a minute-of-week mask, None for no restriction."""
    if not restriction:
        return None
    mask = bytearray(WEEK_MINUTES)
    kind = restriction.get("type")
    items = restriction.get("restrictions") or (
        [restriction["restriction"]] if restriction.get("restriction") else [])
    for item in items:
        start = int(item.get("startHour", 0)) * 60 + int(item.get("startMin", 0))
        end = int(item.get("endHour", 0)) * 60 + int(item.get("endMin", 0))
        if kind == "time-of-day":
            spans = [(day * DAY_MINUTES + start,
                      day * DAY_MINUTES + (end if end > start else end + DAY_MINUTES))
                     for day in range(7)]
        else:
            first = _DAY_INDEX[str(item["startDay"]).lower()] * DAY_MINUTES + start
            last = _DAY_INDEX[str(item["endDay"]).lower()] * DAY_MINUTES + end
            spans = [(first, last if last > first else last + WEEK_MINUTES)]
        for a, b in spans:
            for minute in range(a, b):
                mask[minute % WEEK_MINUTES] = 1
    return mask


def _groups(layers: list[tuple[dict[str, Any], dict[str, Any]]]
            ) -> list[list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Rotations split so that no two in a group can be on call at the same moment."""
    groups: list[list[tuple[dict[str, Any], dict[str, Any]]]] = []
    for rot, layer in layers:
        for group in groups:
            if not any(_overlap(rot, other) for other, _ in group):
                group.append((rot, layer))
                break
        else:
            groups.append([(rot, layer)])
    return groups


def _overlap(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    far = datetime.max.replace(tzinfo=UTC)
    a_start, b_start = parse_instant(a["startDate"]), parse_instant(b["startDate"])
    a_end = parse_instant(a["endDate"]) if a.get("endDate") else far
    b_end = parse_instant(b["endDate"]) if b.get("endDate") else far
    if a_end <= b_start or b_end <= a_start:
        return False
    full = bytearray(b"\x01" * WEEK_MINUTES)
    mask_a = _restriction_mask(a.get("timeRestriction")) or full
    mask_b = _restriction_mask(b.get("timeRestriction")) or full
    return any(x and y for x, y in zip(mask_a, mask_b, strict=True))


def read(source: Source, *, since: datetime | None, days: int | None) -> Imported:
    """Everything the account holds that we can express, and a reason for what we cannot."""
    return _Reader(source, since, days).read()
