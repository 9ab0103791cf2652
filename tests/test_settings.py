"""Settings from the environment: typed, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.settings import Settings, SettingsError, load_or_create_secret

BASE = {"PORTAL_REDIS_URL": "redis://127.0.0.1:6379/0", "PORTAL_SECRET_KEY": "s" * 32}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.presence_ttl == 60
    assert settings.admin_token is None
    assert settings.allowed_origins == ()
    assert settings.secret_keys == ("s" * 32,)
    assert settings.access_log == "summary"


@pytest.mark.parametrize(
    ("value", "mode"),
    [("summary", "summary"), ("on", "summary"), ("all", "all"), ("off", "off"), ("0", "off")],
)
def test_access_log_modes(value: str, mode: str) -> None:
    assert Settings.from_env({**BASE, "PORTAL_ACCESS_LOG": value}).access_log == mode


def test_values() -> None:
    settings = Settings.from_env(
        {
            **BASE,
            "PORTAL_PRESENCE_TTL": "30",
            "PORTAL_ADMIN_TOKEN": "tok-0123456789abcdef",
            "PORTAL_ALLOWED_ORIGINS": "https://a.example, http://b.example:8080/",
            "PORTAL_SECRET_KEY": "new-key-xxxxxxxxxxxx,old-key-yyyyyyyyyyyy",
        }
    )
    assert settings.presence_ttl == 30 and settings.admin_token == "tok-0123456789abcdef"
    assert settings.allowed_origins == ("https://a.example", "http://b.example:8080")
    assert settings.secret_keys == ("new-key-xxxxxxxxxxxx", "old-key-yyyyyyyyyyyy")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PORTAL_PRESENCE_TTL": "abc"},
            "PORTAL_PRESENCE_TTL must be a whole number of seconds, got 'abc'",
        ),
        ({"PORTAL_PRESENCE_TTL": "0"}, "PORTAL_PRESENCE_TTL must be between"),
        ({"PORTAL_ALLOWED_ORIGINS": "*"}, "cannot be '*'"),
        ({"PORTAL_ALLOWED_ORIGINS": "a.example"}, "must look like https://host"),
        ({"PORTAL_REDIS_URL": "mysql://x"}, "must start with redis://"),
        ({"PORTAL_SECRET_KEY": ""}, "PORTAL_SECRET_KEY is required"),
        ({"PORTAL_SECRET_KEY": "short"}, "at least 16 characters"),
        ({"PORTAL_ACCESS_LOG": "verbose"}, "PORTAL_ACCESS_LOG must be summary, all or off"),
    ],
)
def test_bad_values_say_what_is_wrong(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("*", r"\*").replace("(", r"\(")):
        Settings.from_env({**BASE, **env})


def test_secret_generated_once(tmp_path: Path) -> None:
    first = load_or_create_secret(tmp_path)
    assert len(first) >= 32
    assert load_or_create_secret(tmp_path) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_short_admin_token_stops_the_service() -> None:
    env = {"PORTAL_REDIS_URL": "redis://x", "PORTAL_SECRET_KEY": "k" * 32}
    with pytest.raises(SettingsError, match="PORTAL_ADMIN_TOKEN must be at least 16"):
        Settings.from_env({**env, "PORTAL_ADMIN_TOKEN": "x"})
    assert Settings.from_env({**env, "PORTAL_ADMIN_TOKEN": "x" * 16}).admin_token == "x" * 16


def test_abuse_bounds() -> None:
    env = {"PORTAL_REDIS_URL": "redis://x", "PORTAL_SECRET_KEY": "k" * 32}
    settings = Settings.from_env(env)
    assert settings.new_visitor_limit == "60/minute"
    assert settings.max_online_per_address == 50
    assert settings.max_visitors_per_address == 500
    assert settings.max_pages == 10_000
    off = Settings.from_env({**env, "PORTAL_NEW_VISITOR_LIMIT": "off", "PORTAL_MAX_PAGES": "7"})
    assert off.new_visitor_limit is None and off.max_pages == 7
    with pytest.raises(SettingsError, match="PORTAL_MAX_PAGES must be a whole number"):
        Settings.from_env({**env, "PORTAL_MAX_PAGES": "many"})
    with pytest.raises(SettingsError, match="PORTAL_LOG_FORMAT must be json or text"):
        Settings.from_env({**env, "PORTAL_LOG_FORMAT": "xml"})
