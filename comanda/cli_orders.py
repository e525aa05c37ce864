"""`comanda orders list|show|advance|cancel`: what was ordered, priced as placed, and staff moving it on."""

from __future__ import annotations

import json
from typing import Annotated, Any, cast
from zoneinfo import ZoneInfo

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table

from comanda.cli_common import _run_with_db, _settings, err, out
from comanda.wiring import close_channel, outbound_channel
from memory.db import Pool
from memory.repos import orders as order_repo
from memory.repos import payments as payment_repo
from memory.repos import tenants as tenant_repo
from memory.repos.orders import OrderItemRow, OrderListRow, OrderRow, TransitionRow
from memory.repos.payments import Payment
from memory.repos.tenants import Tenant
from tools.customers.models import AddressInfo
from tools.money import format_brl
from tools.orders import lifecycle
from tools.orders.lifecycle import LifecycleError, OrderState, Transition
from tools.orders.summary import line_text

orders_app = typer.Typer(help="Orders: list, show, and move them through their life.", no_args_is_help=True)
TIME_FORMAT = "%d/%m/%Y %H:%M"


class _OrderDetail(BaseModel):
    order: OrderRow
    customer_name: str | None
    customer_phone: str
    items: list[OrderItemRow]
    payments: list[Payment]
    moves: list[TransitionRow] = []


def _no_tenant(slug: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] no tenant {slug!r} (see `comanda tenants list`)")
    return typer.Exit(1)


def _local(tenant: Tenant, order: OrderRow) -> str:
    return order.created_at.astimezone(ZoneInfo(tenant.timezone)).strftime(TIME_FORMAT)


def _address_text(address: dict[str, Any]) -> str:
    try:
        return AddressInfo.model_validate(address).one_line()
    except ValueError:
        return json.dumps(address, ensure_ascii=False)


@orders_app.command("list")
def orders_list(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many of the latest orders.")] = 20,
) -> None:
    """The latest orders, newest first."""

    async def fetch(pool: Pool) -> tuple[Tenant | None, list[OrderListRow]]:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
            return t, (await order_repo.list_recent(conn, t.id, limit=limit) if t else [])

    t, rows = _run_with_db(fetch)
    if t is None:
        raise _no_tenant(tenant)
    if as_json:
        out.print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table("#", "created", "customer", "items", "total", "payment", "status", title=f"{t.name} — orders")
    for r in rows:
        table.add_row(
            str(r.id),
            _local(t, r),
            f"{r.customer_name or ''} {r.customer_phone}".strip(),
            str(r.items_count),
            format_brl(r.total, t.locale),
            r.payment_method,
            r.status,
        )
    out.print(table)


@orders_app.command("show")
def orders_show(
    order_id: Annotated[int, typer.Argument(help="Order number.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One order: lines with options and removals, totals, address, payment and status."""

    async def fetch(pool: Pool) -> tuple[Tenant | None, _OrderDetail | None]:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
            if t is None:
                return None, None
            order = await order_repo.by_id(conn, t.id, order_id)
            if order is None:
                return t, None
            cur = await conn.execute(
                "SELECT name, phone FROM customers WHERE tenant_id = %s AND id = %s", (t.id, order.customer_id)
            )
            who = await cur.fetchone()
            return t, _OrderDetail(
                order=order,
                customer_name=who["name"] if who else None,
                customer_phone=who["phone"] if who else "",
                items=await order_repo.items(conn, t.id, order.id),
                payments=await payment_repo.for_order(conn, t.id, order.id),
                moves=await order_repo.transitions(conn, t.id, order.id),
            )

    t, detail = _run_with_db(fetch)
    if t is None:
        raise _no_tenant(tenant)
    if detail is None:
        err.print(
            f"[bold red]error:[/] no order {order_id} in {tenant!r} (see `comanda orders list --tenant {tenant}`)"
        )
        raise typer.Exit(1)
    order, loc = detail.order, t.locale
    payment = detail.payments[-1] if detail.payments else None
    if as_json:
        doc = {
            **order.model_dump(mode="json"),
            "customer": {"name": detail.customer_name, "phone": detail.customer_phone},
            "lines": [i.model_dump(mode="json") for i in detail.items],
            "payment": payment.model_dump(mode="json") if payment else None,
            "moves": [m.model_dump(mode="json") for m in detail.moves],
        }
        out.print_json(json.dumps(doc))
        return
    out.print(f"[bold]Order #{order.id}[/] — {t.name} — {_local(t, order)} ({t.timezone})", highlight=False)
    out.print(f"  Customer: {detail.customer_name or '-'} {detail.customer_phone}", highlight=False)
    out.print(f"  Address: {_address_text(order.address)}", markup=False, highlight=False)
    table = Table("qty", "item", "options / removals", "unit", "total")
    for i in detail.items:
        text = line_text(i.name, i.qty, i.options, i.removed, i.line_total, loc)
        details = "; ".join(x for x in (text.options_text, text.removed_text) if x)
        table.add_row(str(i.qty), i.name, details, format_brl(i.unit_price, loc), text.line_total_text)
    out.print(table)
    out.print(f"  Subtotal: {format_brl(order.subtotal, loc)}", highlight=False)
    out.print(f"  Delivery fee: {format_brl(order.delivery_fee, loc)}", highlight=False)
    out.print(f"  [bold]Total: {format_brl(order.total, loc)}[/]", highlight=False)
    pay = f"  Payment: {order.payment_method}"
    if order.change_for is not None:
        change = order.change_for - order.total
        pay += f" (change for {format_brl(order.change_for, loc)}: bring {format_brl(change, loc)})"
    out.print(pay, highlight=False)
    out.print(f"  Status: {order.status}", highlight=False)
    if order.flagged_reason:
        out.print(f"  [bold red]Flagged for staff:[/] {escape(order.flagged_reason)}", highlight=False)
    for move in detail.moves:
        when = move.created_at.astimezone(ZoneInfo(t.timezone)).strftime(TIME_FORMAT)
        why = f" ({move.reason})" if move.reason else ""
        out.print(f"  {when} {move.from_status} → {move.to_status} by {move.actor}{why}", markup=False, highlight=False)
    if payment is not None:
        out.print(f"  Payment status: {payment.status} ({payment.provider} {payment.provider_ref})", highlight=False)
        if payment.pay_url and payment.status == "pending":
            out.print(f"  Pay link: {payment.pay_url}", markup=False, highlight=False)
    elif order.payment_method != "cash":
        out.print("  Payment status: not started", highlight=False)


def _move(tenant: str, order_id: int, how: str, to: OrderState | None, reason: str | None) -> None:
    settings = _settings()

    async def work(pool: Pool) -> tuple[Tenant | None, Transition | str]:
        async with pool.connection() as conn:
            t = await tenant_repo.by_slug(conn, tenant)
        if t is None:
            return None, ""
        # the customer hears about it through the configured channel (Twilio in production)
        channel = outbound_channel(settings, pool)
        try:
            if how == "cancel":
                assert reason is not None
                done = await lifecycle.cancel(pool, t.id, order_id, actor="staff:cli", reason=reason, notifier=channel)
            else:
                done = await lifecycle.advance(
                    pool, t.id, order_id, actor="staff:cli", to=to, reason=reason, notifier=channel
                )
        except LifecycleError as exc:
            return t, str(exc)
        finally:
            await close_channel(channel)
        return t, done

    t, done = _run_with_db(work)
    if t is None:
        raise _no_tenant(tenant)
    if isinstance(done, str):
        err.print(f"[bold red]error:[/] {done}", markup=True, highlight=False)
        raise typer.Exit(1)
    if not done.changed:
        out.print(f"Order #{order_id} is already {done.to_state}: nothing changed.", highlight=False)
        return
    out.print(f"Order #{order_id}: {done.from_state} → {done.to_state}; the customer is told.", highlight=False)


@orders_app.command("advance")
def orders_advance(
    order_id: Annotated[int, typer.Argument(help="Order number.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    to: Annotated[
        str | None,
        typer.Option("--to", help=f"The state to move to (default: the next one): {', '.join(lifecycle.STATES)}."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (kept with the move).")] = None,
) -> None:
    """Move an order to its next state (placed → preparing → out_for_delivery → delivered), telling the customer."""
    if to is not None and to not in lifecycle.STATES:
        err.print(f"[bold red]error:[/] {to!r} is not an order state ({', '.join(lifecycle.STATES)})")
        raise typer.Exit(2)
    _move(tenant, order_id, "advance", cast(OrderState | None, to), reason)


@orders_app.command("cancel")
def orders_cancel(
    order_id: Annotated[int, typer.Argument(help="Order number.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant slug.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is cancelled (kept with the move, sent to the POS).")],
) -> None:
    """Cancel an order and tell the customer."""
    _move(tenant, order_id, "cancel", None, reason)
