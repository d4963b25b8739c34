"""RFC 7807 problem documents: every error the API answers is `application/problem+json`.

A problem names what to fix: `invalid-params` lists the offending fields (`alerts[0].startsAt`)
with a reason each, so a sender can correct its payload without reading our code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://oncall.dev/problems/"

_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "invalid-payload",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


class ProblemResponse(Response):
    media_type = PROBLEM_JSON


def problem_body(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    invalid_params: Sequence[tuple[str, str]] = (),
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + _SLUGS.get(status, str(status)),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if invalid_params:
        body["invalid-params"] = [
            {"name": name or "body", "reason": reason} for name, reason in invalid_params
        ]
    if extra:
        body.update(extra)
    return body


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    invalid_params: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Response:
    body = problem_body(status, detail, title=title, instance=instance,
                        invalid_params=invalid_params, extra=extra)
    return ProblemResponse(
        json.dumps(body, ensure_ascii=False), status_code=status, headers=dict(headers or {})
    )


def unprocessable(field: str, reason: str, problems: Sequence[tuple[str, str]] = (),
                  instance: str | None = None) -> Response:
    """422 naming the field (`""` is the body itself)."""
    shown = field or "body"
    return problem(
        422, f"{shown}: {reason}", instance=instance,
        invalid_params=problems or ((field, reason),),
    )


def unavailable(retry_after: int, instance: str | None = None) -> Response:
    """503 with Retry-After: the sender retries and nothing was accepted."""
    return problem(
        503, "the database is unavailable; nothing was stored, retry later",
        instance=instance, headers={"Retry-After": str(retry_after)},
    )
