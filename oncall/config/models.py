"""Pydantic models for every kind of the config format (see docs/config-reference.md).

Models hold parsed values (zones, durations, matchers) so the pure core computes with them
directly. They check what one document can check alone; references between documents are
checked in `oncall.config.checks`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from dateutil.rrule import rrulestr
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from oncall.config.types import (
    EMAIL_PATTERN,
    WEEKDAYS,
    ClockTime,
    Duration,
    DurationField,
    Email,
    EnvText,
    LocalDateTime,
    MatcherField,
    Name,
    PositiveDuration,
    Priority,
    SecretRef,
    TargetField,
    TimeZone,
    Weekday,
    describe,
)

API_VERSION = "oncall/v1"


class Strict(BaseModel):
    """Base for every mapping in the format: unknown fields are errors, typos never pass."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=True)


class ConfigObject(Strict):
    """A top-level document: `kind` and `name`, unique per kind."""

    KIND: ClassVar[str]
    api_version: Literal["oncall/v1"] = Field("oncall/v1", alias="apiVersion")
    name: Name


# --- Team ------------------------------------------------------------------------------------

Role = Literal["admin", "responder", "observer"]


class Member(Strict):
    email: Email
    name: str | None = None
    role: Role = "responder"


class Team(ConfigObject):
    KIND: ClassVar[str] = "Team"
    kind: Literal["Team"]
    description: str | None = None
    members: list[Member] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_members(self) -> Team:
        seen: set[str] = set()
        for m in self.members:
            if m.email in seen:
                raise ValueError(f"{m.email} is listed twice in team {self.name}")
            seen.add(m.email)
        return self


# --- Schedule --------------------------------------------------------------------------------


class Rotation(Strict):
    # `start` comes first so that the `rrule` check can read it and report at the rrule itself.
    start: LocalDateTime
    every: DurationField | None = None
    rrule: str | None = None

    @field_validator("every")
    @classmethod
    def _every(cls, every: Duration | None) -> Duration | None:
        if every is None:
            return every
        if every.total_seconds <= 0:
            raise ValueError("'every' must be longer than zero")
        if every.days and every.seconds:
            raise ValueError(
                f"'every: {every}' mixes days with hours: use whole days/weeks "
                "(wall-clock handoffs) or hours/minutes (elapsed time), not both"
            )
        if not every.days and every.seconds < 60:
            raise ValueError("'every' must be at least 1m")
        return every

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, rrule: str | None, info: ValidationInfo) -> str | None:
        start = info.data.get("start")
        if rrule is not None and start is not None:
            _check_rrule(rrule, start)
        return rrule

    @model_validator(mode="after")
    def _one_kind(self) -> Rotation:
        if (self.every is None) == (self.rrule is None):
            raise ValueError("a rotation needs exactly one of 'every' or 'rrule'")
        return self


def _check_rrule(text: str, start: datetime) -> None:
    upper = text.upper()
    if "DTSTART" in upper:
        raise ValueError("rrule must not contain DTSTART: the rotation's 'start' is used")
    if upper.startswith("RRULE:"):
        text = text[6:]
    try:
        rule = rrulestr(text, dtstart=start)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid rrule {text!r}: {exc}") from None
    if rule.after(start, inc=False) is None:  # type: ignore[union-attr]
        raise ValueError(f"rrule {text!r} gives no handoff after the rotation's start")


class Restriction(Strict):
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    from_: ClockTime = Field(alias="from")
    to: ClockTime

    @model_validator(mode="after")
    def _not_empty(self) -> Restriction:
        if self.from_ == self.to:
            raise ValueError("a restriction window must not start and end at the same time")
        if self.from_ == 1440:
            raise ValueError("'from' cannot be 24:00")
        return self


class Layer(Strict):
    name: Name
    members: list[Email] = Field(min_length=1)
    rotation: Rotation
    restrictions: list[Restriction] = Field(default_factory=list)
    until: LocalDateTime | None = None

    @field_validator("until")
    @classmethod
    def _until_after_start(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        rotation = info.data.get("rotation")
        if until is not None and rotation is not None and until <= rotation.start:
            raise ValueError("'until' must be after the rotation's start")
        return until


class Override(Strict):
    who: Email
    from_: LocalDateTime = Field(alias="from")
    to: LocalDateTime

    @field_validator("to")
    @classmethod
    def _positive(cls, to: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("from_")
        if start is not None and to <= start:
            raise ValueError("an override must end after it starts")
        return to


class HandoffNotices(Strict):
    """Telling people when their time on call starts and ends (and when their next turn is)."""

    enabled: bool = True
    min_shift: DurationField = Field(default_factory=lambda: Duration.parse("1h"))
    """Time on call shorter than this (a restricted layer's short window, a brief override)
    makes no notices."""


class Schedule(ConfigObject):
    KIND: ClassVar[str] = "Schedule"
    kind: Literal["Schedule"]
    description: str | None = None
    team: Name
    timezone: TimeZone
    layers: list[Layer] = Field(min_length=1)
    overrides: list[Override] = Field(default_factory=list)
    handoff_notices: HandoffNotices = Field(default_factory=HandoffNotices)

    @model_validator(mode="after")
    def _unique_layers(self) -> Schedule:
        seen: set[str] = set()
        for layer in self.layers:
            if layer.name in seen:
                raise ValueError(f"layer name {layer.name!r} is used twice")
            seen.add(layer.name)
        return self


# --- EscalationPolicy ------------------------------------------------------------------------


class Step(Strict):
    targets: list[TargetField] = Field(min_length=1)
    timeout: PositiveDuration


class EscalationPolicy(ConfigObject):
    KIND: ClassVar[str] = "EscalationPolicy"
    kind: Literal["EscalationPolicy"]
    description: str | None = None
    repeat: int = Field(0, ge=0, le=20)
    steps: list[Step] = Field(min_length=1)


# --- Service ---------------------------------------------------------------------------------


class LinkRunbook(Strict):
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://")


class AutomatedRunbook(Strict):
    runbook: Name


def _runbook_ref_tag(value: Any) -> str | None:
    if isinstance(value, AutomatedRunbook):
        return "automated"
    if isinstance(value, LinkRunbook):
        return "link"
    if isinstance(value, dict):
        if "runbook" in value:
            return "automated"
        if "url" in value or "title" in value:
            return "link"
    return None


RunbookRef = Annotated[
    Annotated[LinkRunbook, Tag("link")] | Annotated[AutomatedRunbook, Tag("automated")],
    Discriminator(
        _runbook_ref_tag,
        custom_error_type="invalid_runbook_ref",
        custom_error_message="expected {title, url} or {runbook: NAME}",
    ),
]


class Service(ConfigObject):
    KIND: ClassVar[str] = "Service"
    kind: Literal["Service"]
    description: str | None = None
    team: Name
    escalation_policy: Name | None = None
    urgency: Literal["high", "low"] = "high"
    depends_on: list[Name] = Field(default_factory=list)
    slack_channel: str | None = Field(None, pattern=r"^[#@]?[a-z0-9._-]{1,80}$|^[CG][A-Z0-9]{6,}$")
    teams_webhook: SecretRef | None = None
    runbooks: list[RunbookRef] = Field(default_factory=list)


# --- Integration -----------------------------------------------------------------------------

IntegrationType = Literal["generic", "alertmanager", "datadog", "newrelic", "cloudwatch", "grafana",
                          "pagerduty", "opsgenie"]


class RateLimit(Strict):
    """`per_second` requests on average, `burst` at once after a quiet spell."""

    per_second: float = Field(gt=0, le=1_000_000)
    burst: int = Field(ge=1, le=1_000_000)


class Integration(ConfigObject):
    KIND: ClassVar[str] = "Integration"
    kind: Literal["Integration"]
    description: str | None = None
    type: IntegrationType
    service: Name
    secret: SecretRef | None = None
    auth: Literal["bearer", "hmac"] | None = None
    rate_limit: RateLimit | None = None
    """This integration's own limit; None: the Organization's `rate_limits.integrations`."""
    topic_arns: list[str] = Field(default_factory=list)
    """cloudwatch: the SNS topics whose messages are accepted (required: `oncall validate`
    refuses a cloudwatch integration without it; an empty list accepts no topic)."""

    _ARN_PARTITIONS: ClassVar[tuple[str, ...]] = ("aws", "aws-cn", "aws-us-gov")

    @field_validator("topic_arns")
    @classmethod
    def _topic_arns(cls, arns: list[str]) -> list[str]:
        for arn in arns:
            parts = arn.split(":")
            name = parts[5] if len(parts) == 6 else ""
            base = name.removesuffix(".fifo")
            if (len(parts) != 6 or parts[0] != "arn" or parts[1] not in cls._ARN_PARTITIONS
                    or parts[2] != "sns" or not parts[3]
                    or not all(c.isascii() and (c.isalnum() or c == "-") for c in parts[3])
                    or not (len(parts[4]) == 12 and parts[4].isascii() and parts[4].isdigit())
                    or not 1 <= len(name) <= 256
                    or not all(c.isascii() and (c.isalnum() or c in "-_") for c in base)):
                raise ValueError(f"invalid SNS topic ARN {arn!r}: expected "
                                 "arn:aws:sns:<region>:<12-digit account>:<topic name>")
        if len(set(arns)) != len(arns):
            raise ValueError("a topic ARN is listed twice")
        return arns

    def model_dump(self, **kwargs: Any) -> dict[str, Any]:
        # The stored spec of an integration without topics stays as it was before the field
        # existed, so upgrading does not show every Integration as changed in `oncall plan`.
        dumped = super().model_dump(**kwargs)
        if not self.topic_arns:
            dumped.pop("topic_arns", None)
        return dumped

    @model_validator(mode="after")
    def _secret_required(self) -> Integration:
        # CloudWatch arrives through SNS and is authenticated by SNS's own signature.
        if self.secret is None and self.type != "cloudwatch":
            raise ValueError(f"an {self.type} integration needs a 'secret: ${{env:NAME}}'")
        if self.topic_arns and self.type != "cloudwatch":
            raise ValueError("'topic_arns' applies only to a cloudwatch integration")
        # The vendor's own clients send the key their way (PagerDuty: `routing_key` in the
        # body; Opsgenie: `Authorization: GenieKey`), never an HMAC signature.
        if self.auth == "hmac" and self.type in ("pagerduty", "opsgenie"):
            raise ValueError(f"a {self.type} integration is authenticated by its key, as "
                             f"{self.type} clients send it: 'auth: hmac' does not apply")
        return self


# --- RoutingRule -----------------------------------------------------------------------------


class RoutingRule(ConfigObject):
    KIND: ClassVar[str] = "RoutingRule"
    kind: Literal["RoutingRule"]
    description: str | None = None
    order: int = 100
    integrations: list[Name] = Field(default_factory=list)
    matchers: list[MatcherField] = Field(default_factory=list)
    service: Name | None = None
    drop: bool = False
    priority: Priority | None = None
    group_by: list[str] = Field(default_factory=list)
    continue_: bool = Field(False, alias="continue")

    @field_validator("drop")
    @classmethod
    def _not_both(cls, drop: bool, info: ValidationInfo) -> bool:
        if drop and info.data.get("service") is not None:
            raise ValueError("a rule either routes to a 'service' or has 'drop: true', not both")
        return drop

    @model_validator(mode="after")
    def _service_or_drop(self) -> RoutingRule:
        if not self.drop and self.service is None:
            raise ValueError("a rule needs a 'service' to route to, or 'drop: true'")
        return self


# --- MaintenanceWindow -----------------------------------------------------------------------


class MaintenanceWindow(ConfigObject):
    KIND: ClassVar[str] = "MaintenanceWindow"
    kind: Literal["MaintenanceWindow"]
    description: str | None = None
    services: list[Name] = Field(min_length=1)
    from_: LocalDateTime = Field(alias="from")
    to: LocalDateTime
    timezone: TimeZone

    @field_validator("to")
    @classmethod
    def _positive(cls, to: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("from_")
        if start is not None and to <= start:
            raise ValueError("a maintenance window must end after it starts")
        return to


# --- Runbook ---------------------------------------------------------------------------------

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

MAX_RESPONSE_BYTES = 65536
"""How much of a webhook's or runbook's response is read by default: enough for an excerpt."""
MAX_RESPONSE_BYTES_LIMIT = 1024 * 1024
"""The most any step may read: a response is kept as an excerpt, never stored whole."""


class _OmitDefaults(Strict):
    """Fields added after the format shipped are left out of a dump while at their default, so
    upgrading does not show every Workflow and Runbook as changed in `oncall plan`."""

    _OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        dumped = handler(self)
        if isinstance(dumped, dict):
            for name in self._OMIT_AT_DEFAULT:
                field = type(self).model_fields[name]
                if getattr(self, name) == field.get_default(call_default_factory=True):
                    dumped.pop(field.alias or name, None)
        return dumped


class Webhook(Strict):
    # `url` and `headers` are not templates: they are sent as written, with only their
    # `${env:NAME}` references resolved, so no alert text can change where a call goes.
    url: EnvText = Field(pattern=r"^(https?://|\$\{env:[A-Za-z_][A-Za-z0-9_]*\})")
    """http(s), or a base URL from the environment (`${env:AWX_URL}/api/v2/...`), so one
    config serves staging and production; checked to be http(s) again when it is called."""
    method: HttpMethod = "POST"
    headers: dict[str, EnvText] = Field(default_factory=dict)
    body: Any = None


class Runbook(ConfigObject, _OmitDefaults):
    KIND: ClassVar[str] = "Runbook"
    _OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("max_response_bytes",)
    kind: Literal["Runbook"]
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    webhook: Webhook
    timeout: PositiveDuration = Field(default_factory=lambda: Duration.parse("60s"))
    retries: int = Field(0, ge=0, le=10)
    max_response_bytes: int = Field(MAX_RESPONSE_BYTES, ge=0, le=MAX_RESPONSE_BYTES_LIMIT)


# --- Workflow --------------------------------------------------------------------------------

WorkflowEvent = Literal[
    "incident.triggered",
    "incident.acknowledged",
    "incident.escalated",
    "incident.resolved",
    "incident.note_added",
    "incident.priority_changed",
]


class SlackAction(Strict):
    channel: str = Field(min_length=1)
    text: str = Field(min_length=1)


class TeamsAction(Strict):
    webhook: SecretRef
    text: str = Field(min_length=1)


class WebhookAction(Webhook, _OmitDefaults):
    """A workflow's webhook: a runbook's `webhook` plus how the call is bounded."""

    _OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("timeout", "retries", "max_response_bytes")
    timeout: PositiveDuration = Field(default_factory=lambda: Duration.parse("10s"))
    retries: int = Field(0, ge=0, le=10)
    max_response_bytes: int = Field(MAX_RESPONSE_BYTES, ge=0, le=MAX_RESPONSE_BYTES_LIMIT)


class RunbookAction(Strict):
    name: Name
    params: dict[str, Any] = Field(default_factory=dict)


class TeamRecipient(Strict):
    team: Name


def _recipient_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "address"
    if isinstance(value, TeamRecipient | dict):
        return "team"
    return None


Recipient = Annotated[
    Annotated[Email, Tag("address")] | Annotated[TeamRecipient, Tag("team")],
    Discriminator(
        _recipient_tag,
        custom_error_type="invalid_recipient",
        custom_error_message="expected an email address or {team: NAME}",
    ),
]


class EmailAction(Strict):
    to: list[Recipient] = Field(min_length=1)
    subject: str = Field(min_length=1)
    text: str = Field(min_length=1)


class PageAction(Strict):
    schedule: Name | None = None
    team: Name | None = None
    user: Email | None = None
    message: str | None = None
    """Why, on the timeline with the step's outcome; the page itself is the incident's page."""

    @model_validator(mode="after")
    def _one_target(self) -> PageAction:
        if sum(t is not None for t in (self.schedule, self.team, self.user)) != 1:
            raise ValueError("a page step needs exactly one of 'schedule', 'team' or 'user'")
        return self


NoticeState = Literal["investigating", "identified", "monitoring", "resolved"]
"""`oncall.core.status.NoticeStatus`, as text."""
NOTICE_STATES: tuple[NoticeState, ...] = ("investigating", "identified", "monitoring", "resolved")


class StatusAction(Strict):
    """Publish on a status page: a notice's next update, from a workflow."""

    page: Name
    text: str = Field(min_length=1)
    """A template over `service` (the incident's service name) and `page` (the page title)."""
    state: NoticeState = "investigating"
    component: str | None = Field(None, min_length=1)
    """A component of the page the notice is about; none: the page as a whole."""


class PostmortemAction(Strict):
    """Open the incident's postmortem (a second run finds the one it opened)."""

    template: Name | None = None
    """A PostmortemTemplate; none: the team's template, else the default one."""
    title: str | None = Field(None, min_length=1)
    """A template over `incident`, `service` and `event`; none: the incident's title."""


class ActionStep(_OmitDefaults):
    """A step that does something; by default its failure stops the rest of the run."""

    _OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("continue_on_error",)
    continue_on_error: bool = False


class SlackStep(ActionStep):
    slack: SlackAction


class TeamsStep(ActionStep):
    teams: TeamsAction


class WebhookStep(ActionStep):
    webhook: WebhookAction


class RunbookStep(ActionStep):
    runbook: RunbookAction


class EmailStep(ActionStep):
    email: EmailAction


class PageStep(ActionStep):
    page: PageAction


class StatusStep(ActionStep):
    status: StatusAction


class PostmortemStep(ActionStep):
    postmortem: PostmortemAction


class IfStep(Strict):
    if_: str = Field(alias="if", min_length=1)
    then: list[WorkflowStep] = Field(min_length=1)
    else_: list[WorkflowStep] = Field(default_factory=list, alias="else")


STEP_KINDS = ("slack", "teams", "webhook", "runbook", "email", "page", "status", "postmortem",
              "if")
_STEP_TAGS = {
    "SlackStep": "slack",
    "TeamsStep": "teams",
    "WebhookStep": "webhook",
    "RunbookStep": "runbook",
    "EmailStep": "email",
    "PageStep": "page",
    "StatusStep": "status",
    "PostmortemStep": "postmortem",
    "IfStep": "if",
}


def _step_tag(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return _STEP_TAGS.get(type(value).__name__)
    if isinstance(value, dict):
        for key in STEP_KINDS:
            if key in value:
                return key
    return None


WorkflowStep = Annotated[
    Annotated[SlackStep, Tag("slack")]
    | Annotated[TeamsStep, Tag("teams")]
    | Annotated[WebhookStep, Tag("webhook")]
    | Annotated[RunbookStep, Tag("runbook")]
    | Annotated[EmailStep, Tag("email")]
    | Annotated[PageStep, Tag("page")]
    | Annotated[StatusStep, Tag("status")]
    | Annotated[PostmortemStep, Tag("postmortem")]
    | Annotated[IfStep, Tag("if")],
    Discriminator(
        _step_tag,
        custom_error_type="invalid_step",
        custom_error_message=(
            "a step needs one of: slack, teams, webhook, runbook, email, page, status, "
            "postmortem, if"
        ),
    ),
]


IfStep.model_rebuild()


class Workflow(ConfigObject):
    KIND: ClassVar[str] = "Workflow"
    kind: Literal["Workflow"]
    description: str | None = None
    on: list[WorkflowEvent] = Field(min_length=1)
    when: str | None = None
    steps: list[WorkflowStep] = Field(min_length=1)


# --- StatusPage ------------------------------------------------------------------------------

ImpactLevel = Literal["degraded_performance", "partial_outage", "major_outage"]
"""What an incident may do to a component: `oncall.core.status.IMPACTS`, spelt as text because
the config is the layer below the core (the core maps them with `ComponentStatus(value)`)."""
IMPACT_LEVELS: tuple[ImpactLevel, ...] = ("degraded_performance", "partial_outage", "major_outage")
DEFAULT_IMPACT: dict[str, ImpactLevel | None] = {
    "P1": "major_outage",
    "P2": "partial_outage",
    "P3": "degraded_performance",
    "P4": None,
    "P5": None,
}
"""`oncall.core.status.DEFAULT_IMPACT`, as text: priority → status, None for no effect."""

ImpactOverride = Literal["degraded_performance", "partial_outage", "major_outage", "none"]
"""A page's `impact:` value: a level, or `none` for no effect on the page."""

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^@(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+$")
_PARTNER_EMAIL = re.compile(EMAIL_PATTERN)
PARTNER_PATTERN = r"^(@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$"


def _partner(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an email address or @domain, got {describe(value)}")
    text = value.lower()
    if text.startswith("@"):
        if not _DOMAIN.match(text):
            raise ValueError(f"invalid domain {value!r}: write it as @example.com")
    elif not _PARTNER_EMAIL.match(text):
        raise ValueError(f"invalid partner {value!r}: expected an email address or @domain")
    return text


Partner = Annotated[
    str,
    PlainValidator(_partner),
    WithJsonSchema({"type": "string", "pattern": PARTNER_PATTERN}),
]
"""Who may read a `partners` page: one person's email, or everyone of a domain (`@acme.com`)."""


class Component(_OmitDefaults):
    _OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("description",)
    name: str = Field(min_length=1)
    services: list[Name] = Field(min_length=1)
    description: str | None = None


class NoticeTexts(Strict):
    """The public text of automatic notices: templates over `component`, `page` and `status`
    only (checked by `oncall validate`), so nothing of an alert can reach a public page."""

    title: str = Field("{{ component }}: {{ status }}", min_length=1)
    opened: str = Field("We are investigating an issue affecting {{ component }}.", min_length=1)
    resolved: str = Field("{{ component }} is operating normally again.", min_length=1)


class Subscribers(Strict):
    email: bool = True
    """Readers may subscribe by email (double opt-in)."""
    webhooks: bool = False


class StatusPage(ConfigObject, _OmitDefaults):
    KIND: ClassVar[str] = "StatusPage"
    _OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("partners", "impact", "notices", "subscribers")
    kind: Literal["StatusPage"]
    title: str = Field(min_length=1)
    description: str | None = None
    visibility: Literal["private", "public", "partners"] = "private"
    partners: list[Partner] = Field(default_factory=list)
    """Who may read a `partners` page (required there, refused elsewhere: checked by
    `oncall validate`, which also refuses two components of one name)."""
    impact: dict[Priority, ImpactOverride] = Field(default_factory=dict)
    notices: NoticeTexts = Field(default_factory=NoticeTexts)
    subscribers: Subscribers = Field(default_factory=Subscribers)
    components: list[Component] = Field(min_length=1)

    def impact_map(self) -> dict[str, ImpactLevel | None]:
        """Priority → what its incidents do to a component: the default with this page's
        overrides, `none` as None."""
        merged = dict(DEFAULT_IMPACT)
        for priority, level in self.impact.items():
            merged[priority] = None if level == "none" else level
        return merged

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


# --- PostmortemTemplate ----------------------------------------------------------------------


class TemplateSection(_OmitDefaults):
    _OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("text",)
    title: str = Field(min_length=1, max_length=200)
    text: str = ""
    """What the section asks for (Markdown), written under its heading in a new postmortem."""


class PostmortemTemplate(ConfigObject, _OmitDefaults):
    """The sections a new postmortem's body starts with. A postmortem takes the template it
    is opened with, else the one naming the incident's team, else the `default` one."""

    KIND: ClassVar[str] = "PostmortemTemplate"
    _OMIT_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("default", "teams")
    kind: Literal["PostmortemTemplate"]
    description: str | None = None
    default: bool = False
    teams: list[Name] = Field(default_factory=list)
    sections: list[TemplateSection] = Field(min_length=1)


# --- Organization --------------------------------------------------------------------------


class RateLimits(Strict):
    """The installation's limits, each shared by every process (Redis, else the database)."""

    integrations: RateLimit = RateLimit(per_second=100, burst=1000)
    """Each integration's alerts, unless the Integration sets its own `rate_limit`: an alert
    storm of a thousand passes at once, a monitor stuck in a loop does not bury the rest."""
    api_keys: RateLimit = RateLimit(per_second=10, burst=100)
    """Each API key's calls."""
    sessions: RateLimit = RateLimit(per_second=20, burst=200)
    """Each signed-in browser session's events in the web app."""


class Organization(ConfigObject):
    """Settings of the whole installation (at most one document): its platform admins and
    rate limits."""

    KIND: ClassVar[str] = "Organization"
    kind: Literal["Organization"]
    description: str | None = None
    admins: list[Email] = Field(default_factory=list)
    """People who may act on every team's incidents and edit anyone's contact data; each must
    be a member of some Team."""
    rate_limits: RateLimits = RateLimits()


KINDS: dict[str, type[ConfigObject]] = {
    cls.KIND: cls
    for cls in (
        Team,
        Schedule,
        EscalationPolicy,
        Service,
        Integration,
        RoutingRule,
        MaintenanceWindow,
        Runbook,
        Workflow,
        StatusPage,
        PostmortemTemplate,
        Organization,
    )
}


# --- Heartbeat -----------------------------------------------------------------------------


class Heartbeat(ConfigObject):
    """A dead man's switch: a job that pings every `interval`; no ping for `interval + grace`
    opens an incident on `service`, and the next ping resolves it."""

    KIND: ClassVar[str] = "Heartbeat"
    kind: Literal["Heartbeat"]
    description: str | None = None
    service: Name
    interval: PositiveDuration
    grace: DurationField = Field(default_factory=lambda: Duration.parse("0s"))
    secret: SecretRef


KINDS[Heartbeat.KIND] = Heartbeat
