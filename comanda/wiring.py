"""Builds the conversation (model, prompts, checkpointer, graph, runner) and its collaborators from settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from comanda.settings import Settings
from graph.graph import build_graph
from graph.models import ModelConfig, make_chat_model
from graph.runner import ConversationRunner
from memory.checkpointer import make_checkpointer
from memory.db import Pool
from memory.repos.tenants import Tenant
from prompts import PromptSet, load_prompt_set
from tools.context import TurnContext
from tools.payments.provider import PaymentProvider
from tools.payments.simulated import SimulatedPayments


def model_config(settings: Settings) -> ModelConfig:
    """The chat model settings."""
    return ModelConfig(
        spec=settings.model,
        aws_region=settings.aws_region,
        bedrock_endpoint_url=settings.bedrock_endpoint_url,
        openai_api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        openai_base_url=settings.openai_base_url,
    )


def secret_key(settings: Settings) -> bytes:
    """The key that signs pay links and simulated webhooks: configured, or made once and kept in the data dir."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    path = Path(settings.data_dir) / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


@dataclass
class Conversation:
    """Everything needed to run turns."""

    runner: ConversationRunner
    prompts: PromptSet
    payments: PaymentProvider
    public_base_url: str
    pool: Pool

    def context(self, tenant: Tenant, phone: str) -> TurnContext:
        """The run context of a turn for this tenant and customer."""
        return TurnContext(
            pool=self.pool, tenant=tenant, phone=phone, payments=self.payments, public_base_url=self.public_base_url
        )


async def build_conversation(settings: Settings, pool: Pool, *, prompts: str | None = None) -> Conversation:
    """Model + prompt set + Postgres checkpointer → compiled graph → runner."""
    prompt_set = load_prompt_set(prompts)
    checkpointer = await make_checkpointer(pool)
    graph = build_graph(make_chat_model(model_config(settings)), prompt_set, checkpointer=checkpointer)
    payments = SimulatedPayments(settings.public_base_url, secret_key(settings))
    return Conversation(ConversationRunner(graph), prompt_set, payments, settings.public_base_url, pool)
