"""The customer's LGPD requests by WhatsApp: ask to confirm, then send the export link or erase everything."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call.

from typing import Any, Literal, cast

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field

from tools.cart.models import Cart
from tools.context import TurnContext
from tools.customers.models import CustomerInfo, RegistrationDraft
from tools.orders.models import Checkout
from tools.privacy import service
from tools.results import NoArgs, internal_error

AWAITING = {"export": "registration.privacy_export", "erase": "registration.privacy_erase"}


class PrivacyRequest(BaseModel):
    """A request noted (ask the customer to confirm it) or dropped (`request` = cancel)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["privacy_request"] = "privacy_request"
    request: Literal["export", "erase", "cancel"]


class ExportReady(BaseModel):
    """The link to the customer's data, valid for `valid_hours`."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["export_ready"] = "export_ready"
    url: str
    valid_hours: int


class NoData(BaseModel):
    """We hold nothing about this customer."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["privacy_no_data"] = "privacy_no_data"


class Erased(BaseModel):
    """Everything about the customer was deleted (orders kept, anonymised)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["erased"] = "erased"


class PrivacyRequestArgs(BaseModel):
    """Which right the customer asks for."""

    request: Literal["export", "erase", "cancel"] = Field(
        description="export: a copy of their data; erase: delete their data; cancel: they changed their mind."
    )


def _reply(runtime: ToolRuntime[Any, Any], result: BaseModel, **updates: Any) -> Command[Any]:
    return Command(
        update={**updates, "messages": [ToolMessage(result.model_dump_json(), tool_call_id=runtime.tool_call_id)]}
    )


@tool("privacy_request", args_schema=PrivacyRequestArgs)
async def privacy_request(request: Literal["export", "erase", "cancel"], *, runtime: ToolRuntime) -> Command[Any]:
    """Note a data export or erasure request (LGPD) and ask the customer to confirm it; `cancel` drops it."""
    return _reply(runtime, PrivacyRequest(request=request), awaiting=AWAITING.get(request))


@tool("export_my_data", args_schema=NoArgs)
async def export_my_data(*, runtime: ToolRuntime) -> Command[Any] | str:
    """After the customer confirmed: send a signed, expiring link to a copy of all their data."""
    ctx = cast(TurnContext, runtime.context)
    if ctx.export_links is None:
        return internal_error()
    url = await service.export_link(ctx.pool, ctx.export_links, ctx.tenant.id, ctx.phone, ctx.clock(), actor="customer")
    if url is None:
        return _reply(runtime, NoData(), awaiting=None)
    return _reply(runtime, ExportReady(url=url, valid_hours=ctx.export_links.ttl_s // 3600), awaiting=None)


@tool("erase_my_data", args_schema=NoArgs)
async def erase_my_data(*, runtime: ToolRuntime) -> Command[Any] | str:
    """After the customer confirmed: delete all their data (orders are kept for tax purposes, anonymised)."""
    ctx = cast(TurnContext, runtime.context)
    done = await service.erase_customer(ctx.pool, ctx.tenant.id, ctx.phone, actor="customer")
    # what the rest of the turn sees forgets the customer; the turn handler then deletes the checkpoint this
    # turn ends with (server/turns.py), so the conversation can't bring the data back
    forget: dict[str, Any] = {
        "awaiting": None,
        "customer": CustomerInfo(id=None, phone=ctx.phone),
        "registration": RegistrationDraft(),
        "memories": [],
        "summary": None,
        "cart": Cart(),
        "checkout": Checkout(),
    }
    return _reply(runtime, Erased() if done.erased else NoData(), **forget)


PRIVACY_TOOLS: list[BaseTool] = [privacy_request, export_my_data, erase_my_data]
