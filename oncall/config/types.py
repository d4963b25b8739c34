"""Value types of the config format: names, durations, local times, zones, secrets, targets.

Each type parses the YAML value into something the core can compute with, serialises back to the
text the user wrote, and describes itself in the JSON Schema that editors use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from oncall.config.matchers import Matcher, MatcherError, parse_matcher
from oncall.config.suggest import did_you_mean


def describe(value: object) -> str:
    """How a YAML value reads to the person who wrote it."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected {what}, got {describe(value)}")
    return value


# --- names -----------------------------------------------------------------------------------

NAME_PATTERN = r"^[a-z0-9-]{1,63}$"
_NAME = re.compile(NAME_PATTERN)


def _name(value: object) -> str:
    text = _text(value, "a name")
    if not _NAME.match(text):
        raise ValueError(
            f"invalid name {text!r}: use 1-63 lowercase letters, digits and '-'"
        )
    return text


Name = Annotated[
    str,
    PlainValidator(_name),
    WithJsonSchema({"type": "string", "pattern": NAME_PATTERN}),
]

# --- emails ----------------------------------------------------------------------------------

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL = re.compile(EMAIL_PATTERN)


def _email(value: object) -> str:
    text = _text(value, "an email address")
    if not _EMAIL.match(text):
        raise ValueError(f"invalid email address {text!r}")
    return text.lower()


Email = Annotated[
    str,
    PlainValidator(_email),
    WithJsonSchema({"type": "string", "pattern": EMAIL_PATTERN, "format": "email"}),
]

# --- durations -------------------------------------------------------------------------------

DURATION_PATTERN = r"^(?=\d)(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$"
_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(frozen=True)
class Duration:
    """A span such as `30s` or `1w`.

    Weeks and days are kept apart from hours, minutes and seconds because a rotation of `1d`
    hands off at the same wall-clock time (23 or 25 hours on DST days) while `24h` counts
    elapsed time.
    """

    days: int
    seconds: int
    text: str

    @classmethod
    def parse(cls, value: object) -> Duration:
        if isinstance(value, Duration):
            return value
        text = _text(value, "a duration like 30s, 5m, 2h, 1d or 1w").strip()
        m = _DURATION.match(text)
        if not text or m is None:
            raise ValueError(
                f"invalid duration {text!r}: use a number and a unit s, m, h, d or w, "
                "like 30s, 5m, 2h, 1d or 1w"
            )
        w, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
        return cls(days=w * 7 + d, seconds=h * 3600 + mi * 60 + s, text=text)

    @property
    def timedelta(self) -> timedelta:
        return timedelta(days=self.days, seconds=self.seconds)

    @property
    def total_seconds(self) -> float:
        return self.timedelta.total_seconds()

    @property
    def is_calendar(self) -> bool:
        """True for whole days/weeks, which count in local wall-clock days."""
        return self.days > 0 and self.seconds == 0

    def __str__(self) -> str:
        return self.text


DurationField = Annotated[
    Duration,
    PlainValidator(Duration.parse),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "5m", "2h", "1d", "1w"]}
    ),
]


def _positive(value: object) -> Duration:
    d = Duration.parse(value)
    if d.total_seconds <= 0:
        raise ValueError(f"duration {d.text!r} must be longer than zero")
    return d


PositiveDuration = Annotated[
    Duration,
    PlainValidator(_positive),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DURATION_PATTERN}),
]

# --- local date-times and clock times --------------------------------------------------------

LOCAL_DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$"
_LOCAL_DATETIME = re.compile(LOCAL_DATETIME_PATTERN)
_HAS_OFFSET = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def _local_datetime(value: object) -> datetime:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value
    text = _text(value, "a local date-time like 2026-01-05T09:00")
    if _HAS_OFFSET.search(text) and "T" in text:
        raise ValueError(
            f"{text!r} has a UTC offset: write a local time like 2026-01-05T09:00; "
            "it is read in the object's time zone"
        )
    if not _LOCAL_DATETIME.match(text):
        raise ValueError(f"invalid local date-time {text!r}: expected YYYY-MM-DDTHH:MM")
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"invalid local date-time {text!r}: {exc}") from exc


def _format_local(value: datetime) -> str:
    return value.isoformat(timespec="seconds" if value.second else "minutes")


LocalDateTime = Annotated[
    datetime,
    PlainValidator(_local_datetime),
    PlainSerializer(_format_local, return_type=str),
    WithJsonSchema({"type": "string", "pattern": LOCAL_DATETIME_PATTERN}),
]

CLOCK_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$"
_CLOCK = re.compile(CLOCK_PATTERN)


def _clock(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f'expected a time like "09:00" in quotes, got {describe(value)}')
    text = _text(value, 'a time like "09:00"')
    if not _CLOCK.match(text):
        raise ValueError(f'invalid time {text!r}: expected HH:MM between "00:00" and "24:00"')
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _format_clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


ClockTime = Annotated[
    int,
    PlainValidator(_clock),
    PlainSerializer(_format_clock, return_type=str),
    WithJsonSchema({"type": "string", "pattern": CLOCK_PATTERN, "examples": ["09:00"]}),
]
"""Minutes after local midnight, 0..1440 (`24:00` ends a day)."""

# --- time zones ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """A cached ZoneInfo; raises ValueError with a hint for an unknown name."""
    try:
        if name not in _zone_names() and name != "UTC":
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}{did_you_mean(name, _zone_names())}: "
            "use an IANA name like Europe/London"
        ) from None


def _zone(value: object) -> ZoneInfo:
    if isinstance(value, ZoneInfo):
        return value
    return zone(_text(value, "an IANA time zone name like Europe/London"))


TimeZone = Annotated[
    ZoneInfo,
    PlainValidator(_zone),
    PlainSerializer(lambda z: z.key, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["America/New_York", "Europe/London"]}),
]

# --- secrets ---------------------------------------------------------------------------------

SECRET_PATTERN = r"^\$\{env:[A-Za-z_][A-Za-z0-9_]*\}$"
_SECRET = re.compile(SECRET_PATTERN)
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_ANY_REF = re.compile(r"\$\{([^}]*)\}?")


def _secret(value: object) -> str:
    text = _text(value, "a secret reference like ${env:NAME}")
    if not _SECRET.match(text):
        if "${" in text:
            raise ValueError(f"invalid secret reference {text!r}: expected exactly ${{env:NAME}}")
        raise ValueError(
            "a literal secret is not allowed in config: write ${env:NAME} and set NAME "
            "in the environment"
        )
    return text


SecretRef = Annotated[
    str,
    PlainValidator(_secret),
    WithJsonSchema({"type": "string", "pattern": SECRET_PATTERN}),
]


def _env_text(value: object) -> str:
    text = _text(value, "a string")
    for m in _ANY_REF.finditer(text):
        if not _ENV_REF.fullmatch(m.group(0)):
            raise ValueError(f"invalid reference {m.group(0)!r}: expected ${{env:NAME}}")
    return text


EnvText = Annotated[str, PlainValidator(_env_text), WithJsonSchema({"type": "string"})]
"""A string that may embed `${env:NAME}` references, resolved at run time."""


def env_names(text: str) -> list[str]:
    return _ENV_REF.findall(text)


def has_env_reference(text: str) -> bool:
    return _ENV_REF.search(text) is not None


class MissingSecret(LookupError):
    pass


def resolve_env(text: str, environ: dict[str, str] | Any) -> str:
    """Substitute `${env:NAME}` references; a missing variable is an error, never ''."""

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in environ:
            raise MissingSecret(f"environment variable {name} is not set")
        return str(environ[name])

    return _ENV_REF.sub(sub, text)


# --- targets and matchers --------------------------------------------------------------------

TargetKind = Literal["schedule", "user", "team"]
TARGET_PATTERN = r"^(schedule|user|team):\S+$"


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    ref: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}"


def _target(value: object) -> Target:
    if isinstance(value, Target):
        return value
    text = _text(value, "a target like schedule:NAME, user:EMAIL or team:NAME")
    kind, sep, ref = text.partition(":")
    if not sep or not ref or kind not in ("schedule", "user", "team"):
        hint = did_you_mean(kind, ["schedule", "user", "team"]) if sep else ""
        raise ValueError(
            f"invalid target {text!r}{hint}: expected schedule:NAME, user:EMAIL or team:NAME"
        )
    ref = _email(ref) if kind == "user" else _name(ref)
    return Target(kind, ref)  # type: ignore[arg-type]


TargetField = Annotated[
    Target,
    PlainValidator(_target),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": TARGET_PATTERN}),
]


def _matcher(value: object) -> Matcher:
    if isinstance(value, Matcher):
        return value
    text = _text(value, 'a matcher like severity="critical"')
    try:
        return parse_matcher(text)
    except MatcherError as exc:
        message = str(exc)
        if repr(text) not in message:  # name the matcher when the parser did not
            message = f"invalid matcher {text!r}: {message}"
        raise ValueError(message) from None


MatcherField = Annotated[
    Matcher,
    PlainValidator(_matcher),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\s*[A-Za-z_][A-Za-z0-9_]*\s*(=~|!~|!=|=)",
            "examples": ['env="prod"', 'alertname=~"Checkout.*"'],
        }
    ),
]

Priority = Literal["P1", "P2", "P3", "P4", "P5"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
