from __future__ import annotations

import pytest

from oncall.settings import DEFAULT_DATABASE_URL, Settings, SettingsError


@pytest.mark.parametrize(
    ("environ", "database_url", "redis_url"),
    [
        ({}, DEFAULT_DATABASE_URL, None),
        ({"ONCALL_DATABASE_URL": ""}, DEFAULT_DATABASE_URL, None),
        (
            {"ONCALL_DATABASE_URL": "sqlite:////var/lib/oncall.db"},
            "sqlite:////var/lib/oncall.db",
            None,
        ),
        (
            {"ONCALL_DATABASE_URL": "postgres://u@db/oncall"},
            "postgresql+psycopg://u@db/oncall",
            None,
        ),
        ({"ONCALL_DATABASE_URL": "postgresql://u@db/x"}, "postgresql+psycopg://u@db/x", None),
        (
            {
                "ONCALL_DATABASE_URL": "postgresql+psycopg://u@db/x",
                "ONCALL_REDIS_URL": "redis://r:6379/0",
            },
            "postgresql+psycopg://u@db/x",
            "redis://r:6379/0",
        ),
    ],
)
def test_from_env(environ: dict[str, str], database_url: str, redis_url: str | None) -> None:
    settings = Settings.from_env(environ)
    assert settings.database_url == database_url
    assert settings.redis_url == redis_url


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"ONCALL_DATABASE_URL": "mysql://u@db/x"}, "ONCALL_DATABASE_URL"),
        ({"ONCALL_REDIS_URL": "localhost:6379"}, "ONCALL_REDIS_URL"),
    ],
)
def test_bad_values_name_the_variable(environ: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(environ)


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().database_url = "x"  # type: ignore[misc]
