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
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_AUTH_TOKEN"),
        ({"COMANDA_TRANSCRIBE": "openai:whisper-1"}, "OPENAI_API_KEY"),
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


SECRET = "Sup3rS3cretPw"


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "comanda.cli", "serve", "--port", "0"],
        env=clean_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def assert_one_clear_line(proc: subprocess.CompletedProcess[str], named: str) -> None:
    """Exit code 2, one line on stderr naming what is wrong, and no secret anywhere."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert named in lines[0]
    assert SECRET not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": f"mysql://user:{SECRET}@db.example.com/shop"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"postgresql+psycopg://user:{SECRET}@db.example.com/shop"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"postgresql://user:{SECRET}@[::1/shop"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"postgresql://user:{SECRET}@db.example.com:99999/shop"}, "DATABASE_URL"),
        ({"DATABASE_URL": f"user={SECRET} this is not a url"}, "DATABASE_URL"),
        ({"REDIS_URL": f"http://default:{SECRET}@cache.example.com:6379"}, "REDIS_URL"),
        ({"REDIS_URL": f"redis://default:{SECRET}@cache.example.com:port"}, "REDIS_URL"),
        ({"COMANDA_MODEL": "anthropic:claude-sonnet"}, "COMANDA_MODEL"),
        ({"COMANDA_MODEL": "bedrock:"}, "COMANDA_MODEL"),
        ({"COMANDA_PAYMENTS": "stripe"}, "COMANDA_PAYMENTS"),
        ({"COMANDA_POS": "kafka"}, "COMANDA_POS"),
        ({"COMANDA_PORT": "eighty"}, "COMANDA_PORT"),
        ({"COMANDA_LOG_LEVEL": "LOUD"}, "COMANDA_LOG_LEVEL"),
        ({"COMANDA_PUBLIC_BASE_URL": f"comanda.example.com/{SECRET}"}, "COMANDA_PUBLIC_BASE_URL"),
        ({"OPENAI_BASE_URL": f"//user:{SECRET}@proxy"}, "OPENAI_BASE_URL"),
        ({"COMANDA_TRANSCRIBE": "whisper-1"}, "COMANDA_TRANSCRIBE"),
        ({"COMANDA_TRANSCRIBE": "openai:", "OPENAI_API_KEY": SECRET}, "COMANDA_TRANSCRIBE"),
        ({"COMANDA_TRANSCRIBE_BASE_URL": f"ftp://user:{SECRET}@stt"}, "COMANDA_TRANSCRIBE_BASE_URL"),
        ({"COMANDA_TRANSCRIBE_TIMEOUT_S": "0"}, "COMANDA_TRANSCRIBE_TIMEOUT_S"),
    ],
    ids=lambda v: "-".join(f"{k}={v[k][:20]}" for k in v) if isinstance(v, dict) else v,
)
def test_a_malformed_setting_stops_serve_with_one_line_and_no_secret(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    proc = _serve(tmp_path, **env)
    assert_one_clear_line(proc, named)
    assert not (tmp_path / "data" / "pg").exists()  # nothing was started
