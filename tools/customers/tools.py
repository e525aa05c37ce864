"""Registration and address tools: collect a draft step by step, save it on confirmation, pick addresses."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

import logging
from typing import Any, Literal, cast

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field

from tools.context import TurnContext, conversation_of
from tools.customers import service
from tools.customers.models import CustomerInfo, RegistrationDraft
from tools.orders.models import Checkout
from tools.results import NoArgs, ToolError

log = logging.getLogger(__name__)


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


class AddressOption(BaseModel):
    """One saved address as offered to the customer."""

    model_config = ConfigDict(frozen=True)

    index: int  # 1-based, as the customer picks it
    id: int
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
    text: str


class CustomerUpdated(BaseModel):
    """A registered customer's data after a change."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["customer_updated"] = "customer_updated"
    customer: CustomerInfo


class _View(BaseModel):
    """The parts of the conversation state these tools read (tools can't import the graph's state class)."""

    customer: CustomerInfo | None = None
    registration: RegistrationDraft = RegistrationDraft()
    checkout: Checkout = Checkout()


def _state(runtime: ToolRuntime[Any, Any]) -> _View:
    st = runtime.state
    if isinstance(st, dict):
        return _View.model_validate(st)
    return _View.model_validate({k: getattr(st, k) for k in _View.model_fields if hasattr(st, k)})


def _message(runtime: ToolRuntime[Any, Any], result: BaseModel) -> ToolMessage:
    return ToolMessage(result.model_dump_json(), tool_call_id=runtime.tool_call_id)


def _reply(runtime: ToolRuntime[Any, Any], result: BaseModel, **updates: Any) -> Command[Any]:
    return Command(update={**updates, "messages": [_message(runtime, result)]})


def _internal() -> str:
    return ToolError(
        error="internal", message="Something went wrong on our side; apologise and try again."
    ).model_dump_json()


def _not_registered() -> str:
    return ToolError(
        error="not_registered", message="The customer is not registered yet: collect their name and address first."
    ).model_dump_json()


def _status(draft: RegistrationDraft, customer: CustomerInfo | None) -> RegistrationStatus:
    step = service.next_step(draft, customer)
    return RegistrationStatus(
        draft=draft.model_copy(update={"awaiting": step}),
        missing=service.missing_fields(draft, customer),
        next_step=step,
        summary_text=service.summary_text(draft, customer),
    )


class UpdateRegistrationArgs(BaseModel):
    """Registration fields the customer just gave; leave out what they didn't say."""

    name: str | None = Field(None, description="Customer's name, as they wrote it.")
    email: str | None = Field(None, description="E-mail address.")
    street: str | None = Field(None, description="Street name (Rua/Av.), without the number.")
    number: str | None = Field(None, description="House/building number ('s/n' if none).")
    complement: str | None = Field(None, description="Apartment, block, etc.")
    neighborhood: str | None = Field(None, description="Bairro.")
    city: str | None = Field(None, description="City (defaults to the restaurant's).")
    state: str | None = Field(None, description="Two-letter UF, e.g. SP (defaults to the restaurant's).")
    postal_code: str | None = Field(None, description="CEP, 00000-000.")
    reference: str | None = Field(None, description="Landmark to help the courier.")
    cpf: str | None = Field(None, description="CPF, only if the customer offers it.")
    no_email: bool = Field(False, description="True when the customer prefers not to give an e-mail.")


@tool("update_registration", args_schema=UpdateRegistrationArgs)
async def update_registration(
    name: str | None = None,
    email: str | None = None,
    street: str | None = None,
    number: str | None = None,
    complement: str | None = None,
    neighborhood: str | None = None,
    city: str | None = None,
    state: str | None = None,
    postal_code: str | None = None,
    reference: str | None = None,
    cpf: str | None = None,
    no_email: bool = False,
    *,
    runtime: ToolRuntime,
) -> Command[Any] | str:
    """Record registration data the customer gave (name, address, e-mail); returns what to ask next."""
    try:
        ctx = cast(TurnContext, runtime.context)
        st = _state(runtime)
        given = service.RegistrationInput(
            name=name,
            email=email,
            street=street,
            number=number,
            complement=complement,
            neighborhood=neighborhood,
            city=city,
            state=state,
            postal_code=postal_code,
            reference=reference,
            cpf=cpf,
            no_email=no_email,
        )
        customer = st.customer
        address_given = any((street, number, complement, neighborhood, city, state, postal_code, reference))
        if customer is not None and customer.registered and st.registration.awaiting is None and not address_given:
            # a registered customer correcting their data: no draft, save it now
            try:
                updated = await service.update_customer(
                    ctx.pool, ctx.tenant.id, customer, name=name, email=email, cpf=cpf
                )
            except service.InvalidFields as exc:
                return _invalid(exc.fields, exc.reasons)
            return _reply(runtime, CustomerUpdated(customer=updated), customer=updated)
        draft, invalid, reasons = service.merge_registration(st.registration, given, ctx.tenant)
        status = _status(draft, customer)
        updates: dict[str, Any] = {"registration": status.draft, "awaiting": f"registration.{status.next_step}"}
        if invalid:
            return Command(
                update={
                    **updates,
                    "messages": [ToolMessage(_invalid(invalid, reasons), tool_call_id=runtime.tool_call_id)],
                }
            )
        return _reply(runtime, status, **updates)
    except Exception:
        log.exception("update_registration failed in conversation %s", conversation_of(runtime.context))
        return _internal()


def _invalid(fields: list[str], reasons: list[str]) -> str:
    return ToolError(
        error="invalid_field", message="Ask again for: " + "; ".join(reasons), fields=fields
    ).model_dump_json()


@tool("confirm_registration", args_schema=NoArgs)
async def confirm_registration(*, runtime: ToolRuntime) -> Command[Any] | str:
    """Save the registration after the customer confirmed the summary."""
    try:
        ctx = cast(TurnContext, runtime.context)
        st = _state(runtime)
        draft, customer = st.registration, st.customer
        missing = service.missing_fields(draft, customer)
        if missing:
            if customer is not None and customer.registered and draft == RegistrationDraft():
                # already saved (e.g. the customer confirmed twice): nothing new to write
                return _reply(runtime, Registered(customer=customer))
            return ToolError(
                error="missing_field", message="Registration still lacks: " + ", ".join(missing), fields=missing
            ).model_dump_json()
        saved = await service.confirm_registration(ctx.pool, ctx.tenant, ctx.phone, draft, customer)
        return _reply(
            runtime,
            Registered(customer=saved),
            customer=saved,
            registration=RegistrationDraft(),
            awaiting=None,
            checkout=st.checkout.model_copy(update={"address_id": saved.default_address_id}),
        )
    except Exception:
        log.exception("confirm_registration failed in conversation %s", conversation_of(runtime.context))
        return _internal()


@tool("list_addresses", args_schema=NoArgs)
async def list_addresses(*, runtime: ToolRuntime) -> Command[Any] | str:
    """List the customer's saved delivery addresses (numbered, default first)."""
    try:
        ctx = cast(TurnContext, runtime.context)
        st = _state(runtime)
        if st.customer is None or st.customer.id is None:
            return _not_registered()
        async with ctx.pool.connection() as conn:
            customer = await service.identify_customer(conn, ctx.tenant.id, st.customer.phone)
        options = [
            AddressOption(index=i, id=a.id, text=a.one_line())
            for i, a in enumerate(customer.addresses, start=1)
            if a.id is not None
        ]
        default = next((o.index for o in options if o.id == customer.default_address_id), None)
        return _reply(runtime, AddressList(addresses=options, default_index=default), customer=customer)
    except Exception:
        log.exception("list_addresses failed in conversation %s", conversation_of(runtime.context))
        return _internal()


class ChooseAddressArgs(BaseModel):
    """Which saved address (as numbered by list_addresses)."""

    index: int = Field(description="1-based number of the address in list_addresses.")


@tool("choose_address", args_schema=ChooseAddressArgs)
async def choose_address(index: int, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Deliver this order to one of the saved addresses (it becomes the default too)."""
    try:
        ctx = cast(TurnContext, runtime.context)
        st = _state(runtime)
        if st.customer is None or st.customer.id is None:
            return _not_registered()
        async with ctx.pool.connection() as conn:
            fresh = await service.identify_customer(conn, ctx.tenant.id, st.customer.phone)
        if not 1 <= index <= len(fresh.addresses):
            return ToolError(
                error="invalid_field",
                message=f"There is no address number {index}; the customer has {len(fresh.addresses)}.",
                fields=["index"],
                suggestions=[f"{i}. {a.one_line()}" for i, a in enumerate(fresh.addresses, start=1)],
            ).model_dump_json()
        address = fresh.addresses[index - 1]
        assert address.id is not None
        customer = await service.choose_address(ctx.pool, ctx.tenant.id, fresh, address.id)
        result = AddressChosen(index=index, address_id=address.id, text=address.one_line())
        checkout = st.checkout.model_copy(update={"address_id": address.id, "awaiting_confirmation": False})
        return _reply(runtime, result, customer=customer, checkout=checkout)
    except Exception:
        log.exception("choose_address failed in conversation %s", conversation_of(runtime.context))
        return _internal()


@tool("start_new_address", args_schema=NoArgs)
async def start_new_address(*, runtime: ToolRuntime) -> Command[Any] | str:
    """Start collecting a new delivery address (the customer wants to add one or deliver elsewhere)."""
    try:
        st = _state(runtime)
        customer = st.customer
        name = customer.name if customer else None
        draft = RegistrationDraft(name=st.registration.name or name, email=st.registration.email)
        status = _status(draft, customer)
        return _reply(runtime, status, registration=status.draft, awaiting=f"registration.{status.next_step}")
    except Exception:
        log.exception("start_new_address failed in conversation %s", conversation_of(runtime.context))
        return _internal()


class UpdateCustomerArgs(BaseModel):
    """New data for a registered customer; leave out what doesn't change."""

    name: str | None = Field(None, description="New name.")
    email: str | None = Field(None, description="New e-mail address.")
    cpf: str | None = Field(None, description="CPF, if the customer gives it.")


@tool("update_customer", args_schema=UpdateCustomerArgs)
async def update_customer(
    name: str | None = None,
    email: str | None = None,
    cpf: str | None = None,
    *,
    runtime: ToolRuntime,
) -> Command[Any] | str:
    """Change a registered customer's name or e-mail ("meu email mudou")."""
    try:
        ctx = cast(TurnContext, runtime.context)
        st = _state(runtime)
        if st.customer is None or st.customer.id is None:
            return _not_registered()
        if name is None and email is None and cpf is None:
            return ToolError(
                error="missing_field", message="Say what changes: name or email.", fields=["name", "email"]
            ).model_dump_json()
        try:
            customer = await service.update_customer(
                ctx.pool, ctx.tenant.id, st.customer, name=name, email=email, cpf=cpf
            )
        except service.InvalidFields as exc:
            return _invalid(exc.fields, exc.reasons)
        return _reply(runtime, CustomerUpdated(customer=customer), customer=customer)
    except Exception:
        log.exception("update_customer failed in conversation %s", conversation_of(runtime.context))
        return _internal()


REGISTRATION_TOOLS: list[BaseTool] = [
    update_registration,
    confirm_registration,
    list_addresses,
    choose_address,
    start_new_address,
    update_customer,
]
