"""Prices come from the database, always: a line's price is the item price plus its options' deltas."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn
from memory.repos import menu as menu_repo
from memory.repos.menu import MenuItem
from tools.cart.models import Cart, CartLine, ChosenOption
from tools.money import to_cents


def unit_price(item: MenuItem, options: Sequence[ChosenOption]) -> Decimal:
    """The item's price plus the deltas of the chosen options, as the menu says now."""
    deltas = {(g.group, c.name): c.price for g in item.options for c in g.choices}
    total = item.price + sum((deltas[(o.group, o.choice)] for o in options), Decimal("0"))
    return to_cents(max(total, Decimal("0")))


def options_exist(item: MenuItem, options: Sequence[ChosenOption]) -> bool:
    """Whether every chosen option is still on the item's menu."""
    known = {(g.group, c.name) for g in item.options for c in g.choices}
    return all((o.group, o.choice) in known for o in options)


def priced_options(item: MenuItem, options: Sequence[ChosenOption]) -> list[ChosenOption]:
    """The same choices with today's deltas."""
    deltas = {(g.group, c.name): c.price for g in item.options for c in g.choices}
    return [ChosenOption(group=o.group, choice=o.choice, price_delta=deltas[(o.group, o.choice)]) for o in options]


class RepricedCart(BaseModel):
    """The cart at today's prices, with what could not be kept."""

    model_config = ConfigDict(frozen=True)

    cart: Cart
    subtotal: Decimal
    unavailable: list[str] = []  # names of lines dropped: item unavailable, gone, or an option no longer offered
    price_changed: list[str] = []  # names of lines whose price changed since they were added


async def reprice(conn: Conn, tenant_id: int, cart: Cart) -> RepricedCart:
    """Re-read every line's item and options from the database; drop what is no longer orderable."""
    items = await menu_repo.by_skus(conn, tenant_id, [line.sku for line in cart.lines])
    lines: list[CartLine] = []
    unavailable: list[str] = []
    changed: list[str] = []
    for line in cart.lines:
        item = items.get(line.sku)
        if item is None or not item.available or not options_exist(item, line.options):
            unavailable.append(line.name)
            continue
        unit = unit_price(item, line.options)
        if unit != line.unit_price:
            changed.append(line.name)
        lines.append(
            line.model_copy(
                update={
                    "name": item.name,
                    "options": priced_options(item, line.options),
                    "unit_price": unit,
                    "line_total": to_cents(unit * line.qty),
                }
            )
        )
    new_cart = cart if not (unavailable or changed) else cart.model_copy(update={"lines": lines})
    subtotal = to_cents(sum((ln.line_total for ln in lines), Decimal("0")))
    return RepricedCart(cart=new_cart, subtotal=subtotal, unavailable=unavailable, price_changed=changed)
