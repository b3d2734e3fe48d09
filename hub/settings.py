"""One settings object for the whole hub, read from `HUB_*` environment variables and `.env`."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Used only when nothing is configured, so `make run` works out of the box; refused in production.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"
MIN_SECRET_KEY_LENGTH = 32  # 256 bits of url-safe randomness is ~43 chars; 32 is the floor


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class SmtpSecurity(StrEnum):
    none = "none"
    starttls = "starttls"
    ssl = "ssl"


class SettingsError(RuntimeError):
    """Raised with a plain-language message when the configuration cannot work."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HUB_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Environment = Environment.development
    secret_key: str = DEVELOPMENT_SECRET_KEY
    data_dir: Path = Path("var")
    database_url: str = ""  # empty: SQLite file under data_dir
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    base_url: str = ""  # public address, e.g. https://hub.example.edu; used in links and OIDC
    demo: bool = False  # demo mode: one-click sign-in as each demo user on the login page

    # Threads that run sync routes in each web worker; the database pool holds as many
    # connections plus a small overflow for background work (hub/db.py; README, `HUB_WEB_THREADS`).
    web_threads: Annotated[int, Field(ge=2, le=200)] = 12

    session_max_age_seconds: Annotated[int, Field(ge=60)] = 8 * 3600  # one working day
    max_body_bytes: Annotated[int, Field(ge=1024)] = 12 * 1024 * 1024  # 10 MB upload + form

    # Login throttling: failures counted per e-mail and per client address in a sliding window.
    login_window_seconds: Annotated[int, Field(ge=1)] = 15 * 60
    login_max_failures_per_account: Annotated[int, Field(ge=1)] = 5
    login_max_failures_per_address: Annotated[int, Field(ge=1)] = 30

    # Single sign-on with Microsoft Entra ID (or any OpenID Connect provider).
    oidc_tenant_id: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_metadata_url: str = ""  # default derived from the tenant id
    oidc_provider_name: str = "Microsoft"

    # Scheduler: exactly one per deployment, see hub/scheduler.py.
    scheduler_in_web: bool = True  # `hub serve` runs it when it wins the lock
    scheduler_heartbeat_seconds: Annotated[int, Field(ge=1)] = 60

    # Outgoing mail (hub/mail.py). Without a host, mail stays in the outbox (sent-mail page).
    smtp_host: str = ""
    smtp_port: Annotated[int, Field(ge=0, le=65535)] = 0  # 0: 25, 587 or 465 by security
    smtp_security: SmtpSecurity = SmtpSecurity.starttls
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "Hub de crise <hub@localhost>"
    smtp_timeout_seconds: Annotated[float, Field(gt=0)] = 15.0
    outbox_interval_seconds: Annotated[int, Field(ge=1)] = 10  # how often the worker delivers

    # Readiness (hub/crisis/readiness.py): articles and test announcements older than this
    # are stale.
    readiness_review_days: Annotated[int, Field(ge=1, le=365)] = 30

    # --- Questions and escalation (hub/questions/, hub/business_hours.py) ---------------
    # Targets are business hours, counted on the opening hours below (Europe/Brussels);
    # the crisis profile (hub/crisis/state.py) uses its own hours and stricter targets.
    business_hours: str = "mon-fri 08:30-17:30"
    crisis_business_hours: str = "mon-sat 08:00-20:00"
    holidays: str = ""  # comma-separated ISO dates on which nobody answers, e.g. 2026-12-25
    sla_first_response_hours: Annotated[float, Field(gt=0)] = 8.0  # referent, normal profile
    sla_crisis_first_response_hours: Annotated[float, Field(gt=0)] = 2.0
    sla_elearning_response_hours: Annotated[float, Field(gt=0)] = 8.0  # central team
    sla_crisis_elearning_response_hours: Annotated[float, Field(gt=0)] = 4.0
    questions_digest_hours: Annotated[int, Field(ge=1, le=24)] = 4  # one reminder per period
    questions_sweep_seconds: Annotated[int, Field(ge=10)] = 300  # how often the SLA sweep runs

    @field_validator("business_hours", "crisis_business_hours")
    @classmethod
    def _check_business_hours(cls, value: str) -> str:
        from hub.business_hours import parse_hours

        parse_hours(value)  # ScheduleError is a ValueError: reported with the setting's name
        return value

    @field_validator("holidays")
    @classmethod
    def _check_holidays(cls, value: str) -> str:
        from hub.business_hours import parse_holidays

        parse_holidays(value)
        return value

    # Microsoft Teams (hub/teams/). Graph mode: a delegated service account signed in once
    # with `hub teams login` (tenant + client id) or a bearer token (HUB_TEAMS_STATIC_TOKEN),
    # plus the crisis team and channel. Workflows mode: a webhook URL (posting only).
    # Nothing set: Teams posts stay in the outbox, readable on the outbox page.
    teams_tenant_id: str = ""
    teams_client_id: str = ""  # app registration allowing public client flows (device code)
    teams_team_id: str = ""  # the crisis team (a group id)
    teams_channel_id: str = ""  # its crisis channel, e.g. 19:...@thread.tacv2
    teams_graph_url: str = "https://graph.microsoft.com/v1.0"
    teams_static_token: str = ""  # bearer token used instead of the sign-in (tests, short runs)
    teams_token_cache: Path | None = None  # default: <data_dir>/teams-token-cache.json (0600)
    teams_webhook_url: str = ""  # Teams Workflows "post to a channel" webhook
    teams_feed_refresh_seconds: Annotated[int, Field(ge=30)] = 300  # home page channel feed
    teams_timeout_seconds: Annotated[float, Field(gt=0)] = 20.0

    # Webinars (webinars/): reminder mails before each session, e.g. "24h,15m" (units d, h,
    # m; empty: none), and how often the worker looks for due reminders.
    webinar_reminders: str = "24h,15m"
    webinar_reminder_interval_seconds: Annotated[int, Field(ge=5)] = 60

    @field_validator("webinar_reminders")
    @classmethod
    def _check_webinar_reminders(cls, value: str) -> str:
        items = [item.strip().lower() for item in value.split(",") if item.strip()]
        for item in items:
            number, unit = item[:-1], item[-1:]
            if unit not in ("d", "h", "m") or not number.isdigit() or not 0 < int(number) < 10000:
                raise ValueError(f"{item!r}: expected durations such as 24h, 15m or 2d")
        return ",".join(items)

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        value = value.strip()
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if value and not value.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError(
                "must start with sqlite:// or postgresql:// (got "
                f"{value.split(':', 1)[0]!r}); other databases are not supported"
            )
        return value

    @field_validator("teams_graph_url")
    @classmethod
    def _graph_url_without_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// for a local test server)")
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        if self.env is Environment.production:
            if self.secret_key == DEVELOPMENT_SECRET_KEY:
                raise ValueError(
                    "HUB_SECRET_KEY is the development default; production needs its own, "
                    'e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'
                )
            if len(self.secret_key) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(
                    f"HUB_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
                )
            if self.demo:
                raise ValueError(
                    "HUB_DEMO must be off in production (it allows sign-in without a password)"
                )
        if any((self.oidc_client_id, self.oidc_client_secret)) and not self.oidc_enabled:
            raise ValueError(
                "single sign-on needs HUB_OIDC_CLIENT_ID, HUB_OIDC_CLIENT_SECRET and either "
                "HUB_OIDC_TENANT_ID or HUB_OIDC_METADATA_URL"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"

    @property
    def database_backend(self) -> str:
        return "postgresql" if self.effective_database_url.startswith("postgresql") else "sqlite"

    @property
    def oidc_enabled(self) -> bool:
        return bool(
            self.oidc_client_id
            and self.oidc_client_secret
            and (self.oidc_tenant_id or self.oidc_metadata_url)
        )

    @property
    def teams_mode(self) -> str:
        """ "graph" (post and read), "webhook" (post only) or "" (Teams not configured)."""
        signed_in = self.teams_static_token or (self.teams_tenant_id and self.teams_client_id)
        if self.teams_team_id and self.teams_channel_id and signed_in:
            return "graph"
        if self.teams_webhook_url:
            return "webhook"
        return ""

    @property
    def teams_token_cache_path(self) -> Path:
        return self.teams_token_cache or self.data_dir / "teams-token-cache.json"

    @property
    def oidc_discovery_url(self) -> str:
        if self.oidc_metadata_url:
            return self.oidc_metadata_url
        return (
            f"https://login.microsoftonline.com/{self.oidc_tenant_id}"
            "/v2.0/.well-known/openid-configuration"
        )


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning validation errors into one readable SettingsError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]) or "settings"
            name = f"HUB_{field.upper()}" if error["loc"] else "configuration"
            message = error["msg"].removeprefix("Value error, ")
            lines.append(f"  {name}: {message}")
        raise SettingsError("Invalid configuration:\n" + "\n".join(lines)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (the web app takes its own copy at creation)."""
    return load_settings()
