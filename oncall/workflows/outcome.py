"""What one workflow step's call came to, in a form safe to put on the timeline.

Every executor returns a `StepOutcome` instead of raising: the durable run decides from
`ok` and `retryable` alone whether to go on, retry or stop, and shows `detail` to people, so
the detail is bounded and scrubbed of every secret the step resolved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, quote_plus

DETAIL_LIMIT = 1000
"""Characters of response or error a step keeps: enough to diagnose, small enough for a row."""
MASK = "***"
_URL_SAFE = ("", "/", "/:@!$&'()*+,;=~")
"""Characters left as they are by the encoders a secret may pass through in a URL (none, a
path's slashes, everything RFC 3986 allows in a path segment)."""


@dataclass(frozen=True)
class StepOutcome:
    ok: bool
    retryable: bool
    """Worth another attempt: timeouts, connection errors, 5xx and 429."""
    status_code: int | None
    """The HTTP (or SMTP) status where there was one."""
    detail: str
    """A bounded excerpt (at most `DETAIL_LIMIT` characters) of the response or the error,
    never a secret value."""
    duration_ms: int
    notifications: tuple[int, ...] = ()
    """`page`: the outbox rows written that are due now, for the worker's fast path (the
    sweeper finds every row anyway, the later ones when they fall due)."""


def elapsed_ms(started: float) -> int:
    """Milliseconds since `started` (a `time.monotonic()` reading)."""
    return max(0, int((time.monotonic() - started) * 1000))


def masked(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, and its URL- and JSON-escaped forms, replaced by `***`.

    Longest first, so a secret containing a shorter one is masked whole."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        forms.update({secret, quote_plus(secret), json.dumps(secret)[1:-1]})
        forms.update(quote(secret, safe=safe) for safe in _URL_SAFE)
    for form in sorted(forms, key=len, reverse=True):
        if form:
            text = text.replace(form, MASK)
    return text


def bounded(text: str, secrets: Iterable[str] = (), limit: int = DETAIL_LIMIT,
            suffix: str = "") -> str:
    """One line of at most `limit` characters, secrets masked before cutting (so no part of a
    secret survives a cut), `suffix` kept whole at the end."""
    line = " ".join(masked(text, secrets).split())
    room = limit - len(suffix)
    if len(line) > room:
        line = line[: max(0, room - 1)].rstrip() + "…"
    return line + suffix


def failed(detail: str, started: float, *, retryable: bool, status_code: int | None = None,
           secrets: Iterable[str] = ()) -> StepOutcome:
    return StepOutcome(False, retryable, status_code, bounded(detail, secrets),
                       elapsed_ms(started))
