"""Settings fail fast, with messages that name the variable to fix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hub.settings import SettingsError, load_settings


def test_production_refuses_default_secret_key() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, env="production")
    assert "HUB_SECRET_KEY is the development default" in str(error.value)


def test_production_refuses_short_secret_and_demo_mode() -> None:
    with pytest.raises(SettingsError, match="at least 32 characters"):
        load_settings(_env_file=None, env="production", secret_key="short")
    with pytest.raises(SettingsError, match="HUB_DEMO must be off"):
        load_settings(_env_file=None, env="production", secret_key="k" * 40, demo=True)


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(SettingsError) as error:
        load_settings(_env_file=None, port=70000, database_url="mysql://x/y")
    message = str(error.value)
    assert "HUB_PORT" in message
    assert "HUB_DATABASE_URL: must start with sqlite:// or postgresql://" in message


def test_partial_single_sign_on_configuration_is_refused() -> None:
    with pytest.raises(SettingsError, match="HUB_OIDC_CLIENT_SECRET"):
        load_settings(_env_file=None, oidc_client_id="abc")


def test_postgres_urls_use_psycopg_and_sqlite_is_the_default(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(_env_file=None, database_url="postgres://u@h/db")
    assert settings.effective_database_url == "postgresql+psycopg://u@h/db"
    assert settings.database_backend == "postgresql"
    default = load_settings(_env_file=None, data_dir=tmp_path)
    assert default.effective_database_url == f"sqlite:///{tmp_path / 'hub.sqlite3'}"


def test_environment_variables_and_dotenv_are_read(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / ".env").write_text("HUB_PORT=8123\nHUB_DEMO=true\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_BASE_URL", "https://hub.example.edu/")
    settings = load_settings()
    assert settings.port == 8123 and settings.demo is True
    assert settings.base_url == "https://hub.example.edu"


def test_cli_reports_bad_configuration_without_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", "departments", "list"],
        env={"HUB_ENV": "production", "PATH": "/usr/bin:/bin", "HUB_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Invalid configuration" in result.stderr
    assert "HUB_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr
