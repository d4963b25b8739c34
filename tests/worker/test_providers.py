"""Every provider the worker builds is instrumented: each call timed and counted by outcome
(`oncall_provider_call_seconds`), the object keeping its type and exactly its methods."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from oncall.core.notification_rules import Channel
from oncall.notify.mail import Mail
from oncall.notify.message import Notice, NoticeKind
from oncall.notify.providers.base import DeliveryResult
from oncall.notify.providers.slack import SlackProvider
from oncall.notify.settings import ProviderSettings
from oncall.observability import metrics
from oncall.worker.providers import build_chains, instrument
from oncall.workflows.steps import TextMailer

PAGE = Notice(kind=NoticeKind.PAGE, incident_id="5", title="Disk full")


def _count(channel: str, provider: str, outcome: str) -> float:
    text = generate_latest(metrics.registry()).decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "oncall_provider_call_seconds_count" and s.labels == {
                    "channel": channel, "provider": provider, "outcome": outcome}:
                return s.value
    return 0.0


class Scripted:
    """A provider answering with what it is given (or raising it)."""

    name = "scripted"

    def __init__(self, answer: DeliveryResult | Exception) -> None:
        self.answer = answer
        self.calls: list[str] = []

    def send(self, address: str, notice: Notice) -> DeliveryResult:
        self.calls.append(address)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (DeliveryResult.sent("scripted", "m1"), "sent"),
        (DeliveryResult.failed("scripted", "HTTP 503", retryable=True), "retryable"),
        (DeliveryResult.failed("scripted", "HTTP 400", retryable=False), "failed"),
    ],
    ids=["sent", "retryable", "failed"],
)
def test_each_call_is_counted_by_its_outcome(answer: DeliveryResult, outcome: str) -> None:
    provider = Scripted(answer)
    before = _count("voice", "scripted", outcome)
    assert instrument(provider, Channel.VOICE).send("+1555", PAGE) is answer
    assert provider.calls == ["+1555"]
    assert _count("voice", "scripted", outcome) == before + 1


def test_a_call_that_raises_is_counted_and_still_raises() -> None:
    provider = instrument(Scripted(RuntimeError("bug")), Channel.PUSH)
    before = _count("push", "scripted", "raised")
    with pytest.raises(RuntimeError, match="bug"):
        provider.send("sub", PAGE)
    assert _count("push", "scripted", "raised") == before + 1


def test_instrumenting_twice_counts_once() -> None:
    provider = Scripted(DeliveryResult.sent("scripted", None))
    instrument(instrument(provider, Channel.SMS), Channel.SMS)
    before = _count("sms", "scripted", "sent")
    provider.send("+1", PAGE)
    assert _count("sms", "scripted", "sent") == before + 1


def test_the_built_chains_keep_types_and_methods() -> None:
    settings = ProviderSettings(slack_token="xoxb-test", slack_api_url="http://127.0.0.1:9/")
    chains = build_chains(settings)
    (slack,) = chains.chain(Channel.SLACK)
    assert isinstance(slack, SlackProvider)  # workflow steps pick the Slack client by type
    assert callable(getattr(slack, "update", None))
    assert callable(getattr(slack, "send_mail", None))
    (teams,) = chains.chain(Channel.TEAMS)
    assert getattr(teams, "update", None) is None  # the dispatcher asks with getattr
    assert not isinstance(teams, TextMailer)
    before = _count("teams", "teams", "failed")
    result = teams.send("${env:NO_SUCH_TEAMS_WEBHOOK}", PAGE)
    assert not result.ok
    assert _count("teams", "teams", "failed") == before + 1


def test_a_mail_only_provider_call_is_timed_too() -> None:
    class Mailer:
        name = "mailer"

        def send(self, address: str, notice: Notice) -> DeliveryResult:
            return DeliveryResult.sent(self.name, None)

        def send_mail(self, address: str, mail: Mail) -> DeliveryResult:
            return DeliveryResult.sent(self.name, "q1")

    mailer = instrument(Mailer(), Channel.EMAIL)
    before = _count("email", "mailer", "sent")
    assert mailer.send_mail("a@b.example", Mail("s", "t")).ok  # type: ignore[attr-defined]
    assert _count("email", "mailer", "sent") == before + 1
