"""Rate limits on SQLite and PostgreSQL (buckets in the database) and with Redis: an integration
over its limit is answered 429 with Retry-After and stores nothing, another integration is
untouched, PagerDuty and Opsgenie monitors get their vendor's own 429, an API key over its
limit is refused, refusals are counted in /metrics, and a limiter out of reach lets alerts
through."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from oncall.api.metrics import Scrapes
from oncall.config.configset import ConfigSet
from oncall.config.models import Integration, Organization, RateLimit, RateLimits
from oncall.core.ratelimit import Decision, Limit
from oncall.reconcile.apply import Origin, apply_config
from oncall.settings import Settings
from oncall.store.ratelimit import Limiter, RedisLimiter

from .conftest import NOW, RESPONDER, Api, with_integrations
from .test_pagerduty_events import GENIE_KEY, PAGERDUTY_KEY, VENDOR_SECRETS, critical
from .test_pagerduty_events import with_vendor_integrations as _vendors

LIMITED = {"per_second": 1, "burst": 2}


def limited(config: ConfigSet) -> ConfigSet:
    """Every integration of the api fixtures, synthetic-checks and the two vendor ones limited
    to 2 at once, and API keys to 2 at once."""
    out = _vendors(config)
    for name in ("synthetic-checks", "pagerduty-prod", "opsgenie-prod"):
        out.objects[Integration.KIND][name] = out.integrations[name].model_copy(
            update={"rate_limit": RateLimit.model_validate(LIMITED)})
    org = out.organization
    assert org is not None
    out.objects[Organization.KIND][org.name] = org.model_copy(
        update={"rate_limits": RateLimits.model_validate({"api_keys": LIMITED})})
    return out


@pytest.fixture
def api_engine(migrated_engine: Engine, example_config: ConfigSet) -> Engine:
    origin = Origin(actor="tests", source="tests", revision=None, now=NOW - timedelta(days=1))
    apply_config(migrated_engine, limited(with_integrations(example_config)), origin)
    return migrated_engine


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def limited_api(request: pytest.FixtureRequest, make_api: Callable[..., Api],
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    for name, value in VENDOR_SECRETS.items():
        monkeypatch.setenv(name, value)
    api = make_api()
    if request.param == "redis":
        client = redis.Redis.from_url("redis://127.0.0.1:6379/11", socket_connect_timeout=2)
        client.flushdb()
        api.app.state.ctx.process.limiter = RedisLimiter("redis://127.0.0.1:6379/11")
        yield api
        client.flushdb()
    else:
        yield api


ALERT = {"summary": "Checkout journey failing", "severity": "critical"}


def test_an_integration_over_its_limit_is_refused_and_stores_nothing(limited_api: Api) -> None:
    api = limited_api
    answers = [api.post("synthetic-checks", {**ALERT, "dedup_key": f"a{i}"}) for i in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    refused = answers[2]
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json() == {
        "type": "https://oncall.dev/problems/rate-limited", "title": "Too Many Requests",
        "status": 429,
        "detail": "integration synthetic-checks is over its rate limit: retry after 1 s",
        "instance": "/api/v1/integrations/synthetic-checks/alerts"}
    assert len(api.alerts()) == 2
    # another integration has its own bucket (the default: a thousand at once)
    others = [api.post("prometheus-prod", {"receiver": "x", "status": "firing", "alerts": []})
              for _ in range(5)]
    assert {o.status_code for o in others} != {429}


def test_a_refusal_costs_a_sender_without_credentials_nothing(limited_api: Api) -> None:
    api = limited_api
    for _ in range(5):
        assert api.post("synthetic-checks", ALERT, token="wrong").status_code == 401
    assert api.post("synthetic-checks", ALERT).status_code == 202


def test_pagerduty_and_opsgenie_monitors_get_their_vendors_429(limited_api: Api) -> None:
    api = limited_api
    answers = [api.client.post("/v2/enqueue", json={**critical("trigger"), "dedup_key": f"k{i}"})
               for i in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert answers[2].json() == {
        "status": "throttle exceeded",
        "message": "Requests for this service are arriving too quickly. Please retry later."}
    assert answers[2].headers["Retry-After"] == "1"
    genie = {"Authorization": f"GenieKey {GENIE_KEY}"}
    created = [api.client.post("/v2/alerts", json={"message": "Disk full", "alias": f"d{i}"},
                               headers=genie) for i in range(3)]
    assert [c.status_code for c in created] == [202, 202, 429]
    body = created[2].json()
    assert body["message"] == ("You are making too many requests! To avoid errors, we "
                               "recommend you limit requests.")
    assert set(body) == {"message", "took", "requestId"}
    assert PAGERDUTY_KEY not in answers[2].text


def test_an_api_key_over_its_limit_is_refused(limited_api: Api) -> None:
    api = limited_api
    key = api.key(RESPONDER)
    headers = {"Authorization": f"Bearer {key}"}
    answers = [api.client.get("/api/v1/incidents", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["detail"] == "this API key is over its rate limit: retry after 1 s"
    other = api.key(RESPONDER, name="another")
    assert api.client.get("/api/v1/incidents",
                          headers={"Authorization": f"Bearer {other}"}).status_code == 200


def _metric(text: str, integration: str) -> float:
    found = re.search(rf'^oncall_rate_limited_total\{{integration="{integration}"\}} (\S+)$',
                      text, re.M)
    assert found is not None, text
    return float(found.group(1))


def test_refusals_are_counted_in_metrics(limited_api: Api) -> None:
    api = limited_api
    for i in range(5):
        api.post("synthetic-checks", {**ALERT, "dedup_key": f"m{i}"})
    text = Scrapes(api.app.state.ctx).compute()  # what /metrics serves, uncached
    assert "# TYPE oncall_rate_limited_total counter" in text
    assert _metric(text, "synthetic-checks") == 3
    assert _metric(text, "prometheus-prod") == 0


class _Unreachable:
    def take(self, key: str, limit: Limit, now: float, conn: Any = None) -> Decision:
        raise redis.exceptions.ConnectionError("Connection refused")

    async def atake(self, key: str, limit: Limit, now: float) -> Decision:
        raise redis.exceptions.ConnectionError("Connection refused")

    def refused(self, keys: Any) -> dict[str, int]:
        raise redis.exceptions.ConnectionError("Connection refused")


def test_alerts_go_through_when_the_limits_are_out_of_reach(
        limited_api: Api, caplog: pytest.LogCaptureFixture) -> None:
    api = limited_api
    unreachable: Limiter = _Unreachable()
    api.app.state.ctx.process.limiter = unreachable
    answers = [api.post("synthetic-checks", {**ALERT, "dedup_key": f"u{i}"}) for i in range(4)]
    assert [a.status_code for a in answers] == [202] * 4
    assert "rate limit of integration synthetic-checks not checked" in caplog.text


def test_default_limits(example_config: ConfigSet) -> None:
    org = example_config.organization
    assert org is not None
    limits = org.rate_limits
    assert (limits.integrations.per_second, limits.integrations.burst) == (100, 1000)
    assert (limits.api_keys.per_second, limits.api_keys.burst) == (10, 100)
    assert Settings(database_url="sqlite://").redis_url is None
