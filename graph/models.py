"""Chat models by name: `offline` (ours, deterministic), `bedrock:<model-id>`, `openai:<model>`."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from prompts import PromptSet
from tools.memory.summary import ExtractiveSummarizer, ModelSummarizer, Summarizer


@dataclass(frozen=True)
class ModelConfig:
    """How to reach the chat model; filled from settings by the composition root."""

    spec: str = "offline"
    aws_region: str | None = None
    bedrock_endpoint_url: str | None = None
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    temperature: float = 0.2
    timeout_s: float = 30.0
    max_retries: int = 2


def make_chat_model(config: ModelConfig) -> BaseChatModel:
    """Build the configured chat model (credentials were checked at start-up)."""
    spec = config.spec
    if spec == "offline":
        from graph.offline.model import OfflineChatModel

        return OfflineChatModel()
    if spec.startswith("bedrock:"):
        from botocore.config import Config
        from langchain_aws import ChatBedrockConverse

        return ChatBedrockConverse(
            model_id=spec.removeprefix("bedrock:"),
            region_name=config.aws_region,
            endpoint_url=config.bedrock_endpoint_url,
            temperature=config.temperature,
            max_tokens=1024,
            # botocore counts retries after the first attempt here, like OpenAI's client does
            config=Config(
                retries={"max_attempts": config.max_retries, "mode": "standard"}, read_timeout=config.timeout_s
            ),
        )
    if spec.startswith("openai:"):
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=spec.removeprefix("openai:"),
            api_key=config.openai_api_key,  # type: ignore[arg-type,unused-ignore]
            base_url=config.openai_base_url,
            temperature=config.temperature,
            timeout=config.timeout_s,
            max_retries=config.max_retries,
        )
    raise ValueError(f"unknown model {spec!r}: use offline, bedrock:<model-id> or openai:<model>")


def summarizer_for(model: BaseChatModel, prompts: PromptSet) -> Summarizer:
    """How trimmed history is summarised: extractively for the offline model (it writes no free text), by the model
    itself from the prompt set's summary prompt for a real one."""
    from graph.offline.model import OfflineChatModel

    if isinstance(model, OfflineChatModel):
        return ExtractiveSummarizer()
    return ModelSummarizer(model, prompts)
