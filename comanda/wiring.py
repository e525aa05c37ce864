"""Builds the conversation (model, prompts, checkpointer, graph, runner) and its collaborators from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from redis.asyncio import Redis

from comanda.settings import ConfigError, Settings
from graph.graph import build_graph
from graph.models import ModelConfig, make_chat_model
from graph.runner import ConversationRunner
from memory.checkpointer import make_checkpointer
from memory.db import Pool
from memory.embeddings import default_embedder
from memory.repos.tenants import Tenant
from prompts import PromptSet, load_prompt_set
from server.asaas_webhook import AsaasWebhookDeps
from server.channels import ConsoleChannel, OutboundChannel
from server.jobs import JobDeps, MemoryJobs, run_jobs
from server.media import MediaSigner
from server.media_in import MediaReader, OpenAITranscriber
from server.payments import PaymentDeps
from server.queue import InboundQueue, QueueSettings
from server.relay import OutboxRelay, RelaySettings
from server.turns import ConversationTurns, whole_answer
from server.twilio_channel import TwilioChannel, TwilioConfig
from server.worker import Worker
from tools.context import TurnContext
from tools.memory.extract import ModelExtractor
from tools.payments import asaas_events
from tools.payments.asaas import AsaasPayments
from tools.payments.keys import KeyBox
from tools.payments.provider import PaymentProvider
from tools.payments.simulated import SimulatedPayments
from tools.privacy.links import ExportLinks

log = logging.getLogger("comanda.wiring")


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
    export_links: ExportLinks | None = None

    def context(self, tenant: Tenant, phone: str) -> TurnContext:
        """The run context of a turn for this tenant and customer."""
        return TurnContext(
            pool=self.pool,
            tenant=tenant,
            phone=phone,
            payments=self.payments,
            public_base_url=self.public_base_url,
            export_links=self.export_links,
        )


async def build_conversation(settings: Settings, pool: Pool, *, prompts: str | None = None) -> Conversation:
    """Model + prompt set + Postgres checkpointer → compiled graph → runner."""
    prompt_set = load_prompt_set(prompts)
    checkpointer = await make_checkpointer(pool)
    graph = build_graph(
        make_chat_model(model_config(settings)), prompt_set, checkpointer=checkpointer, memory=settings.memory
    )
    payments = payment_provider(settings, pool)
    runner = ConversationRunner(graph, metadata={"prompt_set": prompt_set.label})
    return Conversation(runner, prompt_set, payments, settings.public_base_url, pool, export_links(settings))


def payment_provider(settings: Settings, pool: Pool) -> PaymentProvider:
    """The configured payment provider; never a silent fallback to the simulated one."""
    if settings.payments == "simulated":
        return SimulatedPayments(settings.public_base_url, secret_key(settings))
    if settings.payments == "asaas":
        return AsaasPayments(pool, key_box(settings), base_url=settings.asaas_base_url)
    raise ConfigError(f"COMANDA_PAYMENTS={settings.payments!r} is not available in this build")


def key_box(settings: Settings) -> KeyBox:
    """Seals restaurants' payment secrets with COMANDA_ASAAS_KEY_ENCRYPTION_KEY when it is set."""
    key = settings.asaas_key_encryption_key
    return KeyBox(key.get_secret_value() if key else None)


def asaas_webhook_routes(settings: Settings, pool: Pool, channel: OutboundChannel) -> AsaasWebhookDeps | None:
    """The Asaas webhook, only with COMANDA_PAYMENTS=asaas."""
    if settings.payments != "asaas":
        return None
    return AsaasWebhookDeps(pool=pool, keys=key_box(settings), notifier=channel)


def simulated_payment_routes(settings: Settings, pool: Pool, channel: OutboundChannel) -> PaymentDeps | None:
    """The simulated pay page and webhook, only with COMANDA_PAYMENTS=simulated: anyone holding a pay link
    could otherwise mark their own order paid on a server that takes real money."""
    if settings.payments != "simulated":
        return None
    return PaymentDeps(pool, channel, secret_key(settings), settings.public_base_url)


def webhook_auth_token(settings: Settings) -> str:
    """The token Twilio signs webhooks with: Twilio's auth token, or our local secret in the embedded mode."""
    if settings.twilio_auth_token is not None:
        return settings.twilio_auth_token.get_secret_value()
    return secret_key(settings).decode()


def queue_settings(settings: Settings) -> QueueSettings:
    """The inbound queue's timings from settings."""
    return QueueSettings(
        prefix=settings.queue_prefix,
        coalesce_window_ms=settings.coalesce_window_ms,
        coalesce_quiet_ms=settings.coalesce_quiet_ms,
        lock_ttl_ms=settings.queue_lock_ttl_ms,
        reclaim_idle_ms=settings.queue_reclaim_idle_ms,
        max_attempts=settings.queue_max_attempts,
    )


def outbound_channel(settings: Settings, pool: Pool) -> OutboundChannel:
    """Twilio when its credentials are set, otherwise the console channel."""
    if settings.twilio_account_sid and settings.twilio_auth_token is not None:
        return TwilioChannel(
            pool,
            TwilioConfig(
                account_sid=settings.twilio_account_sid,
                auth_token=settings.twilio_auth_token,
                status_callback_url=settings.public_base_url.rstrip("/") + "/twilio/status",
                api_base_url=settings.twilio_api_base_url,
                notification_content_sid=settings.twilio_notification_content_sid,
            ),
        )
    return ConsoleChannel(pool)


def export_links(settings: Settings) -> ExportLinks:
    """Signs the LGPD export links customers get by WhatsApp (served by the API under /privacy/export/)."""
    return ExportLinks(secret_key(settings), settings.public_base_url)


def media_signer(settings: Settings) -> MediaSigner:
    """Signs the media URLs we hand to Twilio (PIX QR codes)."""
    return MediaSigner(secret_key(settings), settings.public_base_url)


def media_reader(settings: Settings) -> MediaReader:
    """Reads customers' voice notes with COMANDA_TRANSCRIBE's provider (none: they are asked to type)."""
    transcriber = None
    if settings.transcribe.startswith("openai:"):
        assert settings.openai_api_key is not None  # the settings' own check refused to start without it
        transcriber = OpenAITranscriber(
            settings.transcribe.split(":", 1)[1],
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.transcribe_base_url or settings.openai_base_url,
            timeout_s=settings.transcribe_timeout_s,
        )
    auth = None
    if settings.twilio_account_sid and settings.twilio_auth_token is not None:
        auth = (settings.twilio_account_sid, settings.twilio_auth_token.get_secret_value())
    return MediaReader(
        transcriber, auth=auth, timeout_s=settings.transcribe_timeout_s, api_base_url=settings.twilio_api_base_url
    )


async def build_worker(
    settings: Settings, pool: Pool, redis: Redis, channel: OutboundChannel, *, slots: int | None = None
) -> Worker:
    """A queue worker running turns of the configured conversation and replying through `channel`."""
    conversation = await build_conversation(settings, pool)
    turns = ConversationTurns(
        pool=pool,
        runner=conversation.runner,
        channel=channel,
        context_for=conversation.context,
        redis=redis,
        media=media_signer(settings),
        prefix=settings.queue_prefix,
        provider=settings.model.split(":", 1)[0],
        memory=MemoryJobs(pool, every_turn=settings.model != "offline") if settings.memory else None,
        reader=media_reader(settings),
    )
    return Worker(
        InboundQueue(redis, queue_settings(settings)),
        turns,
        slots=slots or settings.worker_slots,
        whole_answer=whole_answer,
    )


async def run_jobs_worker(settings: Settings, pool: Pool, channel: OutboundChannel, stop: asyncio.Event) -> None:
    """The timed jobs (PIX reminders and expiry, untold customers) until `stop`; restarted if it fails, because
    a dead jobs worker would let unpaid orders wait forever without anyone noticing."""
    provider = payment_provider(settings, pool)
    deps = JobDeps(pool=pool, notifier=channel, void=getattr(provider, "cancel", None))
    deps.embedder = default_embedder()
    if settings.model != "offline":
        # a real model extracts memories with structured output; the offline one with rules (extractor None)
        deps.extractor = ModelExtractor(make_chat_model(model_config(settings)))
    if settings.payments == "asaas":
        deps.replay_events = lambda: asaas_events.process_pending(pool, channel)
    conninfo = pool.conninfo  # our pools are opened from a URL (memory.db.open_pool)
    assert isinstance(conninfo, str)
    while not stop.is_set():
        try:
            await run_jobs(conninfo, deps, stop)
        except Exception:
            log.exception("the jobs worker failed; restarting it in 10 s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=10)


async def with_jobs(
    turns: Awaitable[None], settings: Settings, pool: Pool, channel: OutboundChannel, stop: asyncio.Event
) -> None:
    """A queue worker's turns and the timed jobs side by side, both until `stop`."""
    await asyncio.gather(turns, run_jobs_worker(settings, pool, channel, stop))


async def close_channel(channel: OutboundChannel) -> None:
    """Close a channel's HTTP session, if it has one (Twilio's)."""
    close = getattr(channel, "close", None)
    if close is not None:
        await close()


def relay_settings(settings: Settings) -> RelaySettings:
    """The outbox relay's pacing and where SQS is."""
    return RelaySettings(
        max_attempts=settings.relay_max_attempts,
        publishers=settings.relay_publishers,
        default_region=settings.aws_region,
        endpoint_url=settings.sqs_endpoint_url,
    )


def build_relay(settings: Settings, pool: Pool, channel: OutboundChannel) -> OutboxRelay:
    """The outbox → SQS relay and POS status consumer, telling customers through `channel`."""
    return OutboxRelay(pool, relay_settings(settings), channel)
