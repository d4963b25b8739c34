"""Provider settings from the environment: defaults, parsing, and errors naming the variable."""

from __future__ import annotations

import pytest

from oncall.notify.providers.slack import SlackProvider
from oncall.notify.settings import ProviderSettings, SmtpSettings
from oncall.settings import SettingsError


def test_defaults_point_at_the_real_services() -> None:
    settings = ProviderSettings.from_env({})
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.twilio_api_url == "https://api.twilio.com"
    assert settings.aws_endpoint_url is None
    assert settings.timeout("slack") == 10.0
    assert settings.region("sns") == "us-east-1"


def test_everything_is_read() -> None:
    settings = ProviderSettings.from_env(
        {
            "ONCALL_PUBLIC_URL": "https://oncall.example.com/",
            "ONCALL_SLACK_API_URL": "http://127.0.0.1:9/api",
            "ONCALL_PROVIDER_TIMEOUT": "4",
            "ONCALL_TWILIO_TIMEOUT": "2.5",
            "ONCALL_SES_REGION": "eu-west-1",
            "ONCALL_AWS_REGION": "us-west-2",
            "ONCALL_SMTP_URL": "smtp://bot%40example.com:p%40ss@mail.example.com:587?starttls=true",
        }
    )
    assert settings.public_url == "https://oncall.example.com"
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    assert settings.timeout("twilio") == 2.5 and settings.timeout("teams") == 4
    assert settings.region("ses") == "eu-west-1" and settings.region("sns") == "us-west-2"
    assert settings.smtp == SmtpSettings(
        "mail.example.com", 587, "bot@example.com", "p@ss", implicit_tls=False, starttls=True
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://localhost", SmtpSettings("localhost", 25)),
        ("smtps://mx.example.com", SmtpSettings("mx.example.com", 465, implicit_tls=True)),
    ],
)
def test_smtp_urls(url: str, expected: SmtpSettings) -> None:
    assert SmtpSettings.from_url(url) == expected


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"ONCALL_SMTP_URL": "http://mail"}, "ONCALL_SMTP_URL"),
        ({"ONCALL_SLACK_TIMEOUT": "soon"}, "ONCALL_SLACK_TIMEOUT"),
        ({"ONCALL_PROVIDER_TIMEOUT": "0"}, "ONCALL_PROVIDER_TIMEOUT"),
        ({"ONCALL_PUBLIC_URL": "oncall.example.com"}, "ONCALL_PUBLIC_URL"),
        ({"ONCALL_WEBPUSH_TTL": "1h"}, "ONCALL_WEBPUSH_TTL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        ProviderSettings.from_env(env)


def test_a_provider_without_credentials_says_what_to_set() -> None:
    with pytest.raises(SettingsError, match="ONCALL_SLACK_TOKEN"):
        SlackProvider(ProviderSettings.from_env({}))


TWILIO = {"ONCALL_TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "ONCALL_TWILIO_AUTH_TOKEN": "t",
          "ONCALL_TWILIO_FROM": "+15005550006"}


@pytest.mark.parametrize(("env", "providers"), [
    ({}, [("teams", "teams")]),
    ({"ONCALL_SMTP_URL": "smtp://127.0.0.1:2525"}, [("email", "smtp"), ("teams", "teams")]),
    ({"ONCALL_SMTP_URL": "smtp://127.0.0.1:2525", "ONCALL_SES_REGION": "eu-west-1",
      "ONCALL_SLACK_TOKEN": "xoxb-1", **TWILIO, "ONCALL_SNS_REGION": "eu-west-1"},
     [("slack", "slack"), ("email", "smtp"), ("email", "ses"), ("sms", "twilio_sms"),
      ("voice", "twilio_voice"), ("sms", "sns"), ("teams", "teams")]),
])
def test_the_configured_providers_are_the_worker_s_chains(
        env: dict[str, str], providers: list[tuple[str, str]]) -> None:
    """One answer to "what can page": the worker's chains and every preview of a page."""
    from oncall.worker.providers import build_chains

    settings = ProviderSettings.from_env(env)
    assert [(c.value, n) for c, n in settings.providers()] == providers
    chains = build_chains(settings)
    assert [(c.value, p.name) for c in chains.chains for p in chains.chain(c)] == sorted(
        providers, key=lambda cp: [c for c, _ in providers].index(cp[0]))
    assert {c.value for c in settings.channels} == {c for c, _ in providers}
