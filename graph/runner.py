"""Runs one conversation turn through the graph and reports what happened (replies, route, tools, model calls)."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, RemoveMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict

from graph.agent import current_turn_start
from graph.guard import MAX_MESSAGE_CHARS, TRANSCRIBED_KEY, UNREAD_KEY, UnreadMedia
from graph.state import ConversationState, RouteDecision
from graph.usage import turn_usage
from memory.checkpointer import TurnSaver
from prompts import catalog
from tools.context import TurnContext
from tools.customers.models import LOCATION_KEY, SharedLocation
from tools.handoff.service import record_customer_message


class ToolCallTrace(BaseModel):
    """A tool the model called this turn, with its arguments and result."""

    model_config = ConfigDict(frozen=True)

    node: str | None
    name: str
    args: dict[str, Any]
    result: str


class ModelCallTrace(BaseModel):
    """One chat-model call this turn, with its token counts when the provider reports them."""

    model_config = ConfigDict(frozen=True)

    node: str | None
    tokens_in: int = 0
    tokens_out: int = 0


class StoredReplies(BaseModel):
    """Replies an earlier turn stored in the checkpoint, to be (re)sent under that turn's dedupe keys.

    A worker can die after the checkpoint and before sending: its replies (an order confirmation, a PIX code) live
    only in the checkpoint until a later turn sends them. Sending them again under the same keys sends nothing new
    when they did go out.
    """

    model_config = ConfigDict(frozen=True)

    last_message_id: str  # the customer message that turn answered last (its dedupe keys are built from it)
    replies: list[str]
    tool_calls: list[ToolCallTrace] = []


class CustomerMessage(BaseModel):
    """One customer message as the conversation reads it: its words, and the media it couldn't read as words.

    The media are named, never written into the text: a placeholder such as "[audio/ogg]" was once read as words and
    saved into an address. The guard answers media-only messages without the model.
    """

    model_config = ConfigDict(frozen=True)

    text: str = ""
    unread: list[UnreadMedia] = []
    transcribed: bool = False  # the text is a voice note's transcription (the staff console says so)
    location: SharedLocation | None = None  # a WhatsApp pin: its coordinates reach the tools as numbers, not words


class TurnResult(BaseModel):
    """What a turn produced: the bot's replies and how it got there."""

    # replies earlier turns stored for messages of this batch, oldest first, to go out before this turn's
    earlier: list[StoredReplies] = []
    handled_before: int = 0  # how many of the batch's messages those earlier turns had answered
    replies: list[str] = []
    route: RouteDecision | None = None
    tool_calls: list[ToolCallTrace] = []
    model_calls: list[ModelCallTrace] = []
    paused: bool = False  # a human agent has the conversation: the bot stayed silent
    duplicate: bool = False  # these messages were already handled in an earlier turn
    elapsed_ms: float = 0.0
    state: ConversationState | None = None


# the channel of an interrupt's pending write in a checkpoint (LangGraph keeps its constant private)
INTERRUPT = "__interrupt__"


def human_message_id(message_id: str) -> str:
    """The id a customer message gets in the state (so a replayed delivery replaces instead of duplicating)."""
    return f"in:{message_id}"


class ConversationRunner:
    """Turns customer messages into replies, one conversation turn at a time."""

    def __init__(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        *,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.graph = graph
        # run metadata (the prompt set's label): LangSmith shows and filters traces by it, with the tenant's slug
        self.metadata = metadata or {}
        # our saver reads the checkpoint once a turn; any other (tests' in-memory one) goes through aget_state
        self._saver = graph.checkpointer if isinstance(graph.checkpointer, TurnSaver) else None

    def _config(self, ctx: TurnContext) -> RunnableConfig:
        metadata = {**self.metadata, "tenant": ctx.tenant.slug}
        return {"configurable": {"thread_id": ctx.thread_id}, "recursion_limit": 60, "metadata": metadata}

    async def is_paused(self, ctx: TurnContext) -> bool:
        """True while the conversation waits for a human agent (the graph is interrupted)."""
        snapshot = await self.graph.aget_state(self._config(ctx))
        return bool(snapshot.interrupts)

    async def run_turn(
        self, ctx: TurnContext, texts: Sequence[str | CustomerMessage], message_ids: Sequence[str] | None = None
    ) -> TurnResult:
        """Handle the customer's messages (one turn, possibly several coalesced messages): plain texts, or
        `CustomerMessage`s when they came with media."""
        started = time.perf_counter()
        config = self._config(ctx)
        try:
            paused, existing = await self._load(config)
            if paused:
                # a person has the conversation: the customer's words go to their ticket (once each, by MessageSid:
                # a replayed batch must not say them twice), the bot stays silent
                sids: Sequence[str | None] = message_ids or [None] * len(texts)
                for message, sid in zip(texts, sids, strict=True):
                    if body := _for_staff(message, ctx.tenant.locale):
                        await record_customer_message(ctx.pool, ctx.tenant.id, ctx.thread_id, body, message_sid=sid)
                return TurnResult(paused=True, elapsed_ms=(time.perf_counter() - started) * 1000)
            return await self._run(ctx, config, texts, message_ids, existing, started)
        finally:
            if self._saver is not None:
                self._saver.forget(ctx.thread_id)

    async def read_before(self, ctx: TurnContext, message_ids: Sequence[str]) -> dict[str, CustomerMessage]:
        """Those of these messages the conversation's checkpoint already holds, as the turn that took them read them.

        A replayed batch (its worker died after the checkpoint) must not be read again: a voice note's transcription
        is a paid call, and it may come back with other words than the ones the conversation answered. One more
        checkpoint read, so the worker asks only for a batch whose reading would cost that call.
        """
        snapshot = await self.graph.aget_state(self._config(ctx))
        messages = snapshot.values.get("messages", []) if snapshot.values else []
        wanted = {human_message_id(i): i for i in message_ids}
        return {wanted[m.id]: _customer(m) for m in messages if isinstance(m, HumanMessage) and m.id in wanted}

    async def _load(self, config: RunnableConfig) -> tuple[bool, list[AnyMessage]]:
        """Whether the conversation waits for a person, and its messages so far (one checkpoint read a turn)."""
        if self._saver is None:
            snapshot = await self.graph.aget_state(config)
            return bool(snapshot.interrupts), list(snapshot.values.get("messages", [])) if snapshot.values else []
        found = await self._saver.load_for_turn(config)
        if found is None:
            return False, []
        paused = any(channel == INTERRUPT for _, channel, _ in found.pending_writes or [])
        return paused, list(found.checkpoint["channel_values"].get("messages", []))

    async def _run(
        self,
        ctx: TurnContext,
        config: RunnableConfig,
        texts: Sequence[str | CustomerMessage],
        message_ids: Sequence[str] | None,
        existing: list[AnyMessage],
        started: float,
    ) -> TurnResult:
        ids = [human_message_id(i) for i in message_ids] if message_ids else [None] * len(texts)
        known = {m.id for m in existing}
        # the batch is the oldest waiting messages, so those an earlier turn already handled come first
        handled = 0 if _unfinished(existing) else _handled_before(ids, known)
        earlier: list[StoredReplies] = []
        if message_ids:
            # the workers that ran them died after the checkpoint, perhaps before sending: hand back the replies
            # after each of them (several, when a worker died again while resending) so they go out, idempotently
            # under their own keys, before anything new is said
            for k in range(handled):
                turn = _turn_after(existing, ids[k])
                if replies := _replies(turn):
                    earlier.append(
                        StoredReplies(last_message_id=message_ids[k], replies=replies, tool_calls=_tool_traces(turn))
                    )
        if message_ids and handled == len(ids):
            return TurnResult(
                duplicate=True,
                earlier=earlier,
                handled_before=handled,
                elapsed_ms=(time.perf_counter() - started) * 1000,
            )
        texts, ids = list(texts)[handled:], ids[handled:]
        humans: list[BaseMessage] = [_human(t, i) for t, i in zip(texts, ids, strict=True)]
        repair: list[BaseMessage] = [RemoveMessage(id=m.id) for m in _orphans(existing) if m.id]
        # every model call of the turn, the router's structured output included (it leaves no message with usage)
        with turn_usage() as usage:
            out = await self.graph.ainvoke({"messages": [*repair, *humans]}, config, context=ctx, durability="exit")  # type: ignore[call-overload,unused-ignore]
        result = await self._result(ctx, out, started, usage=usage.usage_metadata)
        return result.model_copy(update={"earlier": earlier, "handled_before": handled})

    async def resume(self, ctx: TurnContext, value: Any) -> TurnResult:
        """Give the conversation back to the bot after a human agent handled it."""
        started = time.perf_counter()
        out = await self.graph.ainvoke(Command(resume=value), self._config(ctx), context=ctx, durability="exit")  # type: ignore[call-overload,unused-ignore]
        return await self._result(ctx, out, started, resumed=True)

    async def _result(
        self,
        ctx: TurnContext,
        out: Any,
        started: float,
        *,
        resumed: bool = False,
        usage: dict[str, UsageMetadata] | None = None,
    ) -> TurnResult:
        state = ConversationState.model_validate(out) if isinstance(out, dict) else out
        paused = bool(out.get("__interrupt__")) if isinstance(out, dict) else False
        messages = state.messages
        turn = messages[current_turn_start(messages) :] if not resumed else messages[-1:]
        return TurnResult(
            replies=_replies(turn),
            route=state.route,
            tool_calls=_tool_traces(turn),
            model_calls=_model_traces(turn, state.route, usage or {}),
            paused=paused,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            state=state,
        )


def _words(message: str | CustomerMessage) -> str:
    return message if isinstance(message, str) else message.text


def _for_staff(message: str | CustomerMessage, locale: str) -> str:
    """A message as the agent holding the conversation reads it on the ticket: a voice note's words say they were
    transcribed, and media nobody could read as words are named (a photo sent to a person must not vanish)."""
    if isinstance(message, str):
        return message
    lines = [catalog.text("handoff.customer_voice", locale, text=message.text)] if message.transcribed else []
    if message.text and not message.transcribed:
        lines.append(message.text)
    lines += [catalog.text(f"handoff.customer_{kind}", locale) for kind in message.unread]
    return "\n".join(lines)


def _human(message: str | CustomerMessage, message_id: str | None) -> HumanMessage:
    # past the guard's limit a message is only ever answered "too long": keep no more of it than says so, or one
    # 1 MB message is rewritten into every checkpoint of the thread
    text = _words(message)[: MAX_MESSAGE_CHARS + 1]
    if isinstance(message, str):
        return HumanMessage(text, id=message_id)
    extra: dict[str, Any] = {}
    if message.unread:
        extra[UNREAD_KEY] = list(message.unread)
    if message.transcribed:
        extra[TRANSCRIBED_KEY] = True
    if message.location is not None:
        extra[LOCATION_KEY] = message.location.model_dump()
    return HumanMessage(text, id=message_id, additional_kwargs=extra)


def _customer(message: HumanMessage) -> CustomerMessage:
    """A customer message back from the state: the inverse of `_human`."""
    extra = message.additional_kwargs
    location = extra.get(LOCATION_KEY)
    return CustomerMessage(
        text=message.text,
        unread=list(extra.get(UNREAD_KEY) or []),
        transcribed=bool(extra.get(TRANSCRIBED_KEY)),
        location=SharedLocation.model_validate(location) if location else None,
    )


def _handled_before(ids: Sequence[str | None], known: set[str | None]) -> int:
    """How many of the batch's first messages are already in the checkpoint (an earlier turn answered them)."""
    return next((n for n, i in enumerate(ids) if i is None or i not in known), len(ids))


def _turn_after(messages: Sequence[AnyMessage], human_id: str | None) -> list[AnyMessage]:
    """What followed the customer message with this id, up to the customer's next message."""
    turn: list[AnyMessage] = []
    after = False
    for m in messages:
        if isinstance(m, HumanMessage):
            if after:
                break
            after = m.id == human_id
        elif after:
            turn.append(m)
    return turn


def _replies(turn: Sequence[AnyMessage]) -> list[str]:
    return [m.text for m in turn if isinstance(m, AIMessage) and not m.tool_calls and m.text]


def _unfinished(messages: Sequence[AnyMessage]) -> bool:
    """A turn whose last message is still the customer's: it never got an answer (crash mid-turn)."""
    return bool(messages) and isinstance(messages[-1], HumanMessage)


def _orphans(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """Tool calls left without results by a turn that failed mid-way, and their partial results."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    broken: list[AnyMessage] = []
    for m in messages:
        if isinstance(m, AIMessage) and m.tool_calls and not all(tc["id"] in answered for tc in m.tool_calls):
            broken.append(m)
            ids = {tc["id"] for tc in m.tool_calls}
            broken.extend(t for t in messages if isinstance(t, ToolMessage) and t.tool_call_id in ids)
    return broken


def _tool_traces(turn: Sequence[AnyMessage]) -> list[ToolCallTrace]:
    results = {m.tool_call_id: m.text for m in turn if isinstance(m, ToolMessage)}
    return [
        ToolCallTrace(node=m.name, name=tc["name"], args=tc["args"], result=results.get(tc["id"] or "", ""))
        for m in turn
        if isinstance(m, AIMessage)
        for tc in m.tool_calls
    ]


def _model_traces(
    turn: Sequence[AnyMessage], route: RouteDecision | None, usage: dict[str, UsageMetadata]
) -> list[ModelCallTrace]:
    traces = [
        ModelCallTrace(
            node=m.name,
            tokens_in=m.usage_metadata["input_tokens"] if m.usage_metadata else 0,
            tokens_out=m.usage_metadata["output_tokens"] if m.usage_metadata else 0,
        )
        for m in turn
        if isinstance(m, AIMessage) and m.name not in ("guard", "handoff_pause")
    ]
    if route is not None and route.decided_by == "model":
        # the router's tokens: what the turn's models used beyond what the agents' answers report
        tokens_in = sum(u["input_tokens"] for u in usage.values()) - sum(t.tokens_in for t in traces)
        tokens_out = sum(u["output_tokens"] for u in usage.values()) - sum(t.tokens_out for t in traces)
        traces.insert(0, ModelCallTrace(node="router", tokens_in=max(0, tokens_in), tokens_out=max(0, tokens_out)))
    return traces


def parse_tool_result(text: str) -> dict[str, Any]:
    """A tool message's JSON content as a dict ({} when it isn't JSON)."""
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
