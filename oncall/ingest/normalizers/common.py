"""What every normaliser shares: the error it raises, payload validation, time and text rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from oncall.core.alerts import Link

M = TypeVar("M", bound=BaseModel)

MAX_SUMMARY = 1024
ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""Go's zero time, which Alertmanager and Grafana send as `endsAt` of an alert still open."""


class PayloadError(ValueError):
    """A body we cannot read; `field_path` names the field (`alerts[0].startsAt`, `` = body).

    The HTTP layer answers `status` (422, or 413 for a delivery over a size limit) with RFC 7807
    problem JSON built from `problems`.
    """

    def __init__(self, field_path: str, message: str,
                 problems: Sequence[tuple[str, str]] = (), status: int = 422) -> None:
        super().__init__(f"{field_path or 'body'}: {message}")
        self.field_path = field_path
        self.message = message
        self.status = status
        self.problems: tuple[tuple[str, str], ...] = tuple(problems) or ((field_path, message),)


class Lenient(BaseModel):
    """Provider payloads: providers add fields over time, so unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


def join_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def parse(model: type[M], payload: Any) -> M:
    """Validate `payload` against `model`, turning pydantic's errors into a PayloadError."""
    if not isinstance(payload, Mapping):
        raise PayloadError("", "expected a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown field"
            elif message.startswith("Value error, "):
                message = message[len("Value error, "):]
            problems.append((join_path(loc), message))
        path, message = problems[0]
        raise PayloadError(path, message, problems) from None


def parse_time(text: str, path: str) -> datetime:
    """An RFC 3339 time (nanoseconds and `+0000` offsets included), always aware."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PayloadError(path, f"invalid time {text!r}: expected RFC 3339") from None
    if value.tzinfo is None:
        raise PayloadError(path, f"time {text!r} has no UTC offset")
    return value


def parse_epoch_ms(value: str | int | float, path: str) -> datetime:
    """Milliseconds since the epoch, as Datadog and New Relic send them (also as strings)."""
    try:
        millis = float(value)
        return datetime.fromtimestamp(millis / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError):
        raise PayloadError(path, f"invalid epoch milliseconds {value!r}") from None


def clip(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def links(*candidates: tuple[str | None, str]) -> tuple[Link, ...]:
    """Links from (href, text) pairs, skipping empty hrefs and repeats."""
    seen: set[str] = set()
    out: list[Link] = []
    for href, text in candidates:
        if href and href.startswith(("http://", "https://")) and href not in seen:
            seen.add(href)
            out.append(Link(href, text))
    return tuple(out)


def with_severity(labels: Mapping[str, str], severity: str) -> dict[str, str]:
    """Labels with a `severity` label, so routing rules match alike on every source."""
    out = dict(labels)
    out.setdefault("severity", severity)
    return out
