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
