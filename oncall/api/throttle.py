"""Rate limits of the API: per integration (its alerts) and per API key (its calls).

The buckets are the process context's (`Context.limits`: Redis when configured, else the
database), so every process of the installation counts against the same ones; the limits are
the applied config's (`Organization.rate_limits`, an Integration's own `rate_limit`). A
refused call is answered 429 with `Retry-After` before anything is parsed or stored, and
counted (`/metrics`: `oncall_rate_limited_total`; the services page).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

from sqlalchemy import Connection
from starlette.responses import Response

from oncall.api import problems
from oncall.config.configset import ConfigSet
from oncall.config.models import Integration, RateLimit, RateLimits
from oncall.core.ratelimit import Decision, Limit

if TYPE_CHECKING:
    from oncall.api.app import ApiContext

log = logging.getLogger(__name__)


def limits_of(config: ConfigSet) -> RateLimits:
    org = config.organization
    return org.rate_limits if org is not None else RateLimits()


def _limit(spec: RateLimit) -> Limit:
    return Limit(spec.per_second, spec.burst)


def integration_key(name: str) -> str:
    return f"integration:{name}"


def api_key_key(prefix: str) -> str:
    return f"api-key:{prefix}"


def integration_limit(config: ConfigSet, integration: Integration) -> Limit:
    return _limit(integration.rate_limit or limits_of(config).integrations)


def retry_after(decision: Decision) -> str:
    """Whole seconds, rounded up: a client that waits this long is let through."""
    return str(max(1, math.ceil(decision.retry_after)))


ADMITTED = Decision(True, 0.0, 0.0)


async def admit_alert(ctx: ApiContext, config: ConfigSet, integration: Integration
                      ) -> Decision:
    """One delivery of `integration` against its bucket. Should the buckets be out of reach
    (Redis down), the delivery is let through: a limit protects paging, it never stops it."""
    now = ctx.clock().timestamp()
    try:
        return await ctx.process.limits().atake(integration_key(integration.name),
                                                integration_limit(config, integration), now)
    except Exception as exc:  # noqa: BLE001 - fail open, loudly
        log.warning("rate limit of integration %s not checked: %s", integration.name, exc)
        return ADMITTED


def too_many(decision: Decision, what: str, instance: str) -> Response:
    """The RFC 7807 answer of a refused call."""
    wait = retry_after(decision)
    return problems.problem(
        429, f"{what} is over its rate limit: retry after {wait} s", title="Too Many Requests",
        instance=instance, headers={"Retry-After": wait})


def admit_api_key(ctx: ApiContext, conn: Connection, config: ConfigSet, prefix: str
                  ) -> Decision:
    """One call of the API key `prefix`, in the caller's transaction where the buckets are
    in the database (a second connection would wait on the first's lock on SQLite)."""
    limit = _limit(limits_of(config).api_keys)
    return ctx.process.limits().take(api_key_key(prefix), limit, ctx.clock().timestamp(),
                                     conn=conn)
