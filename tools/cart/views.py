"""What cart tools hand back: the cart with every amount preformatted and a ready-to-send text block."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.repos.menu import MenuItem
from prompts import catalog
from tools.cart.models import Cart, CartLine, ChosenOption
from tools.cart.pricing import unit_price
from tools.money import format_brl, to_cents

CartAction = Literal["added", "removed", "updated", "shown", "cleared", "repeated"]

# The cart block's labels; the prompt set's `cart.labels.*` replies take precedence when it has them.
_LABELS: dict[str, dict[str, str]] = {
    "pt-BR": {"subtotal": "Subtotal", "delivery_fee": "Taxa de entrega", "total": "Total", "without": "sem"},
    "en": {"subtotal": "Subtotal", "delivery_fee": "Delivery fee", "total": "Total", "without": "no"},
}


def label(key: str, locale: str) -> str:
    """A label of the cart block in the locale."""
    prompt_key = f"cart.labels.{key}"
    if catalog.has(prompt_key):
        return catalog.text(prompt_key, locale)
    return _LABELS.get(locale, _LABELS["pt-BR"])[key]


class CartLineView(BaseModel):
    """One cart line as shown to the customer (line_no is 1-based, what they say to refer to it)."""

    model_config = ConfigDict(frozen=True)

    line_no: int
    line_id: int
    sku: str
    name: str
    qty: int
    options_text: str  # "Grande, Borda Catupiry"
    removed_text: str  # "sem cebola, sem tomate"
    unit_price: Decimal
    unit_price_text: str
    line_total: Decimal
    line_total_text: str
    text: str  # "1x Pizza Margherita (Grande, Borda Catupiry, sem manjericão) — R$ 79,00"


class CartView(BaseModel):
    """The whole cart with totals; `text` is the block to paste into a reply."""

    model_config = ConfigDict(frozen=True)

    lines: list[CartLineView]
    subtotal: Decimal
    delivery_fee: Decimal
    total: Decimal
    subtotal_text: str
    delivery_fee_text: str
    total_text: str
    empty: bool
    revision: int
    text: str


class HeldItem(BaseModel):
    """One line of a repeated order held back by an allergy."""

    model_config = ConfigDict(frozen=True)

    item: str
    allergen: str  # as the customer said it ("camarão")


class AllergyHold(BaseModel):
    """A repeated order's lines kept out of the cart until the customer says whether to add them despite the
    allergy: every such line, asked about in one yes/no."""

    model_config = ConfigDict(frozen=True)

    items: list[HeldItem]
    message: str


class CartResult(BaseModel):
    """The cart after a cart tool ran, what changed, and what could not be kept (unavailable items, options)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["cart"] = "cart"
    action: CartAction
    changed_line: CartLineView | None = None
    # lines added with `changed_line` by the same answer (a repeated order's held lines the customer said yes to)
    also_changed_lines: list[CartLineView] = []
    skipped: list[str] = []
    price_changed: list[str] = []  # lines whose price changed since they were added (show_cart re-prices)
    # the restaurant is closed now: when it next opens (ISO local time; "" when no opening is scheduled)
    closed_until: str | None = None
    held: AllergyHold | None = None
    cart: CartView


class ChoiceView(BaseModel):
    """A choice offered for a missing option, with the line's unit price if chosen."""

    model_config = ConfigDict(frozen=True)

    name: str
    price_delta: Decimal
    price_delta_text: str
    price: Decimal
    price_text: str


class NeedsOption(BaseModel):
    """The item needs a choice in `group` before it goes in the cart: ask the customer (nothing was added yet)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["cart_needs_option"] = "cart_needs_option"
    item: str
    sku: str
    qty: int
    group: str
    choices: list[ChoiceView]


def option_label(option: ChosenOption, item: MenuItem | None) -> str:
    """How a chosen option reads on a line: "Grande", "Borda Catupiry", "Bacon extra"."""
    group = next((g for g in item.options if g.group == option.group), None) if item else None
    # a lone word from an optional single-choice group ("Catupiry") needs its group to make sense
    if group is not None and group.min == 0 and group.max == 1 and len(option.choice.split()) == 1:
        return f"{group.group} {option.choice}"
    return option.choice


def line_view(line: CartLine, line_no: int, item: MenuItem | None, locale: str) -> CartLineView:
    """One line's view."""
    options_text = ", ".join(option_label(o, item) for o in line.options)
    without = label("without", locale)
    removed_text = ", ".join(f"{without} {r}" for r in line.removed)
    details = ", ".join(p for p in (options_text, removed_text) if p)
    total_text = format_brl(line.line_total, locale)
    text = f"{line.qty}x {line.name}" + (f" ({details})" if details else "") + f" — {total_text}"
    return CartLineView(
        line_no=line_no,
        line_id=line.line_id,
        sku=line.sku,
        name=line.name,
        qty=line.qty,
        options_text=options_text,
        removed_text=removed_text,
        unit_price=line.unit_price,
        unit_price_text=format_brl(line.unit_price, locale),
        line_total=line.line_total,
        line_total_text=total_text,
        text=text,
    )


def cart_view(cart: Cart, items: Mapping[str, MenuItem], delivery_fee: Decimal | None, locale: str) -> CartView:
    """The cart's view; an empty cart has no delivery fee and an empty text. `delivery_fee` None: not known yet
    (the restaurant has delivery areas and the customer's address is in none of them, or there is none), so the
    block leaves the fee line out rather than show a fee checkout would not charge."""
    lines = [line_view(ln, i, items.get(ln.sku), locale) for i, ln in enumerate(cart.lines, start=1)]
    subtotal = to_cents(sum((ln.line_total for ln in cart.lines), Decimal("0")))
    fee = to_cents(delivery_fee) if cart.lines and delivery_fee is not None else Decimal("0.00")
    total = subtotal + fee
    sub_t, fee_t, total_t = (format_brl(v, locale) for v in (subtotal, fee, total))
    text = ""
    if lines:
        text = "\n".join(
            [
                *(ln.text for ln in lines),
                f"{label('subtotal', locale)}: {sub_t}",
                *([f"{label('delivery_fee', locale)}: {fee_t}"] if delivery_fee is not None else []),
                f"{label('total', locale)}: {total_t}",
            ]
        )
    return CartView(
        lines=lines,
        subtotal=subtotal,
        delivery_fee=fee,
        total=total,
        subtotal_text=sub_t,
        delivery_fee_text=fee_t,
        total_text=total_t,
        empty=not lines,
        revision=cart.revision,
        text=text,
    )


def cart_result(
    action: CartAction,
    cart: Cart,
    items: Mapping[str, MenuItem],
    delivery_fee: Decimal | None,
    locale: str,
    *,
    changed: CartLine | None = None,
    changed_no: int | None = None,
    also_changed: Sequence[CartLine] = (),
    skipped: Sequence[str] = (),
    price_changed: Sequence[str] = (),
    closed_until: str | None = None,
    held: AllergyHold | None = None,
) -> CartResult:
    """A cart tool's result."""

    def view(line: CartLine, given_no: int | None = None) -> CartLineView:
        no = given_no or next((i for i, ln in enumerate(cart.lines, 1) if ln.line_id == line.line_id), 0)
        return line_view(line, no, items.get(line.sku), locale)

    return CartResult(
        action=action,
        changed_line=view(changed, changed_no) if changed is not None else None,
        also_changed_lines=[view(ln) for ln in also_changed],
        skipped=list(skipped),
        price_changed=list(price_changed),
        closed_until=closed_until,
        held=held,
        cart=cart_view(cart, items, delivery_fee, locale),
    )


def needs_option(item: MenuItem, qty: int, group: str, base: Sequence[ChosenOption], locale: str) -> NeedsOption:
    """The question for a missing required choice, each choice with the unit price it would give."""
    g = next(g for g in item.options if g.group == group)
    choices = []
    for c in g.choices:
        price = unit_price(item, [*base, ChosenOption(group=g.group, choice=c.name, price_delta=c.price)])
        choices.append(
            ChoiceView(
                name=c.name,
                price_delta=c.price,
                price_delta_text=("+" if c.price > 0 else "") + format_brl(c.price, locale),
                price=price,
                price_text=format_brl(price, locale),
            )
        )
    return NeedsOption(item=item.name, sku=item.sku, qty=qty, group=g.group, choices=choices)
