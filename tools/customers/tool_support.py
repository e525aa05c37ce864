"""What the customer tools share: their results, the state they read, and how they answer the model."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from langchain_core.messages import ToolMessage
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field

from tools.cart.models import Cart
from tools.context import TurnContext
from tools.customers import service
from tools.customers.models import AddressInfo, CustomerInfo, RegistrationDraft
from tools.orders.models import Checkout
from tools.results import ToolError


class RegistrationStatus(BaseModel):
    """Where registration stands: the draft, what is missing and what to ask next."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["registration"] = "registration"
    draft: RegistrationDraft
    missing: list[str]
    next_step: service.NextStep
    summary_text: str


class Registered(BaseModel):
    """The customer was saved (or already was): they can order now."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["registered"] = "registered"
    customer: CustomerInfo
    consent: bool = True  # False: saved only for this order (LGPD refusal), erased once it is done
    address_added: str | None = None  # a registered customer's new address (it gets this order), as one line


class AddressOption(BaseModel):
    """One saved address as offered to the customer."""

    model_config = ConfigDict(frozen=True)

    index: int  # 1-based, as the customer picks it
    id: int
    label: str | None = None  # "casa", "trabalho": the customer may pick it by this
    text: str


class AddressList(BaseModel):
    """The customer's saved addresses, default first."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["addresses"] = "addresses"
    addresses: list[AddressOption]
    default_index: int | None


class AddressChosen(BaseModel):
    """The address this order goes to (now also the customer's default)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["address_chosen"] = "address_chosen"
    index: int
    address_id: int
    label: str | None = None
    text: str


class CustomerUpdated(BaseModel):
    """A registered customer's data after a change."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["customer_updated"] = "customer_updated"
    customer: CustomerInfo


class StateView(BaseModel):
    """The parts of the conversation state these tools read (tools can't import the graph's state class)."""

    customer: CustomerInfo | None = None
    registration: RegistrationDraft = RegistrationDraft()
    checkout: Checkout = Checkout()
    cart: Cart = Cart()


def state_view(runtime: ToolRuntime[Any, Any]) -> StateView:
    """The conversation state these tools read, from a dict or the graph's state object."""
    st = runtime.state
    if isinstance(st, dict):
        return StateView.model_validate(st)
    return StateView.model_validate({k: getattr(st, k) for k in StateView.model_fields if hasattr(st, k)})


def tool_message(runtime: ToolRuntime[Any, Any], result: BaseModel) -> ToolMessage:
    """A result as the tool call's answer to the model."""
    return ToolMessage(result.model_dump_json(), tool_call_id=runtime.tool_call_id)


def reply_with(runtime: ToolRuntime[Any, Any], result: BaseModel, **updates: Any) -> Command[Any]:
    """Answer the model with `result` and write `updates` to the state."""
    return Command(update={**updates, "messages": [tool_message(runtime, result)]})


def not_registered() -> str:
    """The tool needs a registered customer."""
    return ToolError(
        error="not_registered", message="The customer is not registered yet: collect their name and address first."
    ).model_dump_json()


def status_of(draft: RegistrationDraft, customer: CustomerInfo | None) -> RegistrationStatus:
    """Where registration stands: the draft, what is missing, what to ask next."""
    step = service.next_step(draft, customer)
    return RegistrationStatus(
        draft=draft.model_copy(update={"awaiting": step}),
        missing=service.missing_fields(draft, customer),
        next_step=step,
        summary_text=service.summary_text(draft, customer),
    )


def invalid_fields(fields: list[str], reasons: list[str]) -> str:
    """Fields the customer gave that can't be saved, with why."""
    return ToolError(
        error="invalid_field", message="Ask again for: " + "; ".join(reasons), fields=fields
    ).model_dump_json()


class WhichAddressArgs(BaseModel):
    """Which saved address: its number in list_addresses, or its label."""

    index: int | None = Field(None, description="1-based number of the address in list_addresses.")
    label: str | None = Field(None, description="The address's label as the customer said it: 'casa', 'trabalho'.")


async def fresh_customer(runtime: ToolRuntime[Any, Any]) -> tuple[TurnContext, StateView, CustomerInfo] | str:
    """The turn's context, state and the customer re-read from the database (or the error to return)."""
    ctx = cast(TurnContext, runtime.context)
    st = state_view(runtime)
    if st.customer is None or st.customer.id is None:
        return not_registered()
    async with ctx.pool.connection() as conn:
        fresh = await service.identify_customer(conn, ctx.tenant.id, st.customer.phone)
    return ctx, st, fresh


def which_address(customer: CustomerInfo, index: int | None, label: str | None) -> AddressInfo | str:
    """The saved address the customer meant, by number or label, or the error to answer with."""
    try:
        return service.find_address(customer, index=index, label=label)
    except service.InvalidFields as exc:
        return ToolError(
            error="invalid_field",
            message="; ".join(exc.reasons) + ". Show the list and ask again.",
            fields=exc.fields,
            suggestions=[o.text if not o.label else f"{o.label}: {o.text}" for o in address_options(customer)],
        ).model_dump_json()


@dataclass(frozen=True)
class SavedAddress:
    """A saved address a tool acts on, with the turn's context, state and the customer as just read."""

    ctx: TurnContext
    st: StateView
    customer: CustomerInfo
    address: AddressInfo
    id: int


# which address a tool means when the customer named none (None: they must name one)
DefaultIndex = Callable[[StateView, CustomerInfo], int | None]


async def saved_address(
    runtime: ToolRuntime[Any, Any], index: int | None, label: str | None, default: DefaultIndex | None = None
) -> SavedAddress | str:
    """The registered customer's saved address meant by number or label (or `default`'s), or the error to return."""
    found = await fresh_customer(runtime)
    if isinstance(found, str):
        return found
    ctx, st, fresh = found
    if index is None and label is None and default is not None:
        index = default(st, fresh)
    address = which_address(fresh, index, label)
    if isinstance(address, str):
        return address
    assert address.id is not None  # saved addresses have ids
    return SavedAddress(ctx, st, fresh, address, address.id)


def address_options(customer: CustomerInfo) -> list[AddressOption]:
    """The saved addresses as offered, numbered from 1, default first."""
    return [
        AddressOption(index=i, id=a.id, label=a.label, text=a.one_line())
        for i, a in enumerate(customer.addresses, start=1)
        if a.id is not None
    ]


def chosen_address(customer: CustomerInfo, address_id: int) -> AddressChosen:
    """The chosen address as the result the model reads."""
    option = next(o for o in address_options(customer) if o.id == address_id)
    return AddressChosen(index=option.index, address_id=address_id, label=option.label, text=option.text)


class DefaultAddress(BaseModel):
    """The customer's default address now (orders go there unless they pick another)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["default_address"] = "default_address"
    address_id: int
    label: str | None = None
    address_text: str


class AddressesChanged(BaseModel):
    """A saved address was corrected, renamed or removed; the customer's addresses as they are now."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["addresses_changed"] = "addresses_changed"
    change: Literal["corrected", "renamed", "removed", "located"]
    address_text: str  # the address as changed (as it was, when removed)
    label: str | None = None
    addresses: list[AddressOption]
