"""Settings from the environment (`COMANDA_` prefix) and `.env`, with the production parts' credential checks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A chosen part lacks what it needs to start; the message names the missing variable."""


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
    relay_publishers: int = Field(2, ge=1)

    demo_seed: bool = True
    log_level: str = "INFO"

    def check_production_parts(self) -> None:
        """Refuse to start when a chosen production part has no credentials (never fall back silently)."""
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
PROVIDED = {("COMANDA_PAYMENTS", "simulated"), ("COMANDA_POS", "outbox")}
PROVIDED.add(("COMANDA_POS", "sqs"))  # server/relay.py


def _aws_credentials_available() -> bool:
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        return True
    import boto3  # deferred: boto3 is slow to import and only Bedrock/SQS users need it

    return boto3.Session().get_credentials() is not None
