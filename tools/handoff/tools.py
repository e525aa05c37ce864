"""The handoff tool: open (or find) the conversation's ticket and pause the bot for a person."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

import logging
from typing import Any, Literal, cast

from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field

from memory.db import UNAVAILABLE
from tools.cart.models import Cart
from tools.context import TurnContext, conversation_of
from tools.customers.models import CustomerInfo
from tools.handoff import service
from tools.memory.service import MemoryNote
from tools.results import ToolError

log = logging.getLogger(__name__)


class HandoffOpened(BaseModel):
    """A person will take over; `already_open` when the conversation had a ticket already."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["handoff_opened"] = "handoff_opened"
    ticket_id: int
    already_open: bool


class RequestHumanArgs(BaseModel):
    """Why the customer needs a person, and what happened so far."""

    reason: str = Field(description="Why: e.g. 'complaint', 'asked for a human', 'refund', 'bot could not help'.")
    summary: str = Field("", description="One or two sentences for the attendant about what the customer wants.")


def _read(state: Any, key: str) -> Any:
    return state.get(key) if isinstance(state, dict) else getattr(state, key, None)


@tool("request_human", args_schema=RequestHumanArgs)
async def request_human(reason: str, summary: str = "", *, runtime: ToolRuntime) -> Command[Any] | str:
    """Hand the conversation to a restaurant attendant (complaints, refunds, or when asked for a person)."""
    try:
        ctx = cast(TurnContext, runtime.context)
        st = runtime.state
        customer_raw, cart_raw = _read(st, "customer"), _read(st, "cart")
        customer = CustomerInfo.model_validate(customer_raw) if customer_raw is not None else None
        cart = Cart.model_validate(cart_raw) if cart_raw is not None else None
        messages = cast(list[BaseMessage], _read(st, "messages") or [])
        memories = [MemoryNote.model_validate(m) for m in _read(st, "memories") or []]
        earlier = _read(st, "summary")
        if summary.strip():
            # the model's own summary, plus what we remember, which the agent must see whatever the model wrote
            text = "\n".join([summary.strip(), *service.memory_lines(memories)])
            text += f"\nearlier:\n{earlier}" if earlier else ""
        else:
            text = service.build_summary(customer, cart, messages, memories=memories, earlier=earlier)
        ticket, created = await service.open_handoff(
            ctx.pool,
            tenant_id=ctx.tenant.id,
            thread_id=ctx.thread_id,
            phone=ctx.phone,
            customer_id=customer.id if customer else None,
            reason=reason,
            summary=text,
        )
        result = HandoffOpened(ticket_id=ticket.id, already_open=not created)
        message = ToolMessage(result.model_dump_json(), tool_call_id=runtime.tool_call_id)
        return Command(update={"handoff": True, "awaiting": None, "messages": [message]})
    except UNAVAILABLE:
        raise  # the queue retries the turn once Postgres is back
    except Exception:
        log.exception("request_human failed in conversation %s", conversation_of(runtime.context))
        return ToolError(
            error="internal", message="Could not reach an attendant right now; apologise and try again shortly."
        ).model_dump_json()


HANDOFF_TOOLS: list[BaseTool] = [request_human]
