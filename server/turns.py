"""What a worker does with a conversation's batch of messages: run the turn, send the replies, leave a trace."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import BaseModel
from redis.asyncio import Redis

from graph.language.complete import answers_whole
from graph.runner import ConversationRunner, CustomerMessage, ToolCallTrace, TurnResult, parse_tool_result
from memory.db import Pool
from memory.privacy import customer_ref
from memory.repos import outbound
from memory.repos.tenants import Tenant
from server.channels import ConsoleChannel, OutboundChannel
from server.faults import fault_point
from server.inbound import InboundMessage
from server.jobs import MemoryJobs
from server.media import MediaSigner
from server.media_in import MediaNote, MediaReader, read_before
from server.metrics import FALLBACKS, fallback_causes, record_turn
from server.queue import Queued, asked_key
from server.tenants import TenantDirectory
from tools.context import TurnContext
from tools.privacy.service import finish_erasure

log = logging.getLogger("comanda.turns")

TRACE_KEEP = 50  # turns of trace kept per conversation (for `comanda chat --trace`)
TRACE_TTL_S = 24 * 3600
# what the bot asked last outlives no conversation: a day later the answer is no answer to it any more
ASKED_TTL_S = 24 * 3600
# how long the console customer's copy of an erasure's reply waits for `comanda chat` (it polls every 50 ms)
FAREWELL_TTL_S = 60
WINDOW_TOUCH_S = 300.0  # how stale the recorded last message of a customer may be (WhatsApp's window is 24 h)
TOUCHED_KEPT = 100_000


class TurnTrace(BaseModel):
    """Why the bot said what it said: published per turn for `comanda chat --trace`."""

    message_sids: list[str]  # the batch, oldest first
    texts: list[str]  # what the conversation read: the words, a voice note's transcription
    replies: list[str]
    media: list[MediaNote] = []  # what became of the batch's attachments (transcribed, not read, failed and why)
    answered_before: list[str] = []  # those of the batch an earlier turn had answered (its worker died)
    resent: list[str] = []  # that earlier turn's replies, sent first (nothing new if they had gone out)
    route: str | None = None
    decided_by: str | None = None
    confidence: float | None = None
    reason: str | None = None
    tool_calls: list[dict[str, Any]] = []
    model_calls: list[dict[str, Any]] = []
    paused: bool = False
    duplicate: bool = False
    erased: bool = False  # the turn erased the customer's data: only its replies are told (ConversationTurns._farewell)
    elapsed_ms: float = 0.0


def trace_key(prefix: str, conv: str) -> str:
    """The Redis stream holding a conversation's recent turn traces."""
    return f"{prefix}:trace:{conv}"


def farewell_key(prefix: str, message_sid: str) -> str:
    """Where the reply to a message whose turn erased the customer waits for `comanda chat`: named by the message,
    never the phone, since nothing naming the customer may outlive the erasure."""
    return f"{prefix}:farewell:{message_sid}"


@dataclass
class ConversationTurns:
    """The worker's turn handler."""

    pool: Pool
    runner: ConversationRunner
    channel: OutboundChannel
    context_for: Callable[[Tenant, str], TurnContext]
    redis: Redis
    media: MediaSigner | None = None
    prefix: str = "comanda"
    tenants: TenantDirectory | None = None
    provider: str = "offline"  # the chat model's provider, for the model-call metrics
    # memory extraction deferred after the reply went out (issue 13); None: nothing is remembered
    memory: MemoryJobs | None = None
    # reads voice notes and other media (server/media_in.py); the default has no transcription provider
    reader: MediaReader | None = None
    # when this process last moved each conversation's 24-hour window (monotonic seconds)
    _touched: dict[tuple[int, str], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.tenants is None:
            self.tenants = TenantDirectory(self.pool)
        if self.reader is None:
            self.reader = MediaReader()

    async def __call__(self, conv: str, batch: list[Queued]) -> None:
        """Run one turn for the batch (coalesced messages, in order) and send its replies."""
        phone = batch[0].message.from_phone
        assert self.tenants is not None
        tenant = await self.tenants.by_id(batch[0].tenant_id)
        if tenant is None:
            log.warning("dropping %d message(s) for a tenant that no longer exists: %s", len(batch), conv)
            return
        # every line logged during the turn (a tool's crash, a failed send) says which turn of whose conversation
        ids = {
            "tenant": tenant.slug,
            "conversation": customer_ref(tenant.id, phone),
            "message_sid": batch[-1].message.message_sid,
            "turn_id": uuid.uuid4().hex[:12],
        }
        with structlog.contextvars.bound_contextvars(**ids):
            await self._turn(conv, batch, tenant, phone)

    async def _touch_window(self, tenant_id: int, phone: str) -> None:
        """Reopen the customer's 24-hour window, at most every WINDOW_TOUCH_S per conversation: a write on every
        turn moved it by seconds. A window recorded up to that much early only ever closes early, so the worst
        it does is send a template where a free-form message was still allowed, never the other way round."""
        now, last = time.monotonic(), self._touched.get((tenant_id, phone))
        if last is not None and now - last < WINDOW_TOUCH_S:
            return
        async with self.pool.connection() as conn:
            await outbound.touch_window(conn, tenant_id, phone)
        if len(self._touched) >= TOUCHED_KEPT:
            self._touched.clear()
        self._touched[(tenant_id, phone)] = now

    async def _turn(self, conv: str, batch: list[Queued], tenant: Tenant, phone: str) -> None:
        await self._touch_window(tenant.id, phone)
        ctx = self.context_for(tenant, phone)
        read = await self._read(ctx, batch)
        # a shared pin goes along as data for the tools (use_shared_location), beside the words
        messages = [m.model_copy(update={"location": q.message.pin()}) for (m, _), q in zip(read, batch, strict=True)]
        texts = [message.text for message in messages]
        sids = [q.message.message_sid for q in batch]
        fault_point("before_turn")
        result = await self.runner.run_turn(ctx, messages, sids)
        fault_point("after_checkpoint")
        if not result.duplicate:
            self._count(tenant, result)
        for earlier in result.earlier:
            # replies earlier turns stored but a worker may have died before sending go first, under their own keys
            await self._send(tenant, phone, earlier.replies, earlier.tool_calls, earlier.last_message_id)
        await self._send(tenant, phone, result.replies, result.tool_calls, sids[-1])
        fault_point("after_send")
        if _erased(result):
            # the customer's data is gone, but this turn's end-of-turn checkpoint and the reply just sent hold them
            # again: finish the erasure now, and leave no trace nor memory job behind (ARCHITECTURE.md)
            await finish_erasure(self.pool, tenant.id, phone)
            await self._forget_keys(conv, tenant.id, phone)
            await self._farewell(sids, result)
            return
        trace = TurnTrace(
            message_sids=sids,
            texts=texts,
            media=[note for _, notes in read for note in notes],
            answered_before=sids[: result.handled_before],
            resent=[reply for earlier in result.earlier for reply in earlier.replies],
            **_trace_fields(result),
        )
        asked = result.state.awaiting if result.state is not None and not result.paused else None
        await self._trace(conv, trace, asked)
        if self.memory is not None and not result.duplicate:
            try:
                await self.memory.defer(tenant.id, phone, texts, tenant.locale, sids[-1])
            except Exception:
                # the customer has their reply; a lost extraction costs a fact, never the conversation
                log.exception("could not queue memory extraction for %s", conv)

    async def _read(self, ctx: TurnContext, batch: list[Queued]) -> list[tuple[CustomerMessage, list[MediaNote]]]:
        """Each message as the conversation reads it, and what became of its attachments.

        A message of a replayed batch (its worker died after the checkpoint) is taken as the first run read it, from
        the checkpoint: transcribing its voice note again would pay the provider twice and could hear other words
        than those the conversation answered. Only a batch that would call out looks there first.
        """
        assert self.reader is not None
        costly = [q.message.message_sid for q in batch if self.reader.calls_out(q.message)]
        known = await self.runner.read_before(ctx, costly) if costly else {}
        read = []
        for q in batch:
            earlier = known.get(q.message.message_sid)
            read.append((earlier, read_before(q.message)) if earlier is not None else await self.reader.read(q.message))
        return read

    def _count(self, tenant: Tenant, result: TurnResult) -> None:
        record_turn(
            tenant.slug,
            self.provider,
            result.route.intent if result.route else None,
            result.elapsed_ms,
            result.model_calls,
        )
        for cause in fallback_causes(result.replies, (c.result for c in result.tool_calls)):
            FALLBACKS.labels(tenant.slug, cause).inc()

    async def _send(
        self, tenant: Tenant, phone: str, replies: list[str], tool_calls: list[ToolCallTrace], last_sid: str
    ) -> None:
        pix = _pix_codes(tool_calls)
        for i, reply in enumerate(replies):
            media = next((self.media.pix_qr_url(code) for code in pix if code in reply), None) if self.media else None
            # keyed by the turn's last message: a replayed turn re-sends only what didn't go out
            await self.channel.send(tenant, phone, reply, media_url=media, dedupe_key=f"turn:{last_sid}:{i}")

    async def _forget_keys(self, conv: str, tenant_id: int, phone: str) -> None:
        """Redis keys naming the erased customer: their traces and rate-limit counters (the queue's own keys
        go when the queue is done with the conversation)."""
        doomed = [trace_key(self.prefix, conv)]
        async for key in self.redis.scan_iter(match=f"*{phone}*", count=500):
            name = key.decode() if isinstance(key, bytes) else str(key)
            if not name.startswith((f"{self.prefix}:conv:", f"{self.prefix}:lock:")):
                doomed.append(name)
        await self.redis.delete(*doomed)

    async def _farewell(self, sids: list[str], result: TurnResult) -> None:
        """Leave the erasing turn's replies where `comanda chat` finds them, for a minute.

        The console channel's customer reads their replies from `outbound_messages`, and the sweep has just deleted
        this turn's (they carry the phone), before the CLI could read them: its customer never saw the
        confirmation. A Twilio customer already has it on their phone, so nothing is kept for them. The copy holds
        the bot's words and the batch's MessageSids only, under keys that don't name the customer.
        """
        if not isinstance(self.channel, ConsoleChannel):
            return
        trace = TurnTrace(
            message_sids=sids,
            texts=[],
            replies=result.replies,
            resent=[reply for earlier in result.earlier for reply in earlier.replies],
            erased=True,
            elapsed_ms=round(result.elapsed_ms, 1),
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in sids:
                pipe.set(farewell_key(self.prefix, sid), trace.model_dump_json(), ex=FAREWELL_TTL_S)
            await pipe.execute()

    async def _trace(self, conv: str, trace: TurnTrace, asked: str | None) -> None:
        """Publish the turn's trace and leave what the bot asked for the queue's next take (one round trip)."""
        key = trace_key(self.prefix, conv)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(key, {"trace": trace.model_dump_json()}, maxlen=TRACE_KEEP, approximate=True)
            pipe.expire(key, TRACE_TTL_S)
            if asked:
                pipe.set(asked_key(self.prefix, conv), asked, ex=ASKED_TTL_S)
            else:
                pipe.delete(asked_key(self.prefix, conv))
            await pipe.execute()


def whole_answer(asked: str | None, message: InboundMessage) -> bool:
    """A lone message that answers the bot's question whole (graph/language/complete.py): the queue starts its turn
    without waiting for more. Attachments and pins are read in the turn, never judged here."""
    if message.media or message.location is not None:
        return False
    return answers_whole(asked, message.text())


def _erased(result: TurnResult) -> bool:
    """The turn erased the customer's data (LGPD): whatever it found, nothing of the conversation may stay."""
    return any(
        call.name == "erase_my_data" and parse_tool_result(call.result).get("kind") in ("erased", "privacy_no_data")
        for call in result.tool_calls
    )


def _pix_codes(tool_calls: list[ToolCallTrace]) -> list[str]:
    codes = []
    for call in tool_calls:
        code = parse_tool_result(call.result).get("pix_code")
        if isinstance(code, str) and code:
            codes.append(code)
    return codes


def _trace_fields(result: TurnResult) -> dict[str, Any]:
    """The trace's account of how the turn went (route, tools, model calls)."""
    route = result.route
    return {
        "replies": result.replies,
        "route": route.intent if route else None,
        "reason": route.reason if route else None,
        "decided_by": route.decided_by if route else None,
        "confidence": route.confidence if route else None,
        "tool_calls": [
            {"node": c.node, "name": c.name, "args": c.args, "result": _short(c.result)} for c in result.tool_calls
        ],
        "model_calls": [m.model_dump() for m in result.model_calls],
        "paused": result.paused,
        "duplicate": result.duplicate,
        "elapsed_ms": round(result.elapsed_ms, 1),
    }


def _short(text: str, limit: int = 600) -> str:
    try:
        text = json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        pass
    return text if len(text) <= limit else text[: limit - 1] + "…"
