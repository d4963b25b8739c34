"""Who may call each HTTP route: one table for the API and for the web app's own routes.

Every (method, path) the API serves, and every one of the web app's sign-in and feed routes,
names the credential it requires. The table is enforced, not just written down: `create_api`
refuses to build an app with a route the table does not list (`UnlistedRoute`), and the tests
walk both routers, call every listed route without credentials and expect a refusal (401, 403,
404, or a redirect to the sign-in page) from each that is not `PUBLIC`.

Adding a route: add its row here in the same change, with the weakest credential that reaches
the handler. A route that is really public says so (`Access.PUBLIC`) and must return nothing
that needs a credential to see. docs/security.md explains what each credential proves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum

from starlette.routing import BaseRoute, Host, Mount, Route, WebSocketRoute


class Access(StrEnum):
    """The credential a route requires before its handler reads or changes anything."""

    PUBLIC = "public"
    """Nothing: the response holds nothing that needs a credential (a form, a document)."""
    INTEGRATION = "integration"
    """The named integration's own credential: its bearer secret or HMAC signature, or for
    CloudWatch an SNS signature from one of the integration's pinned topic ARNs."""
    VENDOR_KEY = "vendor-key"
    """A vendor integration key where that vendor's monitors send it: PagerDuty's
    `routing_key` in the body (missing or unknown: PagerDuty's own 400 `invalid event`) or
    Opsgenie's `Authorization: GenieKey` (401); matched in constant time against every
    integration of that type."""
    HEARTBEAT = "heartbeat"
    """The named Heartbeat's secret, as `Bearer` or Opsgenie's `GenieKey`; a name that is no
    applied heartbeat answers 404."""
    API_KEY = "api-key"
    """`Authorization: Bearer` with a user's API key; that user's permissions then apply."""
    SLACK_SIGNATURE = "slack-signature"
    """Slack's request signature (signing secret, timestamp within 5 minutes)."""
    TWILIO_SIGNATURE = "twilio-signature"
    """Twilio's `X-Twilio-Signature` over the public URL and the form (auth token)."""
    SIGNED_LINK = "signed-link"
    """A signed, expiring, single-incident token in the path (the one-click acknowledge link)."""
    FEED_TOKEN = "feed-token"
    """A secret feed token in the path, revoked with its owner (iCal subscriptions)."""
    METRICS_TOKEN = "metrics-token"
    """`Authorization: Bearer` with ONCALL_METRICS_TOKEN; without the setting the route is 404."""
    SIGN_IN = "sign-in"
    """A sign-in step: the identity provider's code with the state cookie set by the start of
    the flow, or a break-glass password with the form's CSRF cookie (throttled)."""
    SESSION = "session"
    """A signed-in session's cookie and its CSRF token, from our own origin."""
    SUBSCRIBER_TOKEN = "subscriber-token"
    """The random token of one status page subscription, from the mail sent to it: it confirms
    or ends that subscription and nothing else; an unknown token gets the same 404."""
    PARTNER_SIGN_IN = "partner-sign-in"
    """A `partners` status page's sign-in form: it answers 404 for any other page, and the
    same words whether or not the address may read the page (a link goes only to those who
    may)."""
    PARTNER_LINK = "partner-link"
    """A single-use, expiring sign-in link mailed to a partner listed in the page's YAML; it
    opens a read-only session for that page alone."""
    PAGE_VISIBILITY = "page-visibility"
    """The status page's own `visibility`: a public page to anyone; a private (or partners)
    page only to a signed-in session's cookie. Everyone else, and any unknown page, gets the
    same 404, so a private page's name is not confirmed."""


Key = tuple[str, str]
"""(HTTP method, path template as Starlette writes it), e.g. ("GET", "/metrics")."""

_INCIDENT = "/api/v1/incidents/{incident_id:int}"
_POSTMORTEM = "/api/v1/postmortems/{postmortem_id:int}"

API: Mapping[Key, Access] = {
    ("POST", "/api/v1/integrations/{name}/alerts"): Access.INTEGRATION,
    ("GET", "/api/v1/incidents"): Access.API_KEY,
    ("GET", _INCIDENT): Access.API_KEY,
    ("POST", f"{_INCIDENT}/acknowledge"): Access.API_KEY,
    ("POST", f"{_INCIDENT}/resolve"): Access.API_KEY,
    ("POST", f"{_INCIDENT}/notes"): Access.API_KEY,
    ("POST", f"{_INCIDENT}/runbooks/{{name}}"): Access.API_KEY,
    ("POST", f"{_INCIDENT}/reassign"): Access.API_KEY,
    ("POST", f"{_INCIDENT}/priority"): Access.API_KEY,
    ("POST", "/api/v1/incidents"): Access.API_KEY,
    ("POST", f"{_INCIDENT}/escalate"): Access.API_KEY,
    ("PUT", f"{_INCIDENT}/roles/{{name}}"): Access.API_KEY,
    ("DELETE", f"{_INCIDENT}/roles/{{name}}"): Access.API_KEY,
    ("GET", "/api/v1/openapi.json"): Access.PUBLIC,
    ("POST", "/api/v1/slack/interactions"): Access.SLACK_SIGNATURE,
    ("POST", "/api/v1/slack/commands"): Access.SLACK_SIGNATURE,
    ("GET", "/ack/{token}"): Access.SIGNED_LINK,
    ("POST", "/ack/{token}"): Access.SIGNED_LINK,
    ("GET", "/metrics"): Access.METRICS_TOKEN,
    ("POST", "/api/v1/twilio/sms"): Access.TWILIO_SIGNATURE,
    ("POST", "/api/v1/twilio/sms/status"): Access.TWILIO_SIGNATURE,
    ("POST", "/api/v1/twilio/voice/status"): Access.TWILIO_SIGNATURE,
    ("POST", "/api/v1/twilio/voice/gather"): Access.TWILIO_SIGNATURE,
    ("GET", "/status/{name}"): Access.PAGE_VISIBILITY,
    ("GET", "/status/{name}/feed.atom"): Access.PAGE_VISIBILITY,
    ("GET", "/status/{name}/api/v2/{document:path}.json"): Access.PAGE_VISIBILITY,
    ("POST", "/status/{name}/subscribe"): Access.PAGE_VISIBILITY,
    ("GET", "/status/{name}/subscriptions/{token}/confirm"): Access.SUBSCRIBER_TOKEN,
    ("POST", "/status/{name}/subscriptions/{token}/confirm"): Access.SUBSCRIBER_TOKEN,
    ("GET", "/status/{name}/subscriptions/{token}/unsubscribe"): Access.SUBSCRIBER_TOKEN,
    ("POST", "/status/{name}/subscriptions/{token}/unsubscribe"): Access.SUBSCRIBER_TOKEN,
    ("GET", "/status/{name}/partners/sign-in"): Access.PARTNER_SIGN_IN,
    ("POST", "/status/{name}/partners/sign-in"): Access.PARTNER_SIGN_IN,
    ("GET", "/status/{name}/partners/link/{token}"): Access.PARTNER_LINK,
    ("POST", "/status/{name}/partners/link/{token}"): Access.PARTNER_LINK,
    ("POST", "/status/{name}/partners/sign-out"): Access.PAGE_VISIBILITY,
    ("GET", "/api/v1/reports/{name}"): Access.API_KEY,
    ("POST", "/api/v1/integrations/{name}/changes"): Access.INTEGRATION,
    ("POST", "/v2/enqueue"): Access.VENDOR_KEY,
    ("POST", "/v2/change/enqueue"): Access.VENDOR_KEY,
    ("POST", "/v2/alerts"): Access.VENDOR_KEY,
    ("POST", "/v2/alerts/{identifier}/acknowledge"): Access.VENDOR_KEY,
    ("POST", "/v2/alerts/{identifier}/close"): Access.VENDOR_KEY,
    ("GET", "/api/v1/heartbeats/{name}/ping"): Access.HEARTBEAT,
    ("POST", "/api/v1/heartbeats/{name}/ping"): Access.HEARTBEAT,
    ("GET", "/v2/heartbeats/{name}/ping"): Access.HEARTBEAT,
    ("POST", "/v2/heartbeats/{name}/ping"): Access.HEARTBEAT,
    ("PUT", "/v2/heartbeats/{name}/ping"): Access.HEARTBEAT,
    ("PATCH", "/v2/heartbeats/{name}/ping"): Access.HEARTBEAT,
    ("GET", "/api/v1/postmortems"): Access.API_KEY,
    ("POST", "/api/v1/postmortems"): Access.API_KEY,
    ("GET", _POSTMORTEM): Access.API_KEY,
    ("PATCH", _POSTMORTEM): Access.API_KEY,
    ("POST", f"{_POSTMORTEM}/incidents"): Access.API_KEY,
    ("DELETE", f"{_POSTMORTEM}/incidents/{{incident_id:int}}"): Access.API_KEY,
    ("PUT", f"{_POSTMORTEM}/timeline/{{entry_key}}"): Access.API_KEY,
    ("POST", f"{_POSTMORTEM}/action-items"): Access.API_KEY,
    ("GET", f"{_POSTMORTEM}/export.md"): Access.API_KEY,
    ("GET", "/api/v1/action-items"): Access.API_KEY,
    ("PATCH", "/api/v1/action-items/{item_id:int}"): Access.API_KEY,
    ("DELETE", "/api/v1/action-items/{item_id:int}"): Access.API_KEY,
    ("GET", "/api/v1/oncall"): Access.API_KEY,
    ("GET", "/api/v1/schedules"): Access.API_KEY,
    ("GET", "/api/v1/schedules/{name}/shifts"): Access.API_KEY,
    ("GET", "/api/v1/schedules/{name}/overrides"): Access.API_KEY,
    ("POST", "/api/v1/schedules/{name}/overrides"): Access.API_KEY,
    ("GET", "/api/v1/schedules/{name}/overrides/{identifier}"): Access.API_KEY,
    ("DELETE", "/api/v1/schedules/{name}/overrides/{identifier}"): Access.API_KEY,
    ("GET", "/api/v1/services"): Access.API_KEY,
    ("GET", "/api/v1/services/{name}"): Access.API_KEY,
    ("GET", "/api/v1/users"): Access.API_KEY,
    ("GET", "/api/v1/audit"): Access.API_KEY,
    ("GET", "/api/v1/users/me/notification-rules"): Access.API_KEY,
    ("PUT", "/api/v1/users/me/notification-rules"): Access.API_KEY,
    ("POST", "/api/v1/users/me/test-page"): Access.API_KEY,
    ("GET", "/healthz"): Access.PUBLIC,
    ("GET", "/readyz"): Access.PUBLIC,
    ("GET", "/api/v1/delivery-health"): Access.API_KEY,
}
"""The API app (`oncall.api.app.create_api`, every module in ROUTE_MODULES)."""

WEB: Mapping[Key, Access] = {
    ("GET", "/auth/oidc/start"): Access.PUBLIC,
    ("GET", "/auth/oidc/callback"): Access.SIGN_IN,
    ("GET", "/auth/local"): Access.PUBLIC,
    ("POST", "/auth/local"): Access.SIGN_IN,
    ("POST", "/auth/logout"): Access.SESSION,
    ("GET", "/ical/{token}.ics"): Access.FEED_TOKEN,
    ("GET", "/postmortems/{postmortem_id:int}/print"): Access.SESSION,
    ("GET", "/postmortems/{postmortem_id:int}/export.md"): Access.SESSION,
    ("GET", "/audit/export.csv"): Access.SESSION,
}
"""The web app's own HTTP routes (`oncall.web.routes.router`). Reflex's event websocket is
guarded per event handler, not here."""


class UnlistedRoute(RuntimeError):
    """A route that the access table does not list: the app refuses to start with it."""


def route_keys(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[Key]:
    """Every (method, path) the routes answer, walking into mounts and hosts.

    HEAD is left out where GET is served (Starlette adds it: GET without a body); a route that
    takes every method yields "*", a websocket "WEBSOCKET", so neither can slip through.
    """
    for route in routes:
        if isinstance(route, Route):
            path = prefix + route.path
            methods = set(route.methods or {"*"})
            if "GET" in methods:
                methods.discard("HEAD")
            for method in sorted(methods):
                yield method, path
        elif isinstance(route, WebSocketRoute):
            yield "WEBSOCKET", prefix + route.path
        elif isinstance(route, (Mount, Host)):
            inner = prefix + route.path if isinstance(route, Mount) else prefix
            yield from route_keys(route.routes, inner)
        else:  # a custom BaseRoute: nothing says what it serves
            yield "*", prefix + str(getattr(route, "path", repr(route)))


def unlisted(routes: Iterable[BaseRoute], table: Mapping[Key, Access]) -> list[Key]:
    """The routes' (method, path) pairs that have no row in `table`."""
    return [key for key in route_keys(routes) if key not in table]


def require_listed(routes: Iterable[BaseRoute], table: Mapping[Key, Access], app: str) -> None:
    """Raise UnlistedRoute naming every route of `app` without a row in `table`."""
    missing = unlisted(routes, table)
    if missing:
        listed = ", ".join(f"{method} {path}" for method, path in missing)
        raise UnlistedRoute(
            f"{app}: no access rule for {listed}: add each to oncall/api/access.py with the "
            "credential it requires (Access.PUBLIC only if it returns nothing private)"
        )
