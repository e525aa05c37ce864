"""Checkout tools: summary, payment method, placing the order, its status. The model never sets an amount."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

from decimal import Decimal
from typing import Any, cast

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, Field

from tools.cart.models import Cart
from tools.context import TurnContext
from tools.customers.models import CustomerInfo
from tools.handoff.service import open_handoff
from tools.money import format_brl
from tools.orders import aftercare, errors, service
from tools.orders import cpf as cpfs
from tools.orders import summary as summaries
from tools.orders.models import Checkout, OrderInfo, PaymentMethod
from tools.results import NoArgs, ToolError


class _View(BaseModel):
    """The parts of the conversation state these tools read (tools can't import the graph's state class)."""

    locale: str = "pt-BR"
    customer: CustomerInfo | None = None
    cart: Cart = Cart()
    checkout: Checkout = Checkout()
    order: OrderInfo | None = None


def _state(runtime: ToolRuntime) -> _View:
    st = runtime.state
    if isinstance(st, dict):
        return _View.model_validate(st)
    return _View.model_validate({k: getattr(st, k) for k in _View.model_fields if hasattr(st, k)})


def _reply(runtime: ToolRuntime, result: BaseModel | str, **updates: Any) -> Command[Any]:
    body = result if isinstance(result, str) else result.model_dump_json()
    return Command(update={**updates, "messages": [ToolMessage(body, tool_call_id=runtime.tool_call_id)]})


@tool("checkout_summary", args_schema=NoArgs)
async def checkout_summary(*, runtime: ToolRuntime) -> Command[Any] | str:
    """Show the order before paying: lines at today's prices, delivery fee, total, address, payment method."""
    ctx = cast(TurnContext, runtime.context)
    st = _state(runtime)
    async with ctx.pool.connection() as conn:
        try:
            summary, cart, checkout = await summaries.summarize(conn, ctx, st.customer, st.cart, st.checkout, st.locale)
        except errors.CheckoutError as exc:
            return exc.tool_error.model_dump_json()
    checkout = checkout.model_copy(update={"awaiting_confirmation": summary.ready})
    awaiting = "payment.confirm" if summary.ready else "payment.method"
    return _reply(runtime, summary, cart=cart, checkout=checkout, awaiting=awaiting)


class SetPaymentMethodArgs(BaseModel):
    """How the customer pays."""

    method: PaymentMethod = Field(description="pix, card (online link) or cash (on delivery).")
    change_for: Decimal | None = Field(
        None, description="Cash only: the note the customer pays with ('troco para 100' → 100). Omit if no change."
    )


@tool("set_payment_method", args_schema=SetPaymentMethodArgs)
async def set_payment_method(
    method: PaymentMethod, change_for: Decimal | None = None, *, runtime: ToolRuntime
) -> Command[Any] | str:
    """Set how the customer pays; returns the summary to confirm ("Confirma?")."""
    ctx = cast(TurnContext, runtime.context)
    st = _state(runtime)
    needs_cpf = method != "cash" and getattr(ctx.payments, "needs_cpf", False)
    if needs_cpf and not await cpfs.saved_cpf(ctx, st.customer):
        # the provider can't charge without it: ask once (save_cpf), then this choice goes on
        checkout = st.checkout.model_copy(update={"payment_method": method, "awaiting_confirmation": False})
        return _reply(runtime, CpfNeeded(payment_method=method), checkout=checkout, awaiting="payment.cpf")
    if st.cart.is_empty and st.order is not None and st.order.status == "awaiting_payment":
        # the order is placed but its payment failed or the customer wants to pay another way
        try:
            placed = await service.retry_payment(ctx, st.customer, st.order.id, method, change_for, st.locale)
        except errors.CheckoutError as exc:
            return exc.tool_error.model_dump_json()
        awaiting = "payment.retry" if placed.payment_failed else None
        return _reply(runtime, placed, order=service.order_info(placed), awaiting=awaiting)
    async with ctx.pool.connection() as conn:
        try:
            summary, cart, checkout = await summaries.summarize(
                conn,
                ctx,
                st.customer,
                st.cart,
                st.checkout.model_copy(update={"payment_method": method}),
                st.locale,
            )
            change = summaries.check_change(method, change_for, summary.total, st.locale)
        except errors.CheckoutError as exc:
            return exc.tool_error.model_dump_json()
    checkout = checkout.model_copy(update={"change_for": change, "awaiting_confirmation": True})
    summary = summary.model_copy(
        update={
            "change_for": change,
            "change_for_text": format_brl(change, st.locale) if change is not None else None,
        }
    )
    return _reply(runtime, summary, cart=cart, checkout=checkout, awaiting="payment.confirm")


@tool("place_order", args_schema=NoArgs)
async def place_order(*, runtime: ToolRuntime) -> Command[Any] | str:
    """Place the order after the customer confirmed the summary ("sim", "confirma")."""
    ctx = cast(TurnContext, runtime.context)
    st = _state(runtime)
    try:
        placed = await service.place_order(ctx, st.customer, st.cart, st.checkout, st.locale)
    except errors.CheckoutError as exc:
        return exc.tool_error.model_dump_json()
    cart = Cart(revision=st.cart.revision + 1, next_line_id=st.cart.next_line_id)
    return _reply(
        runtime,
        placed,
        cart=cart,
        checkout=Checkout(),
        order=service.order_info(placed),
        awaiting="payment.retry" if placed.payment_failed else None,
    )


@tool("order_status", args_schema=NoArgs)
async def order_status(*, runtime: ToolRuntime) -> str:
    """The status of the customer's current (or last) order, and its payment link if still unpaid."""
    ctx = cast(TurnContext, runtime.context)
    st = _state(runtime)
    result = await aftercare.status_of(ctx, st.customer, st.order.id if st.order else None, st.locale)
    return result.model_dump_json()


@tool("cancel_order", args_schema=NoArgs)
async def cancel_order(*, runtime: ToolRuntime) -> Command[Any] | str:
    """Cancel the customer's order when they ask ("cancela meu pedido"): possible until it is paid or in the
    kitchen; after that the conversation goes to a person from the restaurant."""
    ctx = cast(TurnContext, runtime.context)
    st = _state(runtime)
    result = await aftercare.cancel_for_customer(ctx, st.customer, st.order.id if st.order else None, st.locale)
    if isinstance(result, aftercare.OrderCancelled):
        order = st.order
        if order is not None and order.id == result.order_id:
            order = order.model_copy(update={"status": "cancelled"})
        return _reply(runtime, result, order=order, awaiting=None)
    if isinstance(result, aftercare.CancelRefused):
        reason = f"wants to cancel order #{result.order_id}, which is already {result.status}"
        await open_handoff(
            ctx.pool,
            tenant_id=ctx.tenant.id,
            thread_id=ctx.thread_id,
            phone=ctx.phone,
            customer_id=st.customer.id if st.customer else None,
            reason="cancel after payment or preparation",
            summary=f"The customer {reason}.",
        )
        # the graph pauses the bot after this agent: the restaurant decides (refund, stop the kitchen)
        return _reply(runtime, result, handoff=True, handoff_reason=reason, awaiting=None)
    return result.model_dump_json()


class CpfNeeded(BaseModel):
    """Online payment needs the customer's CPF: ask for it (numbers only), then call save_cpf."""

    kind: str = "cpf_needed"
    payment_method: PaymentMethod


class SaveCpfArgs(BaseModel):
    """The customer's CPF."""

    cpf: str = Field(description="The CPF as the customer wrote it (dots and dash are fine).")


class CpfSaved(BaseModel):
    """The CPF is valid and saved: go on with the payment method the customer chose."""

    kind: str = "cpf_saved"
    payment_method: PaymentMethod | None = None


@tool("save_cpf", args_schema=SaveCpfArgs)
async def save_cpf(cpf: str, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Save the customer's CPF (checked by its digits) when online payment asked for it."""
    ctx = cast(TurnContext, runtime.context)
    st = _state(runtime)
    try:
        saved = await cpfs.save_cpf(ctx, st.customer, cpf)
    except errors.CheckoutError as exc:
        return exc.tool_error.model_dump_json()
    if saved is None:
        return ToolError(
            error="invalid_field", message="That is not a valid CPF (check digits): ask again.", fields=["cpf"]
        ).model_dump_json()
    return _reply(runtime, CpfSaved(payment_method=st.checkout.payment_method), awaiting=None)


PAYMENT_TOOLS: list[BaseTool] = [
    checkout_summary,
    set_payment_method,
    place_order,
    order_status,
    cancel_order,
    save_cpf,
]
