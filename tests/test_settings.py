"""Start-up refuses a production part without its credentials, naming the missing variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from comanda.settings import ConfigError, Settings

CLEAN_ENV_DROP = ("AWS_", "OPENAI_", "TWILIO_", "COMANDA_", "DATABASE_URL", "REDIS_URL")


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(CLEAN_ENV_DROP)}
    # no ~/.aws files and no instance metadata: only what the test sets counts
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        COMANDA_DATA_DIR=str(tmp_path / "data"),
    )
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"COMANDA_MODEL": "bedrock:anthropic.claude-3-5-haiku"}, "AWS_REGION"),
        ({"COMANDA_MODEL": "bedrock:anthropic.claude-3-5-haiku", "AWS_REGION": "us-east-1"}, "AWS_ACCESS_KEY_ID"),
        ({"COMANDA_MODEL": "openai:gpt-4o-mini"}, "OPENAI_API_KEY"),
        ({"COMANDA_PAYMENTS": "asaas"}, "COMANDA_PAYMENTS=asaas"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_AUTH_TOKEN"),
    ],
)
def test_serve_stops_naming_the_missing_variable(tmp_path: Path, env: dict[str, str], named: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "comanda.cli", "serve", "--port", "0"],
        env=clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert named in proc.stderr
    assert "configuration error" in proc.stderr
    # it stopped before starting anything
    assert not (tmp_path / "data" / "pg").exists()


def test_credentials_present_pass_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in clean_env(
        tmp_path, AWS_REGION="sa-east-1", AWS_ACCESS_KEY_ID="AKIA", AWS_SECRET_ACCESS_KEY="s"
    ).items():
        monkeypatch.setenv(key, value)
    Settings(model="bedrock:amazon.nova-lite-v1:0").check_production_parts()


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ConfigError, match="not a model we know"):
        Settings(model="gpt-5").check_production_parts()
