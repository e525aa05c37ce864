"""Checkout and order placement: summaries priced from the database, one order per checkout, its POS event."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from stdnum.br import cpf as stdnum_cpf
from stdnum.exceptions import ValidationError

from memory.db import Conn
from memory.repos import customers as customer_repo
from memory.repos import delivery_areas as delivery_repo
from memory.repos import menu as menu_repo
from memory.repos import orders as order_repo
from memory.repos import outbox as outbox_repo
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from memory.repos.orders import OrderLineFields, OrderOption, OrderRow
from tools.cart.models import Cart, ChosenOption
from tools.cart.pricing import options_exist, priced_options, reprice, unit_price
from tools.context import TurnContext
from tools.customers.models import AddressInfo, CustomerInfo
from tools.delivery import areas
from tools.menu.hours import is_open, next_opening
from tools.money import format_brl, to_cents
from tools.orders import lifecycle, notify
from tools.orders.models import Checkout, OrderInfo, PaymentMethod
from tools.payments.provider import PaymentRequest
from tools.results import ErrorCode, ToolError

log = logging.getLogger(__name__)

# short words inside formatted lines (not sentences): "sem cebola", "Subtotal: R$ 30,00"
_LABELS = {
    "pt-BR": {
        "without": "sem",
        "subtotal": "Subtotal",
        "delivery": "Entrega",
        "total": "Total",
        "change": "Troco para",
    },
    "en": {"without": "no", "subtotal": "Subtotal", "delivery": "Delivery", "total": "Total", "change": "Change for"},
}
ORDER_PLACED_EVENT = "order.placed"


class CheckoutError(Exception):
    """A checkout step that cannot go on; carries the ToolError for the model."""

    def __init__(
        self,
        error: ErrorCode,
        message: str,
        *,
        fields: Sequence[str] = (),
        items: Sequence[str] = (),
        item: str | None = None,
    ) -> None:
        super().__init__(message)
        self.tool_error = ToolError(
            error=error, message=message, fields=list(fields), suggestions=list(items), item=item
        )


class SummaryLine(BaseModel):
    """One line of the order as the customer reads it."""

    model_config = ConfigDict(frozen=True)

    name: str
    qty: int
    options_text: str  # "Grande, Borda de catupiry"
    removed_text: str  # "sem cebola, sem tomate"
    line_total: Decimal
    line_total_text: str
    text: str  # "2x Pizza Margherita (Grande; sem cebola) R$ 90,00"


class CheckoutSummary(BaseModel):
    """The order about to be placed, priced from the database now."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["checkout"] = "checkout"
    lines: list[SummaryLine]
    subtotal: Decimal
    subtotal_text: str
    delivery_fee: Decimal
    delivery_fee_text: str
    total: Decimal
    total_text: str
    address_id: int
    address_text: str
    payment_method: PaymentMethod | None
    change_for: Decimal | None
    change_for_text: str | None
    ready: bool
    missing: list[Literal["address", "payment_method"]]
    unavailable: list[str] = []  # lines dropped since they were added (tell the customer)
    price_changed: list[str] = []  # lines whose price changed since they were added (tell the customer)
    text: str


class OrderPlaced(BaseModel):
    """The order was placed (a replayed turn gets the same order back) and how it is paid."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["order_placed"] = "order_placed"
    order_id: int
    status: str
    total: Decimal
    total_text: str
    payment_method: PaymentMethod
    change_for: Decimal | None = None
    change_text: str | None = None  # the change the courier brings, e.g. "R$ 12,60"
    pix_code: str | None = None
    pay_url: str | None = None
    payment_failed: bool = False
    message: str | None = None  # for the model when the payment could not be started
    text: str


class OrderStatus(BaseModel):
    """Where an order stands and how to pay it if it is still unpaid."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["order_status"] = "order_status"
    order_id: int
    status: str
    payment_method: PaymentMethod
    payment_status: str | None
    total: Decimal
    total_text: str
    pix_code: str | None = None
    pay_url: str | None = None
    created_at: datetime
    summary: str  # "1x Cheese Bacon, 1x Coca-Cola Lata"
    status_text: str = ""  # the state in the customer's words: "saiu para entrega"
    since_text: str = ""  # when it last changed, as people say it: "há 12 min"


class NoOrder(BaseModel):
    """The customer has no order yet."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["no_order"] = "no_order"


class OrderCancelled(BaseModel):
    """The customer's order is cancelled (`already` when it was before they asked)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["order_cancelled"] = "order_cancelled"
    order_id: int
    already: bool = False


class CancelRefused(BaseModel):
    """Too late for the customer to cancel by themselves: a person from the restaurant takes it from here."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["cancel_refused"] = "cancel_refused"
    order_id: int
    status: str
    status_text: str


def labels(locale: str) -> dict[str, str]:
    """The short formatting words for a locale."""
    return _LABELS.get(locale, _LABELS["pt-BR"])


def line_text(
    name: str,
    qty: int,
    options: Sequence[ChosenOption | OrderOption],
    removed: Sequence[str],
    total: Decimal,
    locale: str,
) -> SummaryLine:
    """A line as the customer reads it."""
    options_text = ", ".join(o.choice for o in options)
    removed_text = ", ".join(f"{labels(locale)['without']} {r}" for r in removed)
    detail = "; ".join(t for t in (options_text, removed_text) if t)
    total_text = format_brl(total, locale)
    text = f"{qty}x {name}" + (f" ({detail})" if detail else "") + f" {total_text}"
    return SummaryLine(
        name=name,
        qty=qty,
        options_text=options_text,
        removed_text=removed_text,
        line_total=total,
        line_total_text=total_text,
        text=text,
    )


def totals_text(subtotal: Decimal, fee: Decimal, total: Decimal, locale: str) -> str:
    """ "Subtotal: R$ 30,00 / Entrega: R$ 7,50 / Total: R$ 37,50", one per line."""
    w = labels(locale)
    return "\n".join(
        (
            f"{w['subtotal']}: {format_brl(subtotal, locale)}",
            f"{w['delivery']}: {format_brl(fee, locale)}",
            f"{w['total']}: {format_brl(total, locale)}",
        )
    )


def _pick_address(customer: CustomerInfo, checkout: Checkout) -> AddressInfo:
    by_id = {a.id: a for a in customer.addresses}
    if checkout.address_id is not None and checkout.address_id in by_id:
        return by_id[checkout.address_id]
    if len(customer.addresses) > 1:
        # seed 003 §3.4: with several saved addresses the customer says which one, every order
        raise CheckoutError(
            "choose_address", "The customer has several addresses: list them (list_addresses) and ask which one."
        )
    if customer.addresses:
        return customer.addresses[0]
    raise CheckoutError("no_address", "The customer has no delivery address: ask for one (start_new_address).")


async def delivery_fee_for(conn: Conn, tenant: tenant_repo.Tenant, address: AddressInfo, locale: str) -> Decimal:
    """The fee of the address's delivery area (the flat fee without areas); refuses an address the restaurant
    doesn't deliver to, before any order exists."""
    quote = await areas.quote(conn, tenant, address.id)
    if quote.fee is not None and quote.delivers:
        return quote.fee
    setup = await delivery_repo.setup(conn, tenant.id)
    names = [b.text for b in areas.briefs(setup, locale)]  # "Pinheiros: R$ 5,00", said back to the customer
    if quote.status == "unlocated":
        raise CheckoutError(
            "address_unlocated",
            "The restaurant delivers by distance and this address has no location: ask the customer to share "
            "their location on WhatsApp, or to give another address. Nothing was ordered.",
            items=names,
            item=address.neighborhood,
        )
    raise CheckoutError(
        "outside_delivery_area",
        f"The restaurant doesn't deliver to {address.neighborhood}: tell the customer politely, name the areas it "
        "delivers to, and ask for another address. Nothing was ordered.",
        items=names,
        item=address.neighborhood,
    )


def _require_customer(customer: CustomerInfo | None) -> CustomerInfo:
    if customer is None or not customer.registered or customer.id is None:
        raise CheckoutError("not_registered", "Register the customer first: name and delivery address.")
    return customer


async def summarize(
    conn: Conn, ctx: TurnContext, customer: CustomerInfo | None, cart: Cart, checkout: Checkout, locale: str
) -> tuple[CheckoutSummary, Cart, Checkout]:
    """The checkout summary at today's prices; returns it with the repriced cart and the updated checkout."""
    known = _require_customer(customer)
    if cart.is_empty:
        raise CheckoutError("empty_cart", "The cart is empty: ask what the customer would like.")
    repriced = await reprice(conn, ctx.tenant.id, cart)
    if repriced.cart.is_empty:
        raise CheckoutError(
            "empty_cart",
            "Nothing in the cart can be ordered any more (unavailable now): " + ", ".join(repriced.unavailable),
            items=repriced.unavailable,
        )
    tenant = await tenant_repo.by_id(conn, ctx.tenant.id) or ctx.tenant
    address = _pick_address(known, checkout)
    fee = await delivery_fee_for(conn, tenant, address, locale)
    total = to_cents(repriced.subtotal + fee)
    change_for = checkout.change_for if checkout.payment_method == "cash" else None
    lines = [line_text(ln.name, ln.qty, ln.options, ln.removed, ln.line_total, locale) for ln in repriced.cart.lines]
    missing: list[Literal["address", "payment_method"]] = [] if checkout.payment_method else ["payment_method"]
    new_checkout = checkout.model_copy(update={"address_id": address.id, "change_for": change_for})
    text = "\n".join([*(ln.text for ln in lines), totals_text(repriced.subtotal, fee, total, locale)])
    summary = CheckoutSummary(
        lines=lines,
        subtotal=repriced.subtotal,
        subtotal_text=format_brl(repriced.subtotal, locale),
        delivery_fee=fee,
        delivery_fee_text=format_brl(fee, locale),
        total=total,
        total_text=format_brl(total, locale),
        address_id=address.id or 0,
        address_text=address.one_line(),
        payment_method=checkout.payment_method,
        change_for=change_for,
        change_for_text=format_brl(change_for, locale) if change_for is not None else None,
        ready=not missing,
        missing=missing,
        unavailable=repriced.unavailable,
        price_changed=repriced.price_changed,
        text=text,
    )
    return summary, repriced.cart, new_checkout


def check_change(method: PaymentMethod, change_for: Decimal | None, total: Decimal, locale: str) -> Decimal | None:
    """The change to keep: only for cash, and never below the total."""
    if method != "cash" or change_for is None:
        return None
    change_for = to_cents(change_for)
    if change_for < total:
        raise CheckoutError(
            "invalid_field",
            f"Change for {format_brl(change_for, locale)} is less than the total {format_brl(total, locale)}: "
            "ask how much the customer will pay with (at least the total).",
            fields=["change_for"],
            items=[format_brl(total, locale)],  # the figure the refusal says back: the least they can pay with
        )
    return change_for


class _Priced(BaseModel):
    lines: list[OrderLineFields]
    subtotal: Decimal


async def _price_now(conn: Conn, tenant_id: int, cart: Cart) -> _Priced:
    """Every line at the database's prices right now; a line that can't be ordered stops the placement."""
    items = await menu_repo.by_skus(conn, tenant_id, [ln.sku for ln in cart.lines])
    lines: list[OrderLineFields] = []
    gone: list[str] = []
    for ln in cart.lines:
        item = items.get(ln.sku)
        if item is None or not item.available or not options_exist(item, ln.options):
            gone.append(ln.name)
            continue
        unit = unit_price(item, ln.options)
        lines.append(
            OrderLineFields(
                menu_item_id=item.id,
                sku=item.sku,
                name=item.name,
                qty=ln.qty,
                unit_price=unit,
                line_total=to_cents(unit * ln.qty),
                options=[OrderOption.model_validate(o.model_dump()) for o in priced_options(item, ln.options)],
                removed=list(ln.removed),
            )
        )
    if gone:
        raise CheckoutError(
            "unavailable_item",
            "These items just became unavailable; show the summary again (checkout_summary): " + ", ".join(gone),
            items=gone,
        )
    return _Priced(lines=lines, subtotal=to_cents(sum((ln.line_total for ln in lines), Decimal("0"))))


def pos_payload(
    order: OrderRow, tenant: tenant_repo.Tenant, customer: CustomerInfo, lines: Sequence[OrderLineFields]
) -> dict[str, Any]:
    """The whole order as the POS receives it (money as strings, never floats)."""
    return {
        "order_id": order.id,
        "tenant": tenant.slug,
        "status": order.status,
        "created_at": order.created_at.isoformat(),
        "customer": {"id": customer.id, "name": customer.name, "phone": customer.phone},
        "address": order.address,
        "lines": [
            {
                "sku": ln.sku,
                "name": ln.name,
                "qty": ln.qty,
                "unit_price": str(ln.unit_price),
                "line_total": str(ln.line_total),
                "options": [
                    {"group": o.group, "choice": o.choice, "price_delta": str(o.price_delta)} for o in ln.options
                ],
                "removed": list(ln.removed),
            }
            for ln in lines
        ],
        "subtotal": str(order.subtotal),
        "delivery_fee": str(order.delivery_fee),
        "total": str(order.total),
        "payment_method": order.payment_method,
        "change_for": str(order.change_for) if order.change_for is not None else None,
    }


def placed_event_id(tenant_id: int, order_id: int) -> Any:
    """The outbox id of "order placed": the same on every replay."""
    return outbox_repo.event_id(tenant_id, ORDER_PLACED_EVENT, order_id)


async def place_order(
    ctx: TurnContext, customer: CustomerInfo | None, cart: Cart, checkout: Checkout, locale: str
) -> OrderPlaced:
    """Place the order once per checkout (thread + cart revision), write its POS event, start its payment."""
    known = _require_customer(customer)
    if cart.is_empty:
        raise CheckoutError("empty_cart", "The cart is empty: nothing to order.")
    method = checkout.payment_method
    if method is None:
        raise CheckoutError(
            "missing_field", "Ask how the customer will pay (pix, card or cash).", fields=["payment_method"]
        )
    if not checkout.awaiting_confirmation:
        raise CheckoutError("not_confirmed", "Show the summary (set_payment_method) and get the customer's yes first.")
    tenant = ctx.tenant
    if tenant.hours and not is_open(tenant.hours, tenant.timezone, ctx.clock()):
        opens = next_opening(tenant.hours, tenant.timezone, ctx.clock())
        raise CheckoutError(
            "closed",
            "The restaurant is closed now; orders can't be placed until it opens.",
            items=[opens.isoformat(timespec="minutes")] if opens else [],  # the next opening, said to the customer
        )
    address = _pick_address(known, checkout)
    assert known.id is not None
    key = f"{ctx.thread_id}:{cart.revision}"
    async with ctx.pool.connection() as conn:
        async with conn.transaction():
            order = await order_repo.by_idempotency_key(conn, tenant.id, key)
            if order is None:
                tenant = await tenant_repo.by_id(conn, tenant.id) or tenant
                priced = await _price_now(conn, tenant.id, cart)
                fee = await delivery_fee_for(conn, tenant, address, locale)
                total = to_cents(priced.subtotal + fee)
                change_for = check_change(method, checkout.change_for, total, locale)
                new = order_repo.NewOrder(
                    tenant_id=tenant.id,
                    customer_id=known.id,
                    idempotency_key=key,
                    status="placed" if method == "cash" else "awaiting_payment",
                    payment_method=method,
                    change_for=change_for,
                    subtotal=priced.subtotal,
                    delivery_fee=fee,
                    total=total,
                    address_id=address.id,
                    address=address.model_dump(mode="json", exclude={"id", "label"}),
                    locale=locale,
                )
                order, created = await order_repo.insert_order(conn, new)
                if created:
                    await order_repo.insert_items(conn, tenant.id, order.id, priced.lines)
                    await outbox_repo.enqueue(
                        conn,
                        tenant_id=tenant.id,
                        event_id=placed_event_id(tenant.id, order.id),
                        event_type=ORDER_PLACED_EVENT,
                        aggregate_id=order.id,
                        payload=pos_payload(order, tenant, known, priced.lines),
                    )
        items = await order_repo.items(conn, tenant.id, order.id)
    return await _with_payment(ctx, known, order, items, locale)


async def _with_payment(
    ctx: TurnContext, customer: CustomerInfo, order: OrderRow, items: Sequence[OrderLineFields], locale: str
) -> OrderPlaced:
    """Start (or find the already started) payment of an unpaid pix/card order; describe the order."""
    pix_code = pay_url = message = None
    failed = False
    if order.status == "awaiting_payment" and order.payment_method in ("pix", "card"):
        async with ctx.pool.connection() as conn:
            started = [p for p in await payment_repo.for_order(conn, ctx.tenant.id, order.id) if p.status == "pending"]
        if started:
            pix_code, pay_url = started[-1].pix_code, started[-1].pay_url
        elif ctx.payments is None:
            failed, message = True, "Online payment is not available now: offer cash on delivery or try again later."
        else:
            try:
                method: Literal["pix", "card"] = "pix" if order.payment_method == "pix" else "card"
                city = ""
                if order.address.get("city"):
                    city = str(order.address["city"])
                start = await ctx.payments.start(
                    PaymentRequest(
                        tenant_id=ctx.tenant.id,
                        order_id=order.id,
                        amount=order.total,
                        method=method,
                        customer_name=customer.name or "",
                        customer_phone=customer.phone,
                        description=f"{ctx.tenant.name} #{order.id}",
                        merchant_name=ctx.tenant.name,
                        merchant_city=city,
                        customer_id=customer.id,
                        customer_cpf=await saved_cpf(ctx, customer),
                    )
                )
                async with ctx.pool.connection() as conn:
                    payment = await payment_repo.insert_payment(
                        conn,
                        tenant_id=ctx.tenant.id,
                        order_id=order.id,
                        provider=start.provider,
                        provider_ref=start.provider_ref,
                        method=order.payment_method,
                        amount=order.total,
                        pix_code=start.pix_code,
                        pay_url=start.pay_url,
                    )
                pix_code, pay_url = payment.pix_code, payment.pay_url
            except Exception as exc:
                log.exception("starting the payment of order %s failed", order.id)
                failed = True
                message = (
                    f"The {order.payment_method} payment could not be started ({type(exc).__name__}); "
                    "the order is kept: offer another payment method (set_payment_method) or to try again."
                )
    return describe(order, items, locale, pix_code=pix_code, pay_url=pay_url, failed=failed, message=message)


def describe(
    order: OrderRow,
    items: Sequence[OrderLineFields],
    locale: str,
    *,
    pix_code: str | None = None,
    pay_url: str | None = None,
    failed: bool = False,
    message: str | None = None,
) -> OrderPlaced:
    """The OrderPlaced result for a stored order."""
    change = order.change_for - order.total if order.change_for is not None else None
    lines = [line_text(i.name, i.qty, i.options, i.removed, i.line_total, locale).text for i in items]
    method: PaymentMethod = order.payment_method  # type: ignore[assignment]
    return OrderPlaced(
        order_id=order.id,
        status=order.status,
        total=order.total,
        total_text=format_brl(order.total, locale),
        payment_method=method,
        change_for=order.change_for,
        change_text=format_brl(change, locale) if change is not None else None,
        pix_code=pix_code,
        pay_url=pay_url,
        payment_failed=failed,
        message=message,
        text="\n".join([*lines, totals_text(order.subtotal, order.delivery_fee, order.total, locale)]),
    )


def order_info(placed: OrderPlaced) -> OrderInfo:
    """What the conversation state keeps about the order."""
    return OrderInfo(
        id=placed.order_id,
        status=placed.status,
        total=placed.total,
        payment_method=placed.payment_method,
        change_for=placed.change_for,
        pix_code=placed.pix_code,
        pay_url=placed.pay_url,
    )


async def retry_payment(
    ctx: TurnContext,
    customer: CustomerInfo | None,
    order_id: int,
    method: PaymentMethod,
    change_for: Decimal | None,
    locale: str,
) -> OrderPlaced:
    """Pay an unpaid order another way (after a failed charge): cash places it, pix/card start a new payment."""
    known = _require_customer(customer)
    async with ctx.pool.connection() as conn:
        order = await order_repo.by_id(conn, ctx.tenant.id, order_id)
        if order is None or order.customer_id != known.id:
            raise CheckoutError("not_confirmed", "That order is not this customer's.")
        if order.status == "awaiting_payment":
            change = check_change(method, change_for, order.total, locale)
            async with conn.transaction():
                updated = await order_repo.set_payment_method(
                    conn, ctx.tenant.id, order.id, method=method, change_for=change, status="awaiting_payment"
                )
                if updated is not None and method == "cash":
                    # the reply the customer is reading says so: no separate notification
                    moved = await lifecycle.transition_in(
                        conn, ctx.tenant.id, order.id, "placed", actor="customer", reason="pays cash", notify=False
                    )
                    updated = moved.order
                if updated is not None and updated.payment_method != order.payment_method:
                    await outbox_repo.enqueue(
                        conn,
                        tenant_id=ctx.tenant.id,
                        event_id=outbox_repo.event_id(ctx.tenant.id, "order.payment_changed", order.id, method),
                        event_type="order.payment_changed",
                        aggregate_id=order.id,
                        payload={
                            "order_id": order.id,
                            "payment_method": method,
                            "change_for": str(change) if change is not None else None,
                            "status": updated.status,
                        },
                    )
                order = updated or order
        items = await order_repo.items(conn, ctx.tenant.id, order.id)
    return await _with_payment(ctx, known, order, items, locale)


async def status_of(
    ctx: TurnContext, customer: CustomerInfo | None, order_id: int | None, locale: str
) -> OrderStatus | NoOrder:
    """The given order (or the customer's last one) with its payment."""
    async with ctx.pool.connection() as conn:
        order = await order_repo.by_id(conn, ctx.tenant.id, order_id) if order_id is not None else None
        if order is None and customer is not None and customer.id is not None:
            order = await order_repo.last_for_customer(conn, ctx.tenant.id, customer.id)
        if order is None or (customer is not None and customer.id is not None and order.customer_id != customer.id):
            return NoOrder()
        items = await order_repo.items(conn, ctx.tenant.id, order.id)
        payments = await payment_repo.for_order(conn, ctx.tenant.id, order.id)
    payment = payments[-1] if payments else None
    method: PaymentMethod = order.payment_method  # type: ignore[assignment]
    # the wall clock, like the database that stamped the change (the turn's clock may be a shop-hours fixture)
    since = notify.since(order.status_changed_at, datetime.now(UTC))
    return OrderStatus(
        status_text=notify.state_text(order.status, locale),
        since_text=notify.ago_text(since, locale),
        order_id=order.id,
        status=order.status,
        payment_method=method,
        payment_status=payment.status if payment else None,
        total=order.total,
        total_text=format_brl(order.total, locale),
        pix_code=payment.pix_code if payment and order.status == "awaiting_payment" else None,
        pay_url=payment.pay_url if payment and order.status == "awaiting_payment" else None,
        created_at=order.created_at,
        summary=", ".join(f"{i.qty}x {i.name}" for i in items),
    )


async def cancel_for_customer(
    ctx: TurnContext, customer: CustomerInfo | None, order_id: int | None, locale: str
) -> OrderCancelled | CancelRefused | NoOrder:
    """Cancel the customer's current (or last) order while nothing was cooked or paid; after that, refuse."""
    async with ctx.pool.connection() as conn:
        order = await order_repo.by_id(conn, ctx.tenant.id, order_id) if order_id is not None else None
        if order is None and customer is not None and customer.id is not None:
            order = await order_repo.last_for_customer(conn, ctx.tenant.id, customer.id)
    if order is None or customer is None or order.customer_id != customer.id:
        return NoOrder()
    if order.status == "cancelled":
        return OrderCancelled(order_id=order.id, already=True)
    if order.status not in lifecycle.CUSTOMER_CANCELLABLE:
        return CancelRefused(
            order_id=order.id, status=order.status, status_text=notify.state_text(order.status, locale)
        )
    try:
        # the reply the customer is reading says it: no separate notification
        await lifecycle.cancel(
            ctx.pool, ctx.tenant.id, order.id, actor="customer", reason="cancelled by the customer", notify=False
        )
    except lifecycle.IllegalTransition as exc:
        # it moved on while we looked (a payment just arrived): too late after all
        return CancelRefused(
            order_id=order.id, status=exc.from_state, status_text=notify.state_text(exc.from_state, locale)
        )
    await _void_charges(ctx, order.id)
    return OrderCancelled(order_id=order.id)


async def _void_charges(ctx: TurnContext, order_id: int) -> None:
    """Pending charges of a cancelled order are withdrawn at the provider, so nobody pays a cancelled order."""
    cancel = getattr(ctx.payments, "cancel", None)
    if cancel is None:
        return
    async with ctx.pool.connection() as conn:
        pending = [p for p in await payment_repo.for_order(conn, ctx.tenant.id, order_id) if p.status == "pending"]
    for payment in pending:
        try:
            await cancel(payment)
        except Exception:
            # the order stays cancelled; a payment that still arrives is flagged for staff to refund
            log.exception("could not withdraw charge %s of cancelled order %s", payment.provider_ref, order_id)


async def saved_cpf(ctx: TurnContext, customer: CustomerInfo | None) -> str | None:
    """The customer's CPF as saved (asked once, then never again)."""
    if customer is None or customer.id is None:
        return None
    async with ctx.pool.connection() as conn:
        row = await customer_repo.by_id(conn, ctx.tenant.id, customer.id)
    return row.cpf if row else None


def valid_cpf(text: str) -> str | None:
    """The CPF's 11 digits when its check digits are right (python-stdnum), else None."""
    try:
        return str(stdnum_cpf.validate(text))
    except ValidationError:
        return None


async def save_cpf(ctx: TurnContext, customer: CustomerInfo | None, text: str) -> str | None:
    """Validate and save the customer's CPF; the digits, or None if it isn't a valid CPF."""
    known = _require_customer(customer)
    cpf = valid_cpf(text)
    if cpf is None or known.id is None:
        return None
    async with ctx.pool.connection() as conn:
        await customer_repo.update_fields(conn, ctx.tenant.id, known.id, name=None, email=None, cpf=cpf)
    return cpf
