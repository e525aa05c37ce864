"""Settings from the environment (`COMANDA_` prefix) and `.env`, with the production parts' credential checks."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class ConfigError(Exception):
    """A setting is wrong or a chosen part lacks what it needs; one line naming the variable, never its value."""


class Settings(BaseSettings):
    """Everything the service can be told. Unset production parts fall back to the embedded defaults."""

    model_config = SettingsConfigDict(env_prefix="COMANDA_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".comanda")
    host: str = "127.0.0.1"
    port: int = 8000

    # Unprefixed names too, because every hosting platform already sets these two.
    database_url: str | None = Field(None, validation_alias=AliasChoices("DATABASE_URL", "COMANDA_DATABASE_URL"))
    redis_url: str | None = Field(None, validation_alias=AliasChoices("REDIS_URL", "COMANDA_REDIS_URL"))
    db_pool_size: int = 10

    model: str = "offline"
    bedrock_endpoint_url: str | None = None
    aws_region: str | None = Field(
        None, validation_alias=AliasChoices("COMANDA_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("COMANDA_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("COMANDA_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )

    # voice notes: "off" (the customer is asked to type) or "openai:<model>" (an OpenAI-compatible
    # /audio/transcriptions, keyed with OPENAI_API_KEY); the base URL defaults to OPENAI_BASE_URL, then OpenAI's
    transcribe: str = "off"
    transcribe_base_url: str | None = None
    # fetching and transcribing one voice note, together: past it the customer is asked to type
    transcribe_timeout_s: float = Field(20.0, gt=0, le=120)

    public_base_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None

    twilio_account_sid: str | None = Field(
        None, validation_alias=AliasChoices("COMANDA_TWILIO_ACCOUNT_SID", "TWILIO_ACCOUNT_SID")
    )
    twilio_auth_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("COMANDA_TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN")
    )

    # Twilio's API base URL: only for pointing the real client at a test double
    twilio_api_base_url: str | None = None
    # Content template (one variable, {{1}} = our text) for proactive messages outside the 24-hour window
    twilio_notification_content_sid: str | None = None

    # the inbound queue and its workers
    coalesce_window_ms: int = Field(1500, ge=0, le=30_000)
    # a turn starts once the customer has been quiet this long (never past the window): a lone message waits this
    coalesce_quiet_ms: int = Field(400, ge=0, le=30_000)
    queue_reclaim_idle_ms: int = Field(30_000, ge=200)
    queue_lock_ttl_ms: int = Field(30_000, ge=300)
    queue_max_attempts: int = Field(5, ge=1)
    queue_prefix: str = "comanda"
    # turns a worker process runs at once: CPU-bound turns gain nothing from more, and interleaving many cost CPU
    # (bench e2e: 6,853 turns/min with 4, ~4,800 with 16)
    worker_slots: int = Field(4, ge=1, le=256)
    # `comanda worker` process i serves its own /metrics on this port + i (0: none); the API serves its on /metrics
    worker_metrics_port: int = Field(9100, ge=0, le=65535)

    # messages one phone may send one restaurant (`limits` notation: "20/minute", "100/hour"; "off": no limit)
    phone_rate_limit: str = "20/minute"

    payments: Literal["simulated", "asaas"] = "simulated"
    # Asaas keys and webhook tokens are per restaurant (`comanda tenants payments`); this only points every
    # restaurant's client at another base URL (a test double), instead of Asaas's sandbox or production
    asaas_base_url: str | None = None
    # when set (a Fernet key), restaurants' Asaas keys and webhook tokens are stored encrypted with it
    asaas_key_encryption_key: SecretStr | None = None

    pos: Literal["outbox", "sqs"] = "outbox"
    sqs_endpoint_url: str | None = None
    # the outbox relay (server/relay.py): publish attempts before an event is parked, and publishers at once
    relay_max_attempts: int = Field(8, ge=1)
    relay_publishers: int = Field(4, ge=1)

    # long-term memory (what customers told us, found again next time): off keeps nothing and reads nothing, so no
    # "o de sempre" and no allergy warnings from earlier conversations
    memory: bool = True
    demo_seed: bool = True
    log_level: str = "INFO"
    # json: one object a line with the turn's ids (for a log pipeline); text: for reading in a terminal
    log_format: Literal["json", "text"] = "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # boto3 (Bedrock, SQS), LangSmith and OpenAI's client read os.environ, never our Settings: what `.env` says
        # for them must be in the environment before any of them starts (and before the credential checks look)
        export_dotenv(getattr(dotenv_settings, "env_file", None))
        return init_settings, env_settings, dotenv_settings, file_secret_settings

    @model_validator(mode="after")
    def _usable(self) -> Settings:
        # here, not left to callers: every way of getting Settings (serve, worker processes, Studio, evals) is checked
        self.check_production_parts()
        return self

    @field_validator("phone_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str) -> str:
        if value.strip().lower() == "off":
            return "off"
        from limits import parse

        try:
            parse(value)
        except ValueError:
            raise ValueError('use "N/second", "N/minute", "N/hour" or "N/day" (or "off")') from None
        return value.strip()

    @field_validator("transcribe")
    @classmethod
    def _transcribe_off(cls, value: str) -> str:
        # an empty COMANDA_TRANSCRIBE= in .env means what leaving it out means
        return "off" if value.strip().lower() in ("", "off") else value.strip()

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in logging.getLevelNamesMapping():
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value.upper()

    def check_production_parts(self) -> None:
        """Refuse to start when a chosen production part has no credentials (never fall back silently)."""
        if problems := _malformed(self):
            raise ConfigError("; ".join(problems))
        missing: list[str] = []
        if self.model.startswith("bedrock:"):
            if not self.aws_region:
                missing.append("AWS_REGION (or AWS_DEFAULT_REGION) for COMANDA_MODEL=bedrock:...")
            if not _aws_credentials_available():
                missing.append(
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for COMANDA_MODEL=bedrock:..."
                )
        elif self.model.startswith("openai:"):
            if self.openai_api_key is None:
                missing.append("OPENAI_API_KEY for COMANDA_MODEL=openai:...")
        elif self.model != "offline":
            raise ConfigError(
                f"COMANDA_MODEL={self.model!r} is not a model we know: "
                "use offline, bedrock:<model-id> or openai:<model>"
            )
        unavailable = [f"{name}={value}" for name, value in self._chosen_parts() if (name, value) not in PROVIDED]
        if unavailable:
            raise ConfigError(
                f"{', '.join(unavailable)}: this build can't provide that part yet "
                "(see the README's production table for what works)"
            )
        if self.transcribe.startswith("openai:") and self.openai_api_key is None:
            missing.append("OPENAI_API_KEY for COMANDA_TRANSCRIBE=openai:...")
        if self.pos == "sqs" and not self.aws_region:
            # even a test double (COMANDA_SQS_ENDPOINT_URL) signs its requests for a region
            missing.append("AWS_REGION (or AWS_DEFAULT_REGION) for COMANDA_POS=sqs")
        if bool(self.twilio_account_sid) != bool(self.twilio_auth_token):
            missing.append("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN go together: set both or neither")
        if missing:
            raise ConfigError("missing configuration: " + "; ".join(missing))

    def _chosen_parts(self) -> list[tuple[str, str]]:
        return [("COMANDA_PAYMENTS", self.payments), ("COMANDA_POS", self.pos)]


# The parts this build can actually run: naming another one must stop start-up, never fall back silently.
PROVIDED = {("COMANDA_PAYMENTS", "simulated"), ("COMANDA_PAYMENTS", "asaas"), ("COMANDA_POS", "outbox")}
PROVIDED.add(("COMANDA_POS", "sqs"))  # server/relay.py


def export_dotenv(env_file: Any) -> list[str]:
    """Put the variables of `.env` (one path or several) that the environment lacks into `os.environ`; the
    environment wins, as it does for Settings. COMANDA_ variables stay with Settings. Returns the names exported."""
    from dotenv import dotenv_values  # pydantic-settings' own .env reader

    paths = [env_file] if isinstance(env_file, (str, Path)) else list(env_file or [])
    exported = []
    for path in map(Path, paths):
        if not path.is_file():
            continue
        for name, value in dotenv_values(path).items():
            if value is not None and name not in os.environ and not name.upper().startswith("COMANDA_"):
                os.environ[name] = value
                exported.append(name)
    return exported


def _aws_credentials_available() -> bool:
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        return True
    import boto3  # deferred: boto3 is slow to import and only Bedrock/SQS users need it

    return boto3.Session().get_credentials() is not None


def load_settings() -> Settings:
    """The settings from the environment and `.env`, checked: `ConfigError` names what is wrong in one line."""
    try:
        settings = Settings()
    except ValidationError as exc:
        # pydantic's own text quotes the value, which may be a secret: name the variable and the rule only
        problems = [f"{_env_name(e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False, include_input=False)]
        raise ConfigError("; ".join(problems)) from None
    return settings  # its validator ran the credential checks


def _env_name(loc: tuple[int | str, ...]) -> str:
    name = str(loc[0]) if loc else "?"
    field = Settings.model_fields.get(name)
    if field is None:
        return name.upper()  # already the alias the value came from
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"COMANDA_{name.upper()}"


# settings holding URLs of HTTP services, by the variable a user sets
_HTTP_URLS = {
    "public_base_url": "COMANDA_PUBLIC_BASE_URL",
    "openai_base_url": "OPENAI_BASE_URL",
    "bedrock_endpoint_url": "COMANDA_BEDROCK_ENDPOINT_URL",
    "sqs_endpoint_url": "COMANDA_SQS_ENDPOINT_URL",
    "asaas_base_url": "COMANDA_ASAAS_BASE_URL",
    "twilio_api_base_url": "COMANDA_TWILIO_API_BASE_URL",
    "transcribe_base_url": "COMANDA_TRANSCRIBE_BASE_URL",
}
_POSTGRES_URL = "postgresql://user:password@host:5432/dbname"
_REDIS_URL = "redis://[:password@]host:6379[/db] (rediss:// with TLS, unix:// for a socket)"


def _malformed(settings: Settings) -> list[str]:
    """What can't be right whatever the servers say. The messages never quote a value: URLs carry passwords."""
    problems: list[str] = []
    if settings.database_url is not None:
        problems += _database_url_problems(settings.database_url)
    if settings.redis_url is not None:
        problems += _redis_url_problems(settings.redis_url)
    for field_name, env in _HTTP_URLS.items():
        value: Any = getattr(settings, field_name, None)
        if value is not None:
            parts = urlsplit(str(value))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                problems.append(f"{env} must be an http:// or https:// URL with a host")
    for prefix in ("bedrock:", "openai:"):
        if settings.model.startswith(prefix) and not settings.model[len(prefix) :].strip():
            problems.append(f"COMANDA_MODEL={prefix} names no model: use {prefix}<model-id>")
    transcribe = settings.transcribe
    if transcribe != "off" and not (transcribe.startswith("openai:") and transcribe[len("openai:") :].strip()):
        problems.append("COMANDA_TRANSCRIBE must be off or openai:<model> (e.g. openai:whisper-1)")
    return problems


def _scheme(url: str) -> str | None:
    """The URL's scheme when it has one that looks like a scheme (so quoting it can't leak a password)."""
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]{0,30})://", url)
    return match.group(1) if match else None


def _database_url_problems(url: str) -> list[str]:
    from psycopg import Error as PostgresError
    from psycopg.conninfo import conninfo_to_dict

    scheme = _scheme(url)
    if "://" in url and (scheme or "").lower() not in ("postgresql", "postgres"):
        named = f" ({scheme}://)" if scheme else ""
        return [f"DATABASE_URL is not a PostgreSQL URL{named}: expected {_POSTGRES_URL}"]
    try:
        info = conninfo_to_dict(url)
    except PostgresError:
        return [f"DATABASE_URL can't be read as a PostgreSQL URL or connection string: expected {_POSTGRES_URL}"]
    ports = [p for p in str(info.get("port") or "").split(",") if p]
    if any(not p.isdigit() or not 0 < int(p) < 65536 for p in ports):
        return ["DATABASE_URL has a port that isn't a number from 1 to 65535"]
    return []


def _redis_url_problems(url: str) -> list[str]:
    from redis.connection import parse_url

    scheme = _scheme(url)
    if (scheme or "").lower() not in ("redis", "rediss", "unix"):
        named = f" ({scheme}://)" if scheme else ""
        return [f"REDIS_URL is not a Redis URL{named}: expected {_REDIS_URL}"]
    try:
        parse_url(url)
    except ValueError:
        return [f"REDIS_URL can't be read (check its port and database number): expected {_REDIS_URL}"]
    return []
