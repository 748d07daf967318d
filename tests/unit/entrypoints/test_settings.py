"""Settings rules that need no files: every case here sets its own secret key."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from entrypoints.settings import Environment, Settings, SettingsError

SECRET = "s" * 48
HERE = Path("/srv/portal")


def production(**variables: str) -> dict[str, str]:
    return {
        "PORTAL_ENVIRONMENT": "production",
        "PORTAL_SECRET_KEY": SECRET,
        "PORTAL_BASE_URL": "https://portal.example.com/",
        "PORTAL_FIRM_NAME": "Example Partners LLP",
        "PORTAL_DATABASE_URL": "postgresql+psycopg://portal@db/portal",
        **variables,
    }


def test_embedded_default_keeps_everything_under_var_in_the_working_directory() -> None:
    settings = Settings.from_env({"PORTAL_SECRET_KEY": SECRET}, cwd=HERE)

    assert settings.environment is Environment.EMBEDDED
    assert settings.database_url == "sqlite:////srv/portal/var/portal.db"
    assert settings.files_dir == HERE / "var" / "files"
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.allowed_hosts == ("127.0.0.1", "localhost")
    assert settings.demo_data is True
    assert settings.firm_time_zone == ZoneInfo("Europe/London")


def test_relative_sqlite_url_is_made_absolute() -> None:
    settings = Settings.from_env(
        {"PORTAL_SECRET_KEY": SECRET, "PORTAL_DATABASE_URL": "sqlite:///data/p.db"}, cwd=HERE
    )

    assert settings.database_url == "sqlite:////srv/portal/data/p.db"


def test_production_takes_its_settings_as_given() -> None:
    settings = Settings.from_env(production(), cwd=HERE)

    assert settings.is_production
    assert settings.base_url == "https://portal.example.com"
    assert settings.allowed_hosts == ("portal.example.com",)
    assert settings.database_url == "postgresql+psycopg://portal@db/portal"
    assert settings.demo_data is False


@pytest.mark.parametrize("missing", ["SECRET_KEY", "BASE_URL", "FIRM_NAME"])
def test_production_refuses_to_guess(missing: str) -> None:
    environ = production()
    del environ[f"PORTAL_{missing}"]

    with pytest.raises(SettingsError, match=f"PORTAL_{missing} is required in production"):
        Settings.from_env(environ, cwd=HERE)


def test_production_is_served_over_https_only() -> None:
    with pytest.raises(SettingsError, match="https://"):
        Settings.from_env(production(PORTAL_BASE_URL="http://portal.example.com"), cwd=HERE)


def test_a_short_secret_key_is_refused() -> None:
    with pytest.raises(SettingsError, match="too short"):
        Settings.from_env(production(PORTAL_SECRET_KEY="hunter2"), cwd=HERE)


def test_the_secret_key_never_appears_in_a_repr() -> None:
    settings = Settings.from_env(production(), cwd=HERE)

    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value", "complaint"),
    [
        ("ENVIRONMENT", "staging", "embedded or production"),
        ("PORT", "eighty", "port number"),
        ("PORT", "70000", "port number"),
        ("DEMO_DATA", "maybe", "true or false"),
        ("FIRM_TIME_ZONE", "Mars/Olympus_Mons", "IANA time zone"),
        ("LOG_LEVEL", "chatty", "DEBUG, INFO, WARNING, ERROR"),
        ("BASE_URL", "portal.example.com", "http(s) address"),
    ],
)
def test_a_wrong_value_is_named_with_what_is_expected(
    name: str, value: str, complaint: str
) -> None:
    with pytest.raises(SettingsError, match=rf"PORTAL_{name} .*{re.escape(complaint)}"):
        Settings.from_env({"PORTAL_SECRET_KEY": SECRET, f"PORTAL_{name}": value}, cwd=HERE)


def test_values_are_read_from_the_given_mapping_only() -> None:
    settings = Settings.from_env(
        {
            "PORTAL_SECRET_KEY": SECRET,
            "PORTAL_HOST": "0.0.0.0",
            "PORTAL_PORT": "9000",
            "PORTAL_ALLOWED_HOSTS": "portal.local, 10.0.0.5,portal.local",
            "PORTAL_DEMO_DATA": "off",
            "PORTAL_FIRM_TIME_ZONE": "Europe/Athens",
            "PORTAL_LOG_LEVEL": "debug",
        },
        cwd=HERE,
    )

    assert (settings.host, settings.port) == ("0.0.0.0", 9000)
    assert settings.base_url == "http://127.0.0.1:9000"
    assert settings.allowed_hosts == ("portal.local", "10.0.0.5")
    assert settings.demo_data is False
    assert settings.firm_time_zone == ZoneInfo("Europe/Athens")
    assert settings.log_level == "DEBUG"
