"""Saved-address tools: list, choose, set default, rename, correct, remove, start a new one, use a shared pin."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

from collections.abc import Sequence
from typing import Any, cast

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, Field

from tools.context import TurnContext
from tools.customers import service
from tools.customers.models import LOCATION_KEY, CustomerInfo, RegistrationDraft, SharedLocation
from tools.customers.tool_support import (
    AddressesChanged,
    AddressList,
    DefaultAddress,
    StateView,
    WhichAddressArgs,
    address_options,
    chosen_address,
    fresh_customer,
    invalid_fields,
    reply_with,
    saved_address,
    state_view,
    status_of,
)
from tools.results import NoArgs, ToolError


@tool("list_addresses", args_schema=NoArgs)
async def list_addresses(*, runtime: ToolRuntime) -> Command[Any] | str:
    """List the customer's saved delivery addresses (numbered, default first)."""
    found = await fresh_customer(runtime)
    if isinstance(found, str):
        return found
    _, st, customer = found
    options = address_options(customer)
    default = next((o.index for o in options if o.id == customer.default_address_id), None)
    # the answer ("2", "trabalho") goes back to whoever asked: the checkout when there is something to order
    asker = "payment" if st.cart.lines else "registration"
    return reply_with(
        runtime,
        AddressList(addresses=options, default_index=default),
        customer=customer,
        awaiting=f"{asker}.address_choice",
    )


def _single(_st: StateView, customer: CustomerInfo) -> int | None:
    # "põe o nome de casa": with one address saved, it can only be that one
    return 1 if len(customer.addresses) == 1 else None


def _this_order(st: StateView, customer: CustomerInfo) -> int | None:
    # "o número é 510": the address this order goes to, else the default
    wanted = st.checkout.address_id or customer.default_address_id
    return next((o.index for o in address_options(customer) if o.id == wanted), 1)


@tool("choose_address", args_schema=WhichAddressArgs)
async def choose_address(
    index: int | None = None, label: str | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Deliver this order to one of the saved addresses, by number or label (it becomes the default too)."""
    found = await saved_address(runtime, index, label)
    if isinstance(found, str):
        return found
    ctx, st, fresh = found.ctx, found.st, found.customer
    customer = await service.choose_address(ctx.pool, ctx.tenant.id, fresh, found.id)
    checkout = st.checkout.model_copy(update={"address_id": found.id, "awaiting_confirmation": False})
    return reply_with(runtime, chosen_address(customer, found.id), customer=customer, checkout=checkout, awaiting=None)


@tool("set_default_address", args_schema=WhichAddressArgs)
async def set_default_address(
    index: int | None = None, label: str | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Make a saved address the default for future orders ("deixa o trabalho como padrão")."""
    found = await saved_address(runtime, index, label)
    if isinstance(found, str):
        return found
    ctx, fresh, address = found.ctx, found.customer, found.address
    customer = await service.choose_address(ctx.pool, ctx.tenant.id, fresh, found.id)
    result = DefaultAddress(address_id=found.id, label=address.label, address_text=address.one_line())
    return reply_with(runtime, result, customer=customer, awaiting=None)


class RenameAddressArgs(WhichAddressArgs):
    """Which saved address, and its new label."""

    new_label: str = Field(description="The new label: 'casa', 'trabalho', 'mãe'.")


@tool("rename_address", args_schema=RenameAddressArgs)
async def rename_address(
    new_label: str, index: int | None = None, label: str | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Give a saved address a label (or a new one) the customer can pick it by."""
    found = await saved_address(runtime, index, label, _single)
    if isinstance(found, str):
        return found
    ctx, fresh = found.ctx, found.customer
    try:
        customer = await service.rename_address(ctx.pool, ctx.tenant, fresh, found.id, new_label)
    except service.InvalidFields as exc:
        return invalid_fields(exc.fields, exc.reasons)
    changed = chosen_address(customer, found.id)
    result = AddressesChanged(
        change="renamed", address_text=changed.text, label=changed.label, addresses=address_options(customer)
    )
    return reply_with(runtime, result, customer=customer)


class CorrectAddressArgs(WhichAddressArgs):
    """Which saved address (none: the one this order goes to, else the default) and the corrected fields only."""

    street: str | None = Field(None, description="Street name, without the number.")
    number: str | None = Field(None, description="House/building number.")
    complement: str | None = Field(None, description="Apartment, block, etc.")
    neighborhood: str | None = Field(None, description="Bairro.")
    city: str | None = Field(None, description="City.")
    state: str | None = Field(None, description="Two-letter UF.")
    postal_code: str | None = Field(None, description="CEP, 00000-000.")
    reference: str | None = Field(None, description="Landmark to help the courier.")


@tool("correct_address", args_schema=CorrectAddressArgs)
async def correct_address(
    index: int | None = None,
    label: str | None = None,
    street: str | None = None,
    number: str | None = None,
    complement: str | None = None,
    neighborhood: str | None = None,
    city: str | None = None,
    state: str | None = None,
    postal_code: str | None = None,
    reference: str | None = None,
    *,
    runtime: ToolRuntime,
) -> Command[Any] | str:
    """Correct a field of a saved address ("o número é 510, não 150"); other fields stay as they are."""
    found = await saved_address(runtime, index, label, _this_order)
    if isinstance(found, str):
        return found
    ctx, st, fresh = found.ctx, found.st, found.customer
    given = service.RegistrationInput(
        street=street,
        number=number,
        complement=complement,
        neighborhood=neighborhood,
        city=city,
        state=state,
        postal_code=postal_code,
        reference=reference,
    )
    if given == service.RegistrationInput():
        return ToolError(
            error="missing_field", message="Say which field changes and its new value.", fields=["number"]
        ).model_dump_json()
    try:
        customer = await service.correct_address(ctx.pool, ctx.tenant, fresh, found.id, given)
    except service.InvalidFields as exc:
        return invalid_fields(exc.fields, exc.reasons)
    changed = chosen_address(customer, found.id)
    result = AddressesChanged(
        change="corrected", address_text=changed.text, label=changed.label, addresses=address_options(customer)
    )
    # a summary shown before the correction is stale: show it again before placing the order
    checkout = st.checkout.model_copy(update={"awaiting_confirmation": False})
    return reply_with(runtime, result, customer=customer, checkout=checkout)


@tool("remove_address", args_schema=WhichAddressArgs)
async def remove_address(
    index: int | None = None, label: str | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Delete a saved address (past orders keep their copy)."""
    found = await saved_address(runtime, index, label)
    if isinstance(found, str):
        return found
    ctx, st, fresh, address = found.ctx, found.st, found.customer, found.address
    customer = await service.remove_address(ctx.pool, ctx.tenant.id, fresh, found.id)
    result = AddressesChanged(
        change="removed", address_text=address.one_line(), label=address.label, addresses=address_options(customer)
    )
    checkout = st.checkout
    if checkout.address_id == found.id:
        checkout = checkout.model_copy(update={"address_id": None, "awaiting_confirmation": False})
    return reply_with(runtime, result, customer=customer, checkout=checkout)


class NewAddressArgs(BaseModel):
    """A label for the new address, if the customer gave one."""

    label: str | None = Field(None, description="'casa', 'trabalho'... only if the customer said it.")


@tool("start_new_address", args_schema=NewAddressArgs)
async def start_new_address(label: str | None = None, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Start collecting a new delivery address (the customer wants to add one or deliver elsewhere)."""
    st = state_view(runtime)
    customer = st.customer
    name = customer.name if customer else None
    draft = RegistrationDraft(name=st.registration.name or name, email=st.registration.email)
    if label and label.strip():
        draft = draft.model_copy(update={"address": draft.address.model_copy(update={"label": label.strip()[:60]})})
    status = status_of(draft, customer)
    checkout = st.checkout.model_copy(update={"awaiting_confirmation": False})
    return reply_with(
        runtime,
        status,
        registration=status.draft,
        awaiting=f"registration.{status.next_step}",
        checkout=checkout,
    )


class PinAddressArgs(BaseModel):
    """What the pin's own address text says (leave out what it doesn't); the coordinates come from the message."""

    street: str | None = Field(None, description="Street from the pin's address text, without the number.")
    number: str | None = Field(None, description="Number, only if the pin's address text or the customer gave it.")
    neighborhood: str | None = Field(None, description="Bairro from the pin's address text.")
    city: str | None = Field(None, description="City from the pin's address text.")
    state: str | None = Field(None, description="Two-letter UF from the pin's address text.")
    postal_code: str | None = Field(None, description="CEP from the pin's address text.")


def turn_pin(messages: Sequence[Any]) -> SharedLocation | None:
    """The last location pin among this turn's customer messages (the model can't make coordinates up)."""
    seen_customer = False
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            seen_customer = True
            if (pin := m.additional_kwargs.get(LOCATION_KEY)) is not None:
                return SharedLocation.model_validate(pin)
        elif seen_customer and isinstance(m, AIMessage):
            return None  # an earlier turn: its pin was answered then
    return None


def _turn_pin(runtime: ToolRuntime[Any, Any]) -> SharedLocation | None:
    st = runtime.state
    return turn_pin(st.get("messages", []) if isinstance(st, dict) else getattr(st, "messages", []))


async def _locate(
    runtime: ToolRuntime[Any, Any], ctx: TurnContext, st: StateView, pin: SharedLocation
) -> Command[Any] | None:
    """A bare pin for the address this order goes to: the address keeps its words and takes the coordinates.

    Whether it had none yet (the checkout asked for one to measure a radius delivery area) or had some already (the
    customer points out their door again, or more exactly): a pin that says no street is no new address, and
    starting one would ask a registered customer for the street and neighbourhood they have on file. The reply names
    the address, so a customer who meant another one says so."""
    found = await fresh_customer(runtime)
    if isinstance(found, str):
        return None
    _, _, fresh = found
    wanted = st.checkout.address_id or fresh.default_address_id
    address = next((a for a in fresh.addresses if a.id == wanted), None)
    if address is None or address.id is None:
        return None
    customer = await service.locate_address(ctx.pool, ctx.tenant, fresh, address.id, pin)
    changed = chosen_address(customer, address.id)
    result = AddressesChanged(
        change="located", address_text=changed.text, label=changed.label, addresses=address_options(customer)
    )
    checkout = st.checkout.model_copy(update={"address_id": address.id, "awaiting_confirmation": False})
    awaiting = "payment.checkout" if st.cart.lines else None
    return reply_with(runtime, result, customer=customer, checkout=checkout, awaiting=awaiting)


@tool("use_shared_location", args_schema=PinAddressArgs)
async def use_shared_location(
    street: str | None = None,
    number: str | None = None,
    neighborhood: str | None = None,
    city: str | None = None,
    state: str | None = None,
    postal_code: str | None = None,
    *,
    runtime: ToolRuntime,
) -> Command[Any] | str:
    """Use the location pin the customer just shared as the delivery address; returns what is still missing."""
    ctx = cast(TurnContext, runtime.context)
    st = state_view(runtime)
    pin = _turn_pin(runtime)
    if pin is None:
        return ToolError(
            error="missing_field",
            message="No location was shared in this turn: ask for the address.",
            fields=["location"],
        ).model_dump_json()
    draft = st.registration
    if draft.awaiting is None and st.customer is not None and st.customer.registered:
        map_words = any((street, number, neighborhood, city, state, postal_code))
        if not map_words and (located := await _locate(runtime, ctx, st, pin)) is not None:
            return located
        # a registered customer's pin is a new address, not an edit of nothing
        draft = RegistrationDraft(name=st.customer.name)
    draft = service.with_location(draft, pin, ctx.tenant)
    given = service.RegistrationInput(
        street=street,
        number=number,
        neighborhood=neighborhood,
        city=city,
        state=state,
        postal_code=postal_code,
    )
    draft, invalid, reasons = service.merge_registration(draft, given, ctx.tenant)
    status = status_of(draft, st.customer)
    updates: dict[str, Any] = {"registration": status.draft, "awaiting": f"registration.{status.next_step}"}
    if invalid:
        message = ToolMessage(invalid_fields(invalid, reasons), tool_call_id=runtime.tool_call_id)
        return Command(update={**updates, "messages": [message]})
    return reply_with(runtime, status, **updates)
