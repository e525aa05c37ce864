"""Registration and address tools: collect a draft step by step, save it on confirmation, pick addresses."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

import logging
from collections.abc import Sequence
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field

from tools.cart.models import Cart
from tools.context import TurnContext, conversation_of
from tools.customers import service
from tools.customers.models import LOCATION_KEY, AddressInfo, CustomerInfo, RegistrationDraft, SharedLocation
from tools.orders.models import Checkout
from tools.privacy import service as privacy
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


class _View(BaseModel):
    """The parts of the conversation state these tools read (tools can't import the graph's state class)."""

    customer: CustomerInfo | None = None
    registration: RegistrationDraft = RegistrationDraft()
    checkout: Checkout = Checkout()
    cart: Cart = Cart()


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


class ConfirmRegistrationArgs(BaseModel):
    """The customer's answer to the summary and its privacy notice."""

    consent: bool = Field(
        True, description="False when the customer refuses to have their data kept (they can still order)."
    )


@tool("confirm_registration", args_schema=ConfirmRegistrationArgs)
async def confirm_registration(consent: bool = True, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Save the registration after the customer confirmed the summary (consent=False: only for this order)."""
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
        if (customer is None or customer.id is None) and saved.id is not None:
            # a first registration: the summary they answered carried the privacy notice (LGPD consent); a refusal
            # keeps the data for this order only (tools/privacy/service.py purges it once the order is done)
            await privacy.record_consent(ctx.pool, ctx.tenant.id, saved.id, accepted=consent)
        added = None
        if customer is not None and customer.registered:
            added = next((a.one_line() for a in saved.addresses if a.id == saved.default_address_id), None)
        return _reply(
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
        options = _options(customer)
        default = next((o.index for o in options if o.id == customer.default_address_id), None)
        # the answer ("2", "trabalho") goes back to whoever asked: the checkout when there is something to order
        asker = "payment" if st.cart.lines else "registration"
        return _reply(
            runtime,
            AddressList(addresses=options, default_index=default),
            customer=customer,
            awaiting=f"{asker}.address_choice",
        )
    except Exception:
        log.exception("list_addresses failed in conversation %s", conversation_of(runtime.context))
        return _internal()


class WhichAddressArgs(BaseModel):
    """Which saved address: its number in list_addresses, or its label."""

    index: int | None = Field(None, description="1-based number of the address in list_addresses.")
    label: str | None = Field(None, description="The address's label as the customer said it: 'casa', 'trabalho'.")


async def _fresh(runtime: ToolRuntime[Any, Any]) -> tuple[TurnContext, _View, CustomerInfo] | str:
    """The turn's context, state and the customer re-read from the database (or the error to return)."""
    ctx = cast(TurnContext, runtime.context)
    st = _state(runtime)
    if st.customer is None or st.customer.id is None:
        return _not_registered()
    async with ctx.pool.connection() as conn:
        fresh = await service.identify_customer(conn, ctx.tenant.id, st.customer.phone)
    return ctx, st, fresh


def _which(customer: CustomerInfo, index: int | None, label: str | None) -> AddressInfo | str:
    try:
        return service.find_address(customer, index=index, label=label)
    except service.InvalidFields as exc:
        return ToolError(
            error="invalid_field",
            message="; ".join(exc.reasons) + ". Show the list and ask again.",
            fields=exc.fields,
            suggestions=[o.text if not o.label else f"{o.label}: {o.text}" for o in _options(customer)],
        ).model_dump_json()


def _options(customer: CustomerInfo) -> list[AddressOption]:
    return [
        AddressOption(index=i, id=a.id, label=a.label, text=a.one_line())
        for i, a in enumerate(customer.addresses, start=1)
        if a.id is not None
    ]


def _chosen(customer: CustomerInfo, address_id: int) -> AddressChosen:
    option = next(o for o in _options(customer) if o.id == address_id)
    return AddressChosen(index=option.index, address_id=address_id, label=option.label, text=option.text)


@tool("choose_address", args_schema=WhichAddressArgs)
async def choose_address(
    index: int | None = None, label: str | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Deliver this order to one of the saved addresses, by number or label (it becomes the default too)."""
    try:
        found = await _fresh(runtime)
        if isinstance(found, str):
            return found
        ctx, st, fresh = found
        address = _which(fresh, index, label)
        if isinstance(address, str):
            return address
        assert address.id is not None
        customer = await service.choose_address(ctx.pool, ctx.tenant.id, fresh, address.id)
        checkout = st.checkout.model_copy(update={"address_id": address.id, "awaiting_confirmation": False})
        return _reply(runtime, _chosen(customer, address.id), customer=customer, checkout=checkout, awaiting=None)
    except Exception:
        log.exception("choose_address failed in conversation %s", conversation_of(runtime.context))
        return _internal()


class DefaultAddress(BaseModel):
    """The customer's default address now (orders go there unless they pick another)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["default_address"] = "default_address"
    address_id: int
    label: str | None = None
    address_text: str


@tool("set_default_address", args_schema=WhichAddressArgs)
async def set_default_address(
    index: int | None = None, label: str | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Make a saved address the default for future orders ("deixa o trabalho como padrão")."""
    try:
        found = await _fresh(runtime)
        if isinstance(found, str):
            return found
        ctx, _st, fresh = found
        address = _which(fresh, index, label)
        if isinstance(address, str):
            return address
        assert address.id is not None
        customer = await service.choose_address(ctx.pool, ctx.tenant.id, fresh, address.id)
        result = DefaultAddress(address_id=address.id, label=address.label, address_text=address.one_line())
        return _reply(runtime, result, customer=customer, awaiting=None)
    except Exception:
        log.exception("set_default_address failed in conversation %s", conversation_of(runtime.context))
        return _internal()


class AddressesChanged(BaseModel):
    """A saved address was corrected, renamed or removed; the customer's addresses as they are now."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["addresses_changed"] = "addresses_changed"
    change: Literal["corrected", "renamed", "removed", "located"]
    address_text: str  # the address as changed (as it was, when removed)
    label: str | None = None
    addresses: list[AddressOption]


class RenameAddressArgs(WhichAddressArgs):
    """Which saved address, and its new label."""

    new_label: str = Field(description="The new label: 'casa', 'trabalho', 'mãe'.")


@tool("rename_address", args_schema=RenameAddressArgs)
async def rename_address(
    new_label: str, index: int | None = None, label: str | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Give a saved address a label (or a new one) the customer can pick it by."""
    try:
        found = await _fresh(runtime)
        if isinstance(found, str):
            return found
        ctx, _st, fresh = found
        if index is None and label is None and len(fresh.addresses) == 1:
            index = 1
        address = _which(fresh, index, label)
        if isinstance(address, str):
            return address
        assert address.id is not None
        try:
            customer = await service.rename_address(ctx.pool, ctx.tenant, fresh, address.id, new_label)
        except service.InvalidFields as exc:
            return _invalid(exc.fields, exc.reasons)
        changed = _chosen(customer, address.id)
        result = AddressesChanged(
            change="renamed", address_text=changed.text, label=changed.label, addresses=_options(customer)
        )
        return _reply(runtime, result, customer=customer)
    except Exception:
        log.exception("rename_address failed in conversation %s", conversation_of(runtime.context))
        return _internal()


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
    try:
        found = await _fresh(runtime)
        if isinstance(found, str):
            return found
        ctx, st, fresh = found
        if index is None and label is None:
            wanted = st.checkout.address_id or fresh.default_address_id
            index = next((o.index for o in _options(fresh) if o.id == wanted), 1)
        address = _which(fresh, index, label)
        if isinstance(address, str):
            return address
        assert address.id is not None
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
            customer = await service.correct_address(ctx.pool, ctx.tenant, fresh, address.id, given)
        except service.InvalidFields as exc:
            return _invalid(exc.fields, exc.reasons)
        changed = _chosen(customer, address.id)
        result = AddressesChanged(
            change="corrected", address_text=changed.text, label=changed.label, addresses=_options(customer)
        )
        # a summary shown before the correction is stale: show it again before placing the order
        checkout = st.checkout.model_copy(update={"awaiting_confirmation": False})
        return _reply(runtime, result, customer=customer, checkout=checkout)
    except Exception:
        log.exception("correct_address failed in conversation %s", conversation_of(runtime.context))
        return _internal()


@tool("remove_address", args_schema=WhichAddressArgs)
async def remove_address(
    index: int | None = None, label: str | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Delete a saved address (past orders keep their copy)."""
    try:
        found = await _fresh(runtime)
        if isinstance(found, str):
            return found
        ctx, st, fresh = found
        address = _which(fresh, index, label)
        if isinstance(address, str):
            return address
        assert address.id is not None
        customer = await service.remove_address(ctx.pool, ctx.tenant.id, fresh, address.id)
        result = AddressesChanged(
            change="removed", address_text=address.one_line(), label=address.label, addresses=_options(customer)
        )
        checkout = st.checkout
        if checkout.address_id == address.id:
            checkout = checkout.model_copy(update={"address_id": None, "awaiting_confirmation": False})
        return _reply(runtime, result, customer=customer, checkout=checkout)
    except Exception:
        log.exception("remove_address failed in conversation %s", conversation_of(runtime.context))
        return _internal()


class NewAddressArgs(BaseModel):
    """A label for the new address, if the customer gave one."""

    label: str | None = Field(None, description="'casa', 'trabalho'... only if the customer said it.")


@tool("start_new_address", args_schema=NewAddressArgs)
async def start_new_address(label: str | None = None, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Start collecting a new delivery address (the customer wants to add one or deliver elsewhere)."""
    try:
        st = _state(runtime)
        customer = st.customer
        name = customer.name if customer else None
        draft = RegistrationDraft(name=st.registration.name or name, email=st.registration.email)
        if label and label.strip():
            draft = draft.model_copy(update={"address": draft.address.model_copy(update={"label": label.strip()[:60]})})
        status = _status(draft, customer)
        checkout = st.checkout.model_copy(update={"awaiting_confirmation": False})
        return _reply(
            runtime,
            status,
            registration=status.draft,
            awaiting=f"registration.{status.next_step}",
            checkout=checkout,
        )
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
    runtime: ToolRuntime[Any, Any], ctx: TurnContext, st: _View, pin: SharedLocation
) -> Command[Any] | None:
    """A bare pin for the address this order goes to when it has no location yet (the checkout asked for one to
    measure a radius delivery area): the address keeps its words and gains the coordinates."""
    found = await _fresh(runtime)
    if isinstance(found, str):
        return None
    _, _, fresh = found
    wanted = st.checkout.address_id or fresh.default_address_id
    address = next((a for a in fresh.addresses if a.id == wanted), None)
    if address is None or address.id is None or address.latitude is not None:
        return None
    customer = await service.locate_address(ctx.pool, ctx.tenant, fresh, address.id, pin)
    changed = _chosen(customer, address.id)
    result = AddressesChanged(
        change="located", address_text=changed.text, label=changed.label, addresses=_options(customer)
    )
    checkout = st.checkout.model_copy(update={"address_id": address.id, "awaiting_confirmation": False})
    awaiting = "payment.checkout" if st.cart.lines else None
    return _reply(runtime, result, customer=customer, checkout=checkout, awaiting=awaiting)


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
    try:
        ctx = cast(TurnContext, runtime.context)
        st = _state(runtime)
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
        status = _status(draft, st.customer)
        updates: dict[str, Any] = {"registration": status.draft, "awaiting": f"registration.{status.next_step}"}
        if invalid:
            message = ToolMessage(_invalid(invalid, reasons), tool_call_id=runtime.tool_call_id)
            return Command(update={**updates, "messages": [message]})
        return _reply(runtime, status, **updates)
    except Exception:
        log.exception("use_shared_location failed in conversation %s", conversation_of(runtime.context))
        return _internal()


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
