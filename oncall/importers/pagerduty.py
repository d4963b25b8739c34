"""PagerDuty → our config: users and teams, schedules, escalation policies, services and their
Events API v2 integration keys.

PagerDuty's REST API v2 is read through PagerDuty's own Python client (`pagerduty` on PyPI),
which pages lists by `offset`/`limit`/`more` and retries rate limits; saved responses are read
from files instead (`DirectorySource`, one file per request, a list holding every item).

The two models agree closely, which the mapping relies on:

- A layer hands off every `rotation_turn_length_seconds` from `rotation_virtual_start`; a whole
  number of days or weeks hands off at the same local time (our `every: 1d`/`1w`), anything
  else counts elapsed time (our `every: 12h`). A layer with a higher `rendering_index` is drawn
  over the lower ones, as our later layers are.
- Restrictions mask time and the rotation keeps turning underneath, as ours do.
- A layer whose `start` falls inside a turn is written as two layers: the rest of that turn,
  then the rotation from its next handoff (our rotation's `start` is always a handoff).
- An escalation rule waits `escalation_delay_in_minutes` before the next one, as our step's
  `timeout` does; `num_loops` is our `repeat`.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.config.models import (
    EscalationPolicy,
    Integration,
    Schedule,
    Service,
    Team,
)
from oncall.config.types import zone
from oncall.core.schedule.localtime import resolve
from oncall.importers.base import (
    Imported,
    ImportFailed,
    Reader,
    RenderedShift,
    Source,
    Unmapped,
    ssl_context,
)
from oncall.importers.names import unique_env_name

VENDOR = "pagerduty"
TOKEN_ENV = "PAGERDUTY_API_TOKEN"
DEFAULT_URL: str | None = "https://api.pagerduty.com"

NETWORK_ATTEMPTS = 3
"""Connection attempts before giving up (the client waits longer between each)."""
OVERRIDE_HORIZON = timedelta(days=365)
"""How far ahead overrides are read."""
DEFAULT_TEAM = "pagerduty-users"
"""Our team for users and objects that belong to no PagerDuty team."""
EVENTS_V2 = "events_api_v2_inbound_integration"
DAY, WEEK = 86400, 7 * 86400
DAY_MINUTES, WEEK_MINUTES = 1440, 7 * 1440
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
COLLECTIONS = frozenset({"users", "teams", "schedules", "escalation_policies", "services"})
_ROLES = {"owner": "admin", "admin": "admin", "observer": "observer",
          "read_only_user": "observer", "read_only_limited_user": "observer"}


# --- live source ----------------------------------------------------------------------------


class ClientSource:
    """PagerDuty's API through its own client: a top-level list is read page by page
    (`iter_all`) and answered as one response holding every item, the shape saved files have."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        import pagerduty

        path = path.strip("/")
        query = dict(params or {})
        try:
            if path in COLLECTIONS:
                return {path: self.client.list_all(path, params=query), "more": False}
            return self.client.jget(path, params=query)
        except pagerduty.Error as exc:
            cause = f" ({exc.__cause__})" if exc.__cause__ is not None else ""
            raise ImportFailed(f"PagerDuty API: GET /{path}: {exc}{cause}") from None


def live_source(api_url: str, token: str, environ: Mapping[str, str]) -> Source:
    """PagerDuty's REST API with `Authorization: Token token=…`, TLS verified against
    `REQUESTS_CA_BUNDLE`/`SSL_CERT_FILE` when set (a corporate proxy or private CA)."""
    if not api_url.startswith("https://"):
        raise ImportFailed(f"{api_url}: PagerDuty's API is only spoken over https")
    import pagerduty

    try:
        context = ssl_context(environ)
    except (OSError, ValueError) as exc:
        raise ImportFailed(f"cannot read the CA bundle: {exc}") from None
    client = pagerduty.RestApiV2Client(token, base_url=api_url.rstrip("/"), verify=context,
                                       transport=_transport(context))
    client.max_network_attempts = NETWORK_ATTEMPTS
    return ClientSource(client)


def _transport(context: ssl.SSLContext) -> Any:
    """The client's HTTPS transport, except that an untrusted certificate fails at once: the
    client retries network errors with growing waits, and no retry makes a CA trusted."""
    import httpx2

    class FailFastOnCertificates(httpx2.HTTPTransport):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            try:
                return super().handle_request(request)
            except httpx2.ConnectError as exc:
                if "CERTIFICATE_VERIFY_FAILED" not in str(exc):
                    raise
                raise ImportFailed(
                    f"{request.url.scheme}://{request.url.netloc.decode()}: the server's TLS "
                    f"certificate is not trusted ({exc}); behind a corporate proxy or with a "
                    "private CA, set SSL_CERT_FILE or REQUESTS_CA_BUNDLE to its CA bundle"
                ) from None

    return FailFastOnCertificates(verify=context)


# --- small helpers --------------------------------------------------------------------------


def instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def local(at: datetime, tz: ZoneInfo) -> str:
    """An instant as our local date-time in `tz`."""
    value = at.astimezone(tz).replace(tzinfo=None)
    return value.isoformat(timespec="seconds" if value.second else "minutes")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _duration(seconds: int) -> str:
    """Our duration text for a turn length: `2w`, `3d`, `12h`, `90m`, `1h30m`."""
    if seconds % WEEK == 0:
        return f"{seconds // WEEK}w"
    if seconds % DAY == 0:
        return f"{seconds // DAY}d"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n)


class Turns:
    """A layer's handoffs: `at(k)` is the k-th from the virtual start (wall-clock for whole
    days, elapsed otherwise), `index(t)` the turn holding instant `t`."""

    def __init__(self, virtual_start: datetime, seconds: int, tz: ZoneInfo) -> None:
        self.start, self.seconds, self.tz = virtual_start, seconds, tz
        self.calendar = seconds % DAY == 0
        self.local_start = virtual_start.astimezone(tz).replace(tzinfo=None)

    def at(self, k: int) -> datetime:
        if self.calendar:
            return resolve(self.local_start + timedelta(days=k * self.seconds // DAY), self.tz)
        return self.start + timedelta(seconds=k * self.seconds)

    def index(self, t: datetime) -> int:
        k = int((t - self.start).total_seconds() // self.seconds)
        while self.at(k) > t:
            k -= 1
        while self.at(k + 1) <= t:
            k += 1
        return k


def week_mask(restrictions: list[dict[str, Any]]) -> tuple[bytearray, list[str]]:
    """The minutes of the week (Monday 00:00 = 0, local time) a layer's restrictions allow,
    and what had to be rounded."""
    if not restrictions:
        return bytearray(b"\x01" * WEEK_MINUTES), []
    mask = bytearray(WEEK_MINUTES)
    notes: list[str] = []
    for r in restrictions:
        hh, mm, *ss = (int(p) for p in str(r.get("start_time_of_day", "00:00:00")).split(":"))
        seconds = int(r.get("duration_seconds") or 0)
        if (ss and ss[0]) or seconds % 60:
            notes.append(f"restriction {r.get('start_time_of_day')}+{seconds}s rounded to the "
                         "minute")
        start, length = hh * 60 + mm, min(seconds // 60, WEEK_MINUTES)
        if r.get("type") == "weekly_restriction":
            day = int(r.get("start_day_of_week") or 1) - 1
            spans = [(day * DAY_MINUTES + start, length)]
        else:
            spans = [(d * DAY_MINUTES + start, min(length, DAY_MINUTES)) for d in range(7)]
        for begin, n in spans:
            for m in range(begin, begin + n):
                mask[m % WEEK_MINUTES] = 1
    return mask, notes


def restrictions_of(mask: bytearray) -> list[dict[str, Any]]:
    """Our `restrictions` for a week mask: one window per day and run (a window that ends at
    midnight and one that starts there the next day join into one crossing midnight), equal
    windows on several days sharing one entry; a full week is no restriction."""
    if all(mask):
        return []
    windows: dict[tuple[int, int], list[int]] = {}
    for day in range(7):
        base, m = day * DAY_MINUTES, 0
        while m < DAY_MINUTES:
            if not mask[base + m]:
                m += 1
                continue
            end = m
            while end < DAY_MINUTES and mask[base + end]:
                end += 1
            windows.setdefault((m, end), []).append(day)
            m = end
    # Join "f-24:00 on d" with "00:00-t on d+1" where every such pair lines up.
    for (f, to), days in list(windows.items()):
        if to != DAY_MINUTES or f == 0:
            continue
        for (f2, t2), days2 in list(windows.items()):
            if f2 == 0 and 0 < t2 <= f and t2 != DAY_MINUTES \
                    and sorted((d + 1) % 7 for d in days) == sorted(days2):
                del windows[(f, to)], windows[(f2, t2)]
                windows[(f, t2)] = days
                break
    out: list[dict[str, Any]] = []
    for (f, to), days in sorted(windows.items(), key=lambda w: (min(w[1]), w[0])):
        entry: dict[str, Any] = {"from": _clock(f), "to": _clock(to)}
        if len(days) < 7:
            entry = {"days": [WEEKDAYS[d] for d in sorted(days)], **entry}
        out.append(entry)
    return out


# --- reading --------------------------------------------------------------------------------


class _Reader(Reader):
    LABELS = ("name", "summary")

    def __init__(self, source: Source, since: datetime | None, days: int | None) -> None:
        super().__init__(VENDOR, source, since, days)
        self.env_taken: set[str] = set()
        self.emails: dict[str, str] = {}            # PagerDuty user id -> email
        self.users: dict[str, dict[str, Any]] = {}
        self.team_names: dict[str, str] = {}        # PagerDuty team id -> our team name
        self.members: dict[str, dict[str, dict[str, Any]]] = {}  # our team -> email -> member
        self.schedule_names: dict[str, str] = {}    # PagerDuty schedule id -> our name
        self.policy_names: dict[str, str] = {}
        self.policy_teams: dict[str, str] = {}
        self.schedule_teams: dict[str, str] = {}
        self.schedules: list[dict[str, Any]] = []
        self.reference: datetime | None = since
        """Layers and overrides that ended before this are history, not imported."""


    def items(self, path: str, params: Mapping[str, str | int] | None = None
              ) -> list[dict[str, Any]]:
        body = self.source.get(path, params)
        if not isinstance(body, dict) or not isinstance(body.get(path), list):
            raise ImportFailed(f"GET /{path}: expected an object with a {path!r} list")
        if body.get("more"):
            raise ImportFailed(f"GET /{path}: the saved response is one page of several "
                               "('more': true); save every item in one list")
        return list(body[path])

    # the window
    def window(self, first: dict[str, Any]) -> None:
        """Parity window: `[since, since + days)`; reading saved files, `since` is the one the
        saved schedule response was asked with (`since`/`until` beside `schedule`)."""
        if self.since is None:
            saved = first.get("since") or (first.get("schedule") or {}).get("since")
            if saved is None:  # without it, which overrides and layers are past is unknown
                raise ImportFailed("the saved schedule responses do not say when they were "
                                   "asked for ('since' beside 'schedule'): give --since")
            self.since = self.reference = instant(str(saved))
            until = first.get("until") or (first.get("schedule") or {}).get("until")
            if self.days is not None and until is not None:
                covered = instant(str(until)) - self.since
                if covered < timedelta(days=self.days):
                    raise ImportFailed(f"the saved responses cover {covered.days} days from "
                                       f"{_iso(self.since)}: ask for at most that many")
        if self.days is not None:
            self.out.window = (self.since, self.since + timedelta(days=self.days))

    # users and teams
    def read_users(self) -> None:
        for user in self.items("users"):
            email = str(user.get("email") or "").strip().lower()
            if "@" not in email:
                self.unmapped("user", user, "has no email address: cannot be paged or named")
                continue
            self.emails[str(user["id"])] = email
            self.users[email] = user

    def read_teams(self) -> None:
        for item in self.items("teams"):
            self.team_names[str(item["id"])] = self.name("team", str(item.get("name")))
        for email, user in self.users.items():
            names = [self.team_names[t["id"]] for t in user.get("teams") or []
                     if t.get("id") in self.team_names] or [self.default_team()]
            role = _ROLES.get(str(user.get("role")), "responder")
            for team in names:
                self.members.setdefault(team, {})[email] = {
                    "email": email, "name": user.get("name") or None, "role": role}

    def default_team(self) -> str:
        if DEFAULT_TEAM not in self.taken.setdefault("team", set()):
            self.taken["team"].add(DEFAULT_TEAM)
        return DEFAULT_TEAM

    def team_of(self, refs: list[dict[str, Any]] | None, people: tuple[str, ...] = ()) -> str:
        for ref in refs or []:
            if ref.get("id") in self.team_names:
                return self.team_names[ref["id"]]
        counts: dict[str, int] = {}
        for email in people:
            for team, members in self.members.items():
                if email in members:
                    counts[team] = counts.get(team, 0) + 1
        if counts:
            return max(sorted(counts), key=lambda t: counts[t])
        return self.default_team()

    def emit_teams(self) -> None:
        used = DEFAULT_TEAM in self.taken.get("team", set())
        if used and not self.members.get(DEFAULT_TEAM) and self.users:
            admins = [e for e, u in self.users.items() if _ROLES.get(str(u.get("role"))) ==
                      "admin"] or [next(iter(self.users))]
            self.members[DEFAULT_TEAM] = {e: {"email": e, "role": "admin",
                                              "name": self.users[e].get("name") or None}
                                          for e in admins}
            self.out.unmapped.append(Unmapped(
                "team", "", DEFAULT_TEAM, "objects that belong to no PagerDuty team are in "
                f"team {DEFAULT_TEAM!r}, whose members are the account's admins: move them"))
        for team in sorted(self.members):
            members = [{k: v for k, v in m.items() if v is not None}
                       for m in self.members[team].values()]
            self.add(Team, {"kind": "Team", "name": team, "members": members})

    # schedules
    def read_schedules(self) -> None:
        listed = self.items("schedules")
        for item in listed:
            self.schedule_names[str(item["id"])] = self.name("schedule", str(item.get("name")))
        for n, item in enumerate(listed):
            sid = str(item["id"])
            params: dict[str, str | int] = {"time_zone": "UTC"}
            if self.since is not None:
                span = timedelta(days=self.days or 1)
                params |= {"since": _iso(self.since), "until": _iso(self.since + span)}
            body = self.source.get(f"schedules/{sid}", params)
            if n == 0:
                self.window(body)
            schedule = body.get("schedule") if isinstance(body, dict) else None
            if not isinstance(schedule, dict):
                raise ImportFailed(f"GET /schedules/{sid}: expected an object with 'schedule'")
            overrides: list[dict[str, Any]] = []
            if self.since is not None:
                reply = self.source.get(f"schedules/{sid}/overrides", {
                    "since": _iso(self.since), "until": _iso(self.since + OVERRIDE_HORIZON)})
                overrides = list((reply or {}).get("overrides") or [])
            self.schedule(sid, schedule, overrides)
        if not listed and self.days is not None:
            self.window({})

    def schedule(self, sid: str, s: dict[str, Any], overrides: list[dict[str, Any]]) -> None:
        name = self.schedule_names[sid]
        try:
            tz = zone(str(s.get("time_zone")))
        except ValueError as exc:
            self.unmapped("schedule", s, str(exc))
            return
        layers_in = list(s.get("schedule_layers") or [])
        if all("rendering_index" in layer for layer in layers_in):
            layers_in.sort(key=lambda layer: layer["rendering_index"])
        else:  # listed top layer first
            layers_in.reverse()
        layers: list[dict[str, Any]] = []
        people: list[str] = []
        for layer in layers_in:
            made = self.layer(s, layer, tz)
            layers += made
            people += [m for made_layer in made for m in made_layer["members"]]
        if not layers:
            self.unmapped("schedule", s, "no layer could be mapped (see the layers above)")
            self.schedule_names.pop(sid)
            return
        team = self.team_of(s.get("teams"), tuple(people))
        for email in dict.fromkeys(people):
            if email not in self.members.setdefault(team, {}):
                self.members[team][email] = {"email": email, "role": "observer",
                                             "name": self.users[email].get("name") or None}
                self.out.unmapped.append(Unmapped(
                    "team_membership", sid, name,
                    f"{email} is on schedule {name!r} but not in team {team!r} in PagerDuty: "
                    "added to the team as an observer (not paged as the team)"))
        self.schedule_teams[sid] = team
        doc: dict[str, Any] = {"kind": "Schedule", "name": name, "team": team,
                               "timezone": tz.key, "layers": layers}
        if s.get("description"):
            doc["description"] = str(s["description"])
        doc["overrides"] = self.overrides(s, overrides, tz)
        if self.add(Schedule, doc) and self.days is not None:
            entries = (s.get("final_schedule") or {}).get("rendered_schedule_entries") or []
            self.out.rendered[name] = [
                RenderedShift(instant(e["start"]), instant(e["end"]),
                              self.emails.get(str((e.get("user") or {}).get("id"))))
                for e in entries]

    def layer(self, s: dict[str, Any], layer: dict[str, Any], tz: ZoneInfo
              ) -> list[dict[str, Any]]:
        """Our layers for one PagerDuty layer: none, one, or the rest of a turn then one."""
        label = f"{s.get('name')} / {layer.get('name')}"
        members: list[str] = []
        for entry in layer.get("users") or []:
            uid = str((entry.get("user") or entry).get("id"))
            if uid in self.emails:
                members.append(self.emails[uid])
            else:
                self.unmapped("layer_member", {"id": uid, "name": label},
                              "unknown user or user without email: left out of the rotation")
        seconds = int(layer.get("rotation_turn_length_seconds") or 0)
        ref = {"id": layer.get("id"), "name": label}
        if not members:
            self.unmapped("layer", ref, "no member could be mapped")
            return []
        if seconds < 60:
            self.unmapped("layer", ref, f"a turn of {seconds}s is shorter than our 1m minimum")
            return []
        turns = Turns(instant(str(layer["rotation_virtual_start"])), seconds, tz)
        start = instant(str(layer.get("start") or layer["rotation_virtual_start"]))
        end = instant(str(layer["end"])) if layer.get("end") else None
        if end is not None and self.reference is not None and end <= self.reference:
            self.unmapped("layer", ref, f"ended {_iso(end)}, before the import: history only")
            return []
        mask, notes = week_mask(list(layer.get("restrictions") or []))
        for note in notes:
            self.unmapped("restriction", ref, note)
        if not any(mask):
            self.unmapped("layer", ref, "its restrictions leave no time on call")
            return []
        restrictions = restrictions_of(mask)
        base = self.name(f"layer:{s.get('id')}", str(layer.get("name") or "layer"))
        every = _duration(seconds)
        out: list[dict[str, Any]] = []

        def make(lname: str, first: datetime, who: list[str],
                 until: datetime | None) -> None:
            doc: dict[str, Any] = {"name": lname, "members": who,
                                   "rotation": {"start": local(first, tz), "every": every}}
            if restrictions:
                doc["restrictions"] = restrictions
            if until is not None:
                doc["until"] = local(until, tz)
            out.append(doc)

        def rotated(k: int) -> list[str]:
            n = k % len(members)
            return members[n:] + members[:n]

        if start <= turns.start:
            make(base, turns.start, members, end)
            return out
        k = turns.index(start)
        nxt = turns.at(k + 1)
        if turns.at(k) < start:  # starts inside a turn: the rest of it is its own layer
            cut = nxt if end is None else min(nxt, end)
            if self.reference is None or cut > self.reference:
                first = self.name(f"layer:{s.get('id')}", f"{base}-first-turn")
                make(first, start, [members[k % len(members)]], cut)
            if end is not None and end <= nxt:
                return out
            make(base, nxt, rotated(k + 1), end)
        else:
            make(base, start, rotated(k), end)
        return out

    def overrides(self, s: dict[str, Any], items: list[dict[str, Any]],
                  tz: ZoneInfo) -> list[dict[str, str]]:
        out: list[tuple[datetime, dict[str, str]]] = []
        for o in items:
            uid = str((o.get("user") or {}).get("id"))
            start, end = instant(str(o["start"])), instant(str(o["end"]))
            if self.reference is not None and end <= self.reference:
                continue
            if uid not in self.emails:
                self.unmapped("override", {"id": o.get("id"), "name": s.get("name")},
                              f"unknown user {uid}: override {_iso(start)}-{_iso(end)} left out")
                continue
            out.append((start, {"who": self.emails[uid], "from": local(start, tz),
                                "to": local(end, tz)}))
        return [doc for _, doc in sorted(out, key=lambda item: item[0])]

    # escalation policies
    def read_policies(self) -> None:
        for policy in self.items("escalation_policies"):
            name = self.name("policy", str(policy.get("name")))
            steps: list[dict[str, Any]] = []
            for i, rule in enumerate(policy.get("escalation_rules") or []):
                targets: list[str] = []
                for t in rule.get("targets") or []:
                    kind, tid = str(t.get("type", "")).removesuffix("_reference"), str(t.get("id"))
                    if kind == "user" and tid in self.emails:
                        targets.append(f"user:{self.emails[tid]}")
                    elif kind == "schedule" and tid in self.schedule_names:
                        targets.append(f"schedule:{self.schedule_names[tid]}")
                    else:
                        self.unmapped("escalation_target", {"id": tid, "name": policy.get("name")},
                                      f"rule {i + 1} targets {t.get('type')} {tid}, which was "
                                      "not imported: left out")
                delay = int(rule.get("escalation_delay_in_minutes") or 0)
                if not targets:
                    self.unmapped("escalation_rule", policy,
                                  f"rule {i + 1} has no target that could be mapped: left out")
                    continue
                steps.append({"targets": targets, "timeout": f"{max(delay, 1)}m"})
            if not steps:
                self.unmapped("escalation_policy", policy, "no rule could be mapped")
                continue
            loops = int(policy.get("num_loops") or 0)
            if loops > 20:
                self.unmapped("escalation_policy", policy,
                              f"num_loops {loops} is more than our 20 repeats: repeats 20 times")
            doc: dict[str, Any] = {"kind": "EscalationPolicy", "name": name,
                                   "repeat": min(loops, 20), "steps": steps}
            if policy.get("description"):
                doc["description"] = str(policy["description"])
            self.add(EscalationPolicy, doc)
            self.policy_names[str(policy["id"])] = name
            people = tuple(self.emails[t["id"]] for rule in policy.get("escalation_rules") or []
                           for t in rule.get("targets") or [] if t.get("id") in self.emails)
            self.policy_teams[str(policy["id"])] = (
                self.team_of(policy.get("teams")) if policy.get("teams") else
                next((self.schedule_teams[t["id"]] for rule in policy.get("escalation_rules")
                      or [] for t in rule.get("targets") or []
                      if t.get("id") in self.schedule_teams), None)
                or self.team_of(None, people))

    # services and integrations
    def read_services(self) -> None:
        for svc in self.items("services", {"include[]": "integrations"}):
            name = self.name("service", str(svc.get("name")))
            pid = str((svc.get("escalation_policy") or {}).get("id"))
            policy = self.policy_names.get(pid)
            if policy is None:
                self.unmapped("service", svc, f"its escalation policy {pid} was not imported: "
                              "the service pages no one until one is set")
            team = self.team_of(svc.get("teams")) if svc.get("teams") else \
                self.policy_teams.get(pid) or self.default_team()
            doc: dict[str, Any] = {"kind": "Service", "name": name, "team": team}
            if svc.get("description"):
                doc["description"] = str(svc["description"])
            if policy is not None:
                doc["escalation_policy"] = policy
            rule = svc.get("incident_urgency_rule") or {}
            if rule.get("type", "constant") == "constant" and rule.get("urgency") == "low":
                doc["urgency"] = "low"
            elif rule.get("type") not in (None, "constant"):
                self.unmapped("urgency_rule", svc, f"urgency rule {rule.get('type')!r} has no "
                              "equivalent: the service pages at high urgency")
            if svc.get("status") == "disabled":
                self.unmapped("service", svc, "disabled in PagerDuty: imported enabled")
            self.add(Service, doc)
            for integration in svc.get("integrations") or []:
                self.integration(svc, name, integration)

    def integration(self, svc: dict[str, Any], service: str, item: dict[str, Any]) -> None:
        kind = str(item.get("type", "")).removesuffix("_reference")
        if kind == EVENTS_V2 and not item.get("integration_key"):
            body = self.source.get(f"services/{svc['id']}/integrations/{item['id']}")
            item = (body or {}).get("integration") or item
        label = f"{svc.get('name')} / {item.get('name') or item.get('summary')}"
        if kind != EVENTS_V2:
            self.unmapped("integration", {"id": item.get("id"), "name": label},
                          f"type {kind!r} has no equivalent: only Events API v2 integration "
                          "keys are imported; point this sender at a new integration")
            return
        key = str(item.get("integration_key") or "")
        if not key:
            self.unmapped("integration", {"id": item.get("id"), "name": label},
                          "the API did not give its integration key")
            return
        iname = str(item.get("name") or item.get("summary") or "events")
        name = self.name("integration", f"{service}-{iname}")
        variable = unique_env_name("PAGERDUTY_KEY", self.env_taken, service, iname)
        self.out.secrets[variable] = (f"the integration key of PagerDuty integration {iname!r} "
                                      f"on service {svc.get('name')!r}, which monitors send")
        self.out.secret_values[variable] = key
        self.add(Integration, {"kind": "Integration", "name": name, "type": "pagerduty",
                               "description": f"{svc.get('name')}: {iname} (Events API v2)",
                               "service": service, "secret": f"${{env:{variable}}}"})

    def read(self) -> Imported:
        self.read_users()
        self.read_teams()
        self.read_schedules()
        self.read_policies()
        self.read_services()
        self.emit_teams()
        order = {"Team": 0, "Schedule": 1, "EscalationPolicy": 2, "Service": 3, "Integration": 4}
        self.out.objects.sort(key=lambda o: order.get(o.KIND, 9))
        return self.out


def read(source: Source, *, since: datetime | None, days: int | None) -> Imported:
    """Read a PagerDuty account; with `days`, also its final schedules over
    `[since, since + days)` for the parity check."""
    return _Reader(source, since, days).read()
