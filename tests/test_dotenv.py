"""`.env` reaches the libraries that read the environment themselves (boto3 for Bedrock), not only Settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT
from fakes.bedrock_converse import FakeBedrock
from fakes.scripts import Say, Script
from langchain_core.messages import HumanMessage
from pydantic import AliasChoices

from comanda.settings import ConfigError, Settings, load_settings
from comanda.wiring import model_config
from graph.models import make_chat_model

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
KEY, SECRET = "AKIADOTENVONLY000001", "secret-only-in-dotenv"
AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "COMANDA_AWS_REGION",
    "COMANDA_MODEL",
    "COMANDA_BEDROCK_ENDPOINT_URL",
)


@pytest.fixture
def bare_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory to run in, and no AWS variable in the environment: only `.env` can provide them."""
    for name in AWS_VARS:
        monkeypatch.delenv(name, raising=False)  # also undoes what the test's export sets
    monkeypatch.chdir(tmp_path)
    return tmp_path


async def test_aws_credentials_in_dotenv_sign_the_bedrock_calls(bare_env: Path) -> None:
    bedrock = FakeBedrock(Script(Say(text="Olá do Bedrock")), region="sa-east-1", access_key=KEY, secret_key=SECRET)
    async with bedrock.serve() as url:
        (bare_env / ".env").write_text(
            f"COMANDA_MODEL=bedrock:{MODEL}\nCOMANDA_BEDROCK_ENDPOINT_URL={url}\nAWS_REGION=sa-east-1\n"
            f"AWS_ACCESS_KEY_ID={KEY}\nAWS_SECRET_ACCESS_KEY={SECRET}\nAWS_EC2_METADATA_DISABLED=true\n"
            f"AWS_CONFIG_FILE={bare_env / 'none'}\nAWS_SHARED_CREDENTIALS_FILE={bare_env / 'none'}\n"
        )
        settings = load_settings()
        reply = await make_chat_model(model_config(settings)).ainvoke([HumanMessage("oi")])
    assert reply.text == "Olá do Bedrock"
    [request] = bedrock.requests
    assert request.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEY}/")
    assert "/sa-east-1/bedrock/" in request.headers["authorization"]


def test_the_environment_wins_over_dotenv(bare_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (bare_env / ".env").write_text("AWS_REGION=sa-east-1\n")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert Settings(data_dir=bare_env).aws_region == "us-east-1"


def test_missing_credentials_are_refused_by_settings_itself(bare_env: Path) -> None:
    none = bare_env / "none"
    (bare_env / ".env").write_text(
        f"COMANDA_MODEL=bedrock:{MODEL}\nAWS_REGION=sa-east-1\nAWS_EC2_METADATA_DISABLED=true\n"
        f"AWS_CONFIG_FILE={none}\nAWS_SHARED_CREDENTIALS_FILE={none}\n"
    )
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID"):
        Settings(data_dir=bare_env)  # no caller has to remember to check


def test_dotenv_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    missing = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        accepted = {str(c) for c in alias.choices} if isinstance(alias, AliasChoices) else {f"COMANDA_{name.upper()}"}
        if not accepted & listed:
            missing.append(name)
    assert not missing, f".env.example lacks {missing}"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LANGSMITH_API_KEY", "LANGSMITH_TRACING"} <= listed
