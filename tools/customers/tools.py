"""Registration and address tools: collect a draft step by step, save it on confirmation, pick addresses."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

from typing import Any, cast

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, Field

from tools.context import TurnContext
from tools.customers import service
from tools.customers.address_tools import (
    choose_address,
    correct_address,
    list_addresses,
    remove_address,
    rename_address,
    set_default_address,
    start_new_address,
    use_shared_location,
)
from tools.customers.models import RegistrationDraft
from tools.customers.tool_support import (
    CustomerUpdated,
    Registered,
    invalid_fields,
    not_registered,
    reply_with,
    state_view,
    status_of,
)
from tools.privacy import service as privacy
from tools.results import ToolError


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
    ctx = cast(TurnContext, runtime.context)
    st = state_view(runtime)
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
            updated = await service.update_customer(ctx.pool, ctx.tenant.id, customer, name=name, email=email, cpf=cpf)
        except service.InvalidFields as exc:
            return invalid_fields(exc.fields, exc.reasons)
        return reply_with(runtime, CustomerUpdated(customer=updated), customer=updated)
    draft, invalid, reasons = service.merge_registration(st.registration, given, ctx.tenant)
    status = status_of(draft, customer)
    updates: dict[str, Any] = {"registration": status.draft, "awaiting": f"registration.{status.next_step}"}
    if invalid:
        # the customer is asked that field again: the conversation waits at its step, not past it (a bad CEP once
        # moved it on to the e-mail step, so the corrected CEP went straight to the summary and the e-mail was
        # never offered)
        step = _STEP_OF.get(invalid[0], status.next_step)
        updates = {
            "registration": status.draft.model_copy(update={"awaiting": step}),
            "awaiting": f"registration.{step}",
        }
        return Command(
            update={
                **updates,
                "messages": [ToolMessage(invalid_fields(invalid, reasons), tool_call_id=runtime.tool_call_id)],
            }
        )
    return reply_with(runtime, status, **updates)


_STEP_OF: dict[str, service.NextStep] = {
    "name": "name",
    "email": "email",
    **{f: "address" for f in ("street", "number", "complement", "neighborhood", "city", "state", "postal_code")},
}


class ConfirmRegistrationArgs(BaseModel):
    """The customer's answer to the summary and its privacy notice."""

    consent: bool = Field(
        True, description="False when the customer refuses to have their data kept (they can still order)."
    )


@tool("confirm_registration", args_schema=ConfirmRegistrationArgs)
async def confirm_registration(consent: bool = True, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Save the registration after the customer confirmed the summary (consent=False: only for this order)."""
    ctx = cast(TurnContext, runtime.context)
    st = state_view(runtime)
    draft, customer = st.registration, st.customer
    missing = service.missing_fields(draft, customer)
    if missing:
        if customer is not None and customer.registered and draft == RegistrationDraft():
            # already saved (e.g. the customer confirmed twice): nothing new to write
            return reply_with(runtime, Registered(customer=customer))
        return ToolError(
            error="missing_field", message="Registration still lacks: " + ", ".join(missing), fields=missing
        ).model_dump_json()
    saved = await service.confirm_registration(ctx.pool, ctx.tenant, ctx.phone, draft, customer)
    if (customer is None or customer.id is None) and saved.id is not None:
        # a first registration: the summary they answered carried the privacy notice (LGPD consent); a refusal
        # keeps the data for this order only (tools/privacy/service.py purges it once the order is done)
        await privacy.record_consent(ctx.pool, ctx.tenant.id, saved.id, accepted=consent)
    added = None
    if customer is not None and customer.registered:
        added = next((a.one_line() for a in saved.addresses if a.id == saved.default_address_id), None)
    return reply_with(
        runtime,
        Registered(customer=saved, consent=consent, address_added=added),
        customer=saved,
        registration=RegistrationDraft(),
        # with something in the cart, the customer's next "sim" answers "fechar o pedido?": the checkout's
        awaiting="payment.checkout" if st.cart.lines else None,
        # a summary shown before showed another address: it must be shown again before placing the order
        checkout=st.checkout.model_copy(
            update={"address_id": saved.default_address_id, "awaiting_confirmation": False}
        ),
    )


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
    ctx = cast(TurnContext, runtime.context)
    st = state_view(runtime)
    if st.customer is None or st.customer.id is None:
        return not_registered()
    if name is None and email is None and cpf is None:
        return ToolError(
            error="missing_field", message="Say what changes: name or email.", fields=["name", "email"]
        ).model_dump_json()
    try:
        customer = await service.update_customer(ctx.pool, ctx.tenant.id, st.customer, name=name, email=email, cpf=cpf)
    except service.InvalidFields as exc:
        return invalid_fields(exc.fields, exc.reasons)
    return reply_with(runtime, CustomerUpdated(customer=customer), customer=customer)


REGISTRATION_TOOLS: list[BaseTool] = [
    update_registration,
    confirm_registration,
    list_addresses,
    choose_address,
    start_new_address,
    update_customer,
    use_shared_location,
    set_default_address,
    rename_address,
    correct_address,
    remove_address,
]


# what the checkout needs to settle where the order goes (the payment agent has them too)
ADDRESS_TOOLS: list[BaseTool] = [
    list_addresses,
    choose_address,
    start_new_address,
    correct_address,
    update_registration,
]
