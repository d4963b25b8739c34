"""Opsgenie's Alert API on SQLite and PostgreSQL, with the documented requests
(tests/fixtures/opsgenie_alerts): create, a repeat by alias joining the same incident,
acknowledge by alias, close by id, Opsgenie's answers and error shapes; a wrong key stores
nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from oncall.db.models import AlertDeliveryRow

from . import test_pagerduty_events as vendors
from .conftest import Api
from .test_pagerduty_events import GENIE_KEY, PAGERDUTY_KEY, fixture

api_engine = vendors.api_engine
"""The organisation with the PagerDuty and Opsgenie integrations."""
vendor_api = vendors.vendor_api


def post(api: Api, path: str, body: Any = None, key: str | None = GENIE_KEY,
         scheme: str = "GenieKey") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"{scheme} {key}"
    raw = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return api.client.post(path, content=raw, headers=headers)


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    assert answer["result"] == "Request will be processed"
    assert isinstance(answer["took"], float) and isinstance(answer["requestId"], str)
    assert response.headers["X-Request-ID"] == answer["requestId"]
    return answer


def test_create_repeat_acknowledge_by_alias_close_by_id(vendor_api: Api) -> None:
    api = vendor_api
    create = fixture("opsgenie_alerts", "create")
    first = accepted(post(api, "/v2/alerts", create))
    alert_id = first["data"]["alertId"]
    assert first["data"]["alias"] == "Life is too short for no alias"
    [incident] = api.incidents()
    assert incident.status == "triggered"
    [alert] = api.alerts()
    assert (str(alert.id), alert.integration_name, alert.summary, alert.severity) == (
        alert_id, "opsgenie-prod", "An example alert message", "critical")
    assert alert.labels["priority"] == "P1" and alert.labels["Critical"] == "true"

    repeat = accepted(post(api, "/v2/alerts", create))
    assert repeat["data"]["alertId"] == alert_id and repeat["requestId"] != first["requestId"]
    assert [i.id for i in api.incidents()] == [incident.id]

    alias = "Life%20is%20too%20short%20for%20no%20alias"
    accepted(post(api, f"/v2/alerts/{alias}/acknowledge?identifierType=alias",
                  fixture("opsgenie_alerts", "acknowledge")))
    assert [i.status for i in api.incidents()] == ["acknowledged"]

    accepted(post(api, f"/v2/alerts/{alert_id}/close", fixture("opsgenie_alerts", "close")))
    assert [i.status for i in api.incidents()] == ["resolved"]
    assert [a.status for a in api.alerts()] == ["resolved"]


def test_a_create_without_alias_is_a_new_alert_each_time(vendor_api: Api) -> None:
    api = vendor_api
    body = {"message": "Disk full on db-1", "priority": "P2"}
    first = accepted(post(api, "/v2/alerts", body))
    second = accepted(post(api, "/v2/alerts", body))
    assert first["data"]["alias"] != second["data"]["alias"]
    assert len(api.alerts()) == 2
    accepted(post(api, f"/v2/alerts/{first['data']['alertId']}/close?identifierType=id"))
    assert sorted(a.status for a in api.alerts()) == ["firing", "resolved"]


@pytest.mark.parametrize(("key", "scheme"), [
    (None, "GenieKey"),
    ("eb243592-faa2-4ba2-a551-1afdf565c880", "GenieKey"),  # unknown
    (GENIE_KEY[:-1], "GenieKey"),  # a prefix of the real key
    (PAGERDUTY_KEY, "GenieKey"),  # a PagerDuty integration's key
    (GENIE_KEY, "Bearer"),  # the right key, not as Opsgenie sends it
])
def test_a_wrong_key_is_401_and_stores_nothing(vendor_api: Api, key: str | None,
                                               scheme: str) -> None:
    api = vendor_api
    accepted(post(api, "/v2/alerts", {"message": "seed", "alias": "seed"}))
    before = api.stored()
    for path, body in (("/v2/alerts", fixture("opsgenie_alerts", "create")),
                       ("/v2/alerts/seed/acknowledge?identifierType=alias", None),
                       ("/v2/alerts/1/close", None)):
        response = post(api, path, body, key=key, scheme=scheme)
        assert response.status_code == 401, response.text
        answer = response.json()
        assert answer["message"] == "Could not authenticate"
        assert set(answer) == {"message", "took", "requestId"}
    assert api.stored() == before
    assert [i.status for i in api.incidents()] == ["triggered"]


@pytest.mark.parametrize(("body", "errors"), [
    ({"alias": "a"}, {"message": "Message can not be empty."}),
    ({"message": "m", "priority": "urgent"},
     {"priority": "should be one of [P1, P2, P3, P4, P5]"}),
    ({"message": "m", "tags": "env:prod"}, {"tags": "tags must be a list of strings"}),
    (["message"], {"body": "must be a JSON object"}),
])
def test_an_invalid_body_is_422_with_opsgenies_errors_map(vendor_api: Api, body: Any,
                                                          errors: dict[str, str]) -> None:
    response = post(vendor_api, "/v2/alerts", body)
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["message"] == "Request body is not processable. Please check the errors."
    assert answer["errors"] == errors
    assert vendor_api.stored() == (0, 0, 0)


def test_a_body_that_is_not_json_is_400(vendor_api: Api) -> None:
    response = post(vendor_api, "/v2/alerts", b"{message")
    assert response.status_code == 400
    assert set(response.json()) == {"message", "took", "requestId"}
    assert vendor_api.stored() == (0, 0, 0)


def test_acting_on_an_unknown_alert(vendor_api: Api) -> None:
    api = vendor_api
    for identifier in ("424242", "not-a-number"):
        missing = post(api, f"/v2/alerts/{identifier}/close")
        assert missing.status_code == 404
        assert missing.json()["message"] == f"Alert with id [{identifier}] does not exist"
    bad_type = post(api, "/v2/alerts/x/close?identifierType=tiny")
    assert bad_type.status_code == 422
    assert api.stored() == (0, 0, 0)
    # an alias with no open alert: accepted and dropped later, as Opsgenie processes it
    accepted(post(api, "/v2/alerts/nothing-open/acknowledge?identifierType=alias"))
    assert api.incidents() == []


def test_another_integrations_alert_id_is_not_found(vendor_api: Api) -> None:
    api = vendor_api
    response = api.post("synthetic-checks", {"summary": "Checkout down", "dedup_key": "c1"})
    assert response.status_code == 202, response.text
    [alert_id] = response.json()["alerts"]
    closed = post(api, f"/v2/alerts/{alert_id}/close")
    assert closed.status_code == 404
    assert [a.status for a in api.alerts()] == ["firing"]


def test_the_integrations_own_url_takes_a_create_with_its_key(vendor_api: Api) -> None:
    api = vendor_api
    url = "/api/v1/integrations/opsgenie-prod/alerts"
    assert post(api, url, fixture("opsgenie_alerts", "create"), key="wrong").status_code == 401
    assert api.count(AlertDeliveryRow) == 0
    accepted(post(api, url, fixture("opsgenie_alerts", "create")))
    assert [i.status for i in api.incidents()] == ["triggered"]
