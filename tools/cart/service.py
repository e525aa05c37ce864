"""Cart domain logic: resolve items and their choices from the customer's words, price from the database.

Every function takes the current cart and returns a new one (carts are immutable values in the state).
Expected failures raise `CartError` carrying the `ToolError` the model gets back; the cart is then unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn
from memory.embeddings import Embedder
from memory.repos import menu as menu_repo
from memory.repos import menu_search as search_repo
from memory.repos import order_history
from memory.repos.menu import MenuItem
from tools.cart.errors import CartError
from tools.cart.errors import fail as _fail
from tools.cart.models import Cart, CartLine, ChosenOption, PendingLine
from tools.cart.options import Picks, check_max, chosen, dedupe, match_choice, missing_group, read_picks, segment
from tools.cart.pricing import options_exist, reprice, unit_price
from tools.menu.matching import Profile, match_name, tokens
from tools.menu.search import ItemMatch, resolve_in
from tools.money import to_cents
from tools.text import fold

MAX_QTY = 50
_LINE_NO = re.compile(r"^(?:linha|item|line|numero|n|no|nr|#)?\s*#?\s*(\d{1,2})(?:o|a)?$")

CartAction = Literal["added", "removed", "updated", "shown", "cleared", "repeated"]


class CartChange(BaseModel):
    """What a cart operation produced: a new cart, or a choice to ask for (`pending`, cart unchanged)."""

    model_config = ConfigDict(frozen=True)

    action: CartAction
    cart: Cart
    changed: CartLine | None = None  # the line added/updated/removed
    changed_no: int | None = None  # its 1-based number (for a removed line: the one it had)
    skipped: list[str] = []
    price_changed: list[str] = []
    pending: PendingLine | None = None
    # lines added with `changed` by the same answer (a repeated order's held lines the customer said yes to)
    also_changed: list[CartLine] = []


# ----------------------------------------------------------------------------- quantities


def check_qty(qty: int) -> None:
    """Refuse quantities outside 1..MAX_QTY."""
    if qty < 1 or qty > MAX_QTY:
        raise _fail(
            "invalid_quantity",
            f"Quantity {qty} is not allowed: it must be between 1 and {MAX_QTY}. Ask how many they want.",
        )


# ----------------------------------------------------------------------------- lines


def _key(
    sku: str, options: Sequence[ChosenOption], removed: Sequence[str]
) -> tuple[str, frozenset[object], frozenset[str]]:
    return sku, frozenset((o.group, o.choice) for o in options), frozenset(removed)


def _line(line_id: int, item: MenuItem, qty: int, options: Sequence[ChosenOption], removed: Sequence[str]) -> CartLine:
    unit = unit_price(item, options)
    # keep the menu's group order so lines read the same way whatever order the customer said them in
    order = {(g.group, c.name): i for i, (g, c) in enumerate((g, c) for g in item.options for c in g.choices)}
    opts = sorted(options, key=lambda o: order.get((o.group, o.choice), 0))
    return CartLine(
        line_id=line_id,
        sku=item.sku,
        name=item.name,
        qty=qty,
        options=[ChosenOption(group=o.group, choice=o.choice, price_delta=_delta(item, o)) for o in opts],
        removed=sorted(removed, key=lambda r: item.removable.index(r) if r in item.removable else len(item.removable)),
        unit_price=unit,
        line_total=to_cents(unit * qty),
    )


def _delta(item: MenuItem, o: ChosenOption) -> Decimal:
    for g in item.options:
        if g.group == o.group:
            for c in g.choices:
                if c.name == o.choice:
                    return c.price
    return Decimal("0")


def put_line(
    cart: Cart, item: MenuItem, qty: int, options: Sequence[ChosenOption], removed: Sequence[str]
) -> CartChange:
    """Add a fully specified line (or ask for a missing required choice); identical lines merge their qty."""
    check_max(item, options)
    missing = missing_group(item, options)
    if missing is not None:
        pending = PendingLine(
            sku=item.sku,
            name=item.name,
            qty=qty,
            options=list(options),
            removed=list(removed),
            missing_group=missing.group,
            choices=[c.name for c in missing.choices],
        )
        return CartChange(action="added", cart=cart, pending=pending)
    key = _key(item.sku, options, removed)
    lines = list(cart.lines)
    for idx, ln in enumerate(lines):
        if _key(ln.sku, ln.options, ln.removed) == key:
            check_qty(ln.qty + qty)
            merged = _line(ln.line_id, item, ln.qty + qty, options, removed)
            lines[idx] = merged
            new = cart.model_copy(update={"lines": lines, "revision": cart.revision + 1})
            return CartChange(action="added", cart=new, changed=merged, changed_no=idx + 1)
    line = _line(cart.next_line_id, item, qty, options, removed)
    new = Cart(lines=[*lines, line], revision=cart.revision + 1, next_line_id=cart.next_line_id + 1)
    return CartChange(action="added", cart=new, changed=line, changed_no=len(new.lines))


async def _alternatives(conn: Conn, tenant_id: int, item: MenuItem) -> list[str]:
    rows = await search_repo.candidates(conn, tenant_id, category=item.category)
    return [r.name for r in rows if r.available and r.sku != item.sku][:3]


async def _orderable(conn: Conn, tenant_id: int, sku: str) -> MenuItem:
    item = await menu_repo.by_sku(conn, tenant_id, sku)
    if item is None:
        raise _fail("unknown_item", f"{sku} is not on the menu any more.", item=sku)
    if not item.available:
        raise _fail(
            "unavailable_item",
            f"{item.name} is not available now; offer the alternatives.",
            item=item.name,
            suggestions=await _alternatives(conn, tenant_id, item),
        )
    return item


async def _pick_item(conn: Conn, tenant_id: int, text: str, embedder: Embedder | None) -> tuple[MenuItem, list[str]]:
    rows = await search_repo.candidates(conn, tenant_id)
    match: ItemMatch = await resolve_in(rows, text, embedder=embedder, conn=conn, tenant_id=tenant_id)
    if match.status == "unknown":
        raise _fail(
            "unknown_item",
            f"No menu item matches {text!r}; offer the suggestions.",
            item=text,
            suggestions=match.suggestions[:3],
        )
    if match.status == "ambiguous":
        # "x salada com bacon" fits X-Salada and X-Bacon by name, but only X-Salada explains "bacon" (an extra)
        fitting = []
        if any(c.leftover for c in match.candidates):
            full = await menu_repo.by_skus(conn, tenant_id, [c.item.sku for c in match.candidates])
            for c in match.candidates:
                item = full.get(c.item.sku)
                if item is None or not c.leftover:
                    continue
                try:
                    read_picks(item, [], [], c.leftover)
                except CartError:
                    continue
                fitting.append((item, c.leftover))
        if len(fitting) == 1:
            return fitting[0]
        raise _fail(
            "ambiguous_item",
            f"Several items match {text!r}; ask which one.",
            item=text,
            suggestions=match.suggestions,
        )
    assert match.item is not None
    item = await _orderable(conn, tenant_id, match.item.sku)
    return item, match.leftover


# ----------------------------------------------------------------------------- operations


async def add_item(
    conn: Conn,
    tenant_id: int,
    cart: Cart,
    text: str,
    qty: int = 1,
    options: Sequence[str] = (),
    removals: Sequence[str] = (),
    *,
    embedder: Embedder | None = None,
) -> CartChange:
    """Add `qty` of the item `text` names, with its choices and removals (from the lists or the text itself)."""
    check_qty(qty)
    item, leftover = await _pick_item(conn, tenant_id, text, embedder)
    picks = read_picks(item, options, removals, leftover)
    return put_line(cart, item, qty, picks.options, picks.removed)


async def choose(conn: Conn, tenant_id: int, cart: Cart, pending: PendingLine | None, choice: str) -> CartChange:
    """Complete the pending item with the customer's answer for its missing group (a name or its number)."""
    if pending is None:
        raise _fail("not_in_cart", "Nothing is waiting for a choice; use add_to_cart or update_line instead.")
    item = await _orderable(conn, tenant_id, pending.sku)
    group = next((g for g in item.options if g.group == pending.missing_group), None)
    if group is None:
        raise _fail("invalid_option", f"{item.name} has no group {pending.missing_group!r} any more.", item=item.name)
    picks = Picks(options=list(pending.options), removed=list(pending.removed))
    number = _LINE_NO.match(fold(choice).strip())
    if number and 1 <= int(number.group(1)) <= len(group.choices):
        picks.options.append(chosen(group, group.choices[int(number.group(1)) - 1]))
    else:
        hit = match_choice(choice, [group])
        if hit is not None:
            picks.options.append(chosen(*hit))
        else:
            # "grande com borda de catupiry": the answer may carry other choices too
            extra = Picks()
            try:
                unmatched = segment(re.findall(r"\w+", choice), item, extra)
            except CartError:
                unmatched = ["?"]
            if unmatched or not any(o.group == group.group for o in extra.options):
                raise _fail(
                    "invalid_option",
                    f"{choice!r} is not a choice of {group.group} for {item.name}; ask again with the choices.",
                    item=item.name,
                    group=group.group,
                    suggestions=[c.name for c in group.choices],
                )
            picks.options += extra.options
            picks.removed += extra.removed
    picks = dedupe(picks)
    # a single-choice group keeps the latest answer
    picks.options = _replace_singles(item, pending.options, picks.options[len(pending.options) :])
    return put_line(cart, item, pending.qty, picks.options, picks.removed)


def _replace_singles(
    item: MenuItem, current: Sequence[ChosenOption], new: Sequence[ChosenOption]
) -> list[ChosenOption]:
    maxes = {g.group: g.max for g in item.options}
    out = list(current)
    for o in new:
        if any((x.group, x.choice) == (o.group, o.choice) for x in out):
            continue
        if maxes.get(o.group) == 1:
            out = [x for x in out if x.group != o.group]
        out.append(o)
    return out


def find_line(cart: Cart, ref: str) -> tuple[int, CartLine]:
    """The line `ref` points at: its number ("2") or the item's name; (0-based index, line)."""
    if not cart.lines:
        raise _fail("empty_cart", "The cart is empty.")
    text = fold(ref).strip()
    number = _LINE_NO.match(text)
    if number:
        n = int(number.group(1))
        if 1 <= n <= len(cart.lines):
            return n - 1, cart.lines[n - 1]
        raise _not_in_cart(ref, cart)
    if not tokens(ref):
        raise _not_in_cart(ref, cart)
    scored = []
    for idx, ln in enumerate(cart.lines):
        label = " ".join([ln.name, *(o.choice for o in ln.options)])
        m = match_name(tokens(ref), Profile.of(label))
        if m.hit:
            name_m = match_name(tokens(ref), Profile.of(ln.name))
            scored.append((m.query_cover + 10 * name_m.name_cover, idx, ln))
    if not scored:
        raise _not_in_cart(ref, cart)
    scored.sort(key=lambda s: -s[0])
    top = [s for s in scored if s[0] >= scored[0][0] - 0.5]
    if len(top) > 1:
        raise _fail(
            "ambiguous_item",
            f"Several cart lines match {ref!r}; ask which line number.",
            item=ref,
            suggestions=[f"{idx + 1}: {ln.name}" + _opts_suffix(ln) for _, idx, ln in top],
        )
    return top[0][1], top[0][2]


def _opts_suffix(line: CartLine) -> str:
    parts = [o.choice for o in line.options] + [f"sem {r}" for r in line.removed]
    return f" ({', '.join(parts)})" if parts else ""


def _not_in_cart(ref: str, cart: Cart) -> CartError:
    return _fail(
        "not_in_cart",
        f"Nothing in the cart matches {ref!r}; the cart lines are in suggestions.",
        item=ref,
        suggestions=[f"{i}: {ln.name}" for i, ln in enumerate(cart.lines, 1)],
    )


def remove_line(cart: Cart, ref: str) -> CartChange:
    """Take a line out of the cart."""
    idx, line = find_line(cart, ref)
    lines = [ln for i, ln in enumerate(cart.lines) if i != idx]
    new = cart.model_copy(update={"lines": lines, "revision": cart.revision + 1})
    return CartChange(action="removed", cart=new, changed=line, changed_no=idx + 1)


def set_line_qty(cart: Cart, ref: str, qty: int) -> CartChange:
    """Set a line's quantity; 0 removes it."""
    if qty == 0:
        return remove_line(cart, ref)
    check_qty(qty)
    idx, line = find_line(cart, ref)
    changed = line.model_copy(update={"qty": qty, "line_total": to_cents(line.unit_price * qty)})
    lines = list(cart.lines)
    lines[idx] = changed
    new = cart.model_copy(update={"lines": lines, "revision": cart.revision + 1})
    return CartChange(action="updated", cart=new, changed=changed, changed_no=idx + 1)


async def update_line(
    conn: Conn, tenant_id: int, cart: Cart, ref: str, options: Sequence[str] = (), removals: Sequence[str] = ()
) -> CartChange:
    """Change a line's choices (a choice replaces its group's previous one when only one is allowed) or removals."""
    idx, line = find_line(cart, ref)
    item = await _orderable(conn, tenant_id, line.sku)
    picks = read_picks(item, options, removals, [])
    opts = _replace_singles(item, [o for o in line.options if options_exist(item, [o])], picks.options)
    removed = list(dict.fromkeys([*line.removed, *picks.removed]))
    check_max(item, opts)
    changed = _line(line.line_id, item, line.qty, opts, removed)
    lines = list(cart.lines)
    lines[idx] = changed
    new = cart.model_copy(update={"lines": lines, "revision": cart.revision + 1})
    return CartChange(action="updated", cart=new, changed=changed, changed_no=idx + 1)


async def show(conn: Conn, tenant_id: int, cart: Cart) -> CartChange:
    """The cart at today's prices; lines no longer orderable are dropped and reported."""
    if not cart.lines:
        return CartChange(action="shown", cart=cart)
    priced = await reprice(conn, tenant_id, cart)
    new = priced.cart
    if priced.unavailable or priced.price_changed:
        new = new.model_copy(update={"revision": cart.revision + 1})
    return CartChange(action="shown", cart=new, skipped=priced.unavailable, price_changed=priced.price_changed)


def clear(cart: Cart) -> CartChange:
    """Empty the cart."""
    return CartChange(action="cleared", cart=Cart(lines=[], revision=cart.revision + 1, next_line_id=cart.next_line_id))


async def repeat_last(conn: Conn, tenant_id: int, customer_id: int | None, cart: Cart) -> CartChange:
    """Replace the cart with the customer's last order at today's prices, skipping what is no longer offered."""
    past = await order_history.last_order_lines(conn, tenant_id, customer_id) if customer_id is not None else []
    if not past:
        raise _fail("nothing_to_repeat", "The customer has no previous order to repeat.")
    items = await menu_repo.by_skus(conn, tenant_id, [p.sku for p in past])
    new = Cart(lines=[], revision=cart.revision + 1, next_line_id=cart.next_line_id)
    skipped: list[str] = []
    for p in past:
        item = items.get(p.sku)
        if item is None or not item.available:
            skipped.append(p.name)
            continue
        opts: list[ChosenOption] = []
        for o in p.options:
            probe = ChosenOption(group=o.group, choice=o.choice, price_delta=Decimal("0"))
            if options_exist(item, [probe]):
                opts.append(probe)
            else:
                skipped.append(f"{item.name}: {o.choice}")
        removed = [r for r in p.removed if r in item.removable]
        try:
            change = put_line(new, item, min(p.qty, MAX_QTY), opts, removed)
        except CartError:
            skipped.append(item.name)
            continue
        if change.pending is not None:  # a required choice was dropped: the line can't be rebuilt as it was
            skipped.append(item.name)
            continue
        new = change.cart
    if not new.lines:
        raise _fail(
            "nothing_to_repeat",
            "Nothing from the last order is available now; offer the menu.",
            suggestions=skipped,
        )
    new = new.model_copy(update={"revision": cart.revision + 1})
    return CartChange(action="repeated", cart=new, skipped=skipped)


__all__ = [
    "MAX_QTY",
    "CartChange",
    "CartError",
    "add_item",
    "check_qty",
    "choose",
    "clear",
    "find_line",
    "put_line",
    "remove_line",
    "repeat_last",
    "set_line_qty",
    "show",
    "update_line",
]
