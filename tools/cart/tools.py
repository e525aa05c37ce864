"""Cart tools: thin wrappers over tools.cart.service. No tool takes a price; every price comes from the menu."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool, tool
from langgraph.prebuilt import ToolRuntime
from langgraph.types import Command
from pydantic import BaseModel, Field

from memory.db import UNAVAILABLE, Conn
from memory.repos import menu as menu_repo
from tools.cart import service
from tools.cart.models import Cart, CartLine, PendingLine
from tools.cart.service import CartChange, CartError
from tools.cart.views import AllergyHold, HeldItem, cart_result, needs_option
from tools.context import TurnContext, conversation_of
from tools.customers.models import CustomerInfo
from tools.delivery import areas
from tools.memory.guard import ALLERGY_GROUP, allergy_conflict, is_yes, standing_removals
from tools.memory.service import MemoryNote
from tools.menu.hours import is_open, next_opening
from tools.menu.tools import embedder_for
from tools.results import NoArgs, ToolError

log = logging.getLogger(__name__)

AWAITING_OPTION = "cart.option"


class _View(BaseModel):
    """The parts of the conversation state cart tools read (tools can't import the graph's state class)."""

    cart: Cart = Cart()
    pending: PendingLine | None = None
    locale: str = "pt-BR"
    customer: CustomerInfo | None = None
    # what the customer told us in earlier conversations (read at the start of the turn)
    memories: list[MemoryNote] = []


def _state(runtime: ToolRuntime[Any, Any]) -> _View:
    st = runtime.state
    if isinstance(st, dict):
        return _View.model_validate({k: v for k, v in st.items() if k in _View.model_fields and v is not None})
    return _View.model_validate({k: getattr(st, k) for k in _View.model_fields if getattr(st, k, None) is not None})


def _internal() -> str:
    return ToolError(
        error="internal", message="Something went wrong on our side; apologise and try again."
    ).model_dump_json()


async def _apply(
    runtime: ToolRuntime,
    name: str,
    op: Callable[[Conn, TurnContext, _View], Awaitable[CartChange]],
) -> Command[Any] | str:
    """Run a cart operation and turn its outcome into a state update and a typed result."""
    ctx = cast(TurnContext, runtime.context)
    try:
        view = _state(runtime)
        locale = view.locale if view.locale in ("pt-BR", "en") else ctx.tenant.locale
        async with ctx.pool.connection() as conn:
            change = await op(conn, ctx, view)
            held = _held_from_repeat(change)
            if held is None and change.pending is not None and change.pending.missing_group == ALLERGY_GROUP:
                warning = ToolError(
                    error="allergy_warning",
                    message=(
                        f"The customer told us they are allergic to {change.pending.choices[0]} and "
                        f"{change.pending.name} contains it. Warn them and ask whether to add it anyway (yes/no); "
                        "their answer goes to choose_option."
                    ),
                    item=change.pending.name,
                    option=change.pending.choices[0],
                )
                msg = ToolMessage(warning.model_dump_json(), tool_call_id=runtime.tool_call_id)
                return Command(update={"pending": change.pending, "awaiting": AWAITING_OPTION, "messages": [msg]})
            if held is None and change.pending is not None:
                item = await menu_repo.by_sku(conn, ctx.tenant.id, change.pending.sku)
                assert item is not None
                question = needs_option(
                    item, change.pending.qty, change.pending.missing_group, change.pending.options, locale
                )
                msg = ToolMessage(question.model_dump_json(), tool_call_id=runtime.tool_call_id)
                # the cart too: held lines said yes to went in before one of them turned out to need a choice
                update = {"cart": change.cart, "pending": change.pending, "awaiting": AWAITING_OPTION}
                return Command(update={**update, "messages": [msg]})
            skus = [ln.sku for ln in change.cart.lines] + ([change.changed.sku] if change.changed else [])
            items = await menu_repo.by_skus(conn, ctx.tenant.id, skus) if skus else {}
            delivery = await areas.quote(conn, ctx.tenant, areas.chosen_address_id(view.customer))
        result = cart_result(
            change.action,
            change.cart,
            items,
            delivery.fee if delivery.delivers else None,
            locale,
            changed=change.changed,
            changed_no=change.changed_no,
            also_changed=change.also_changed,
            skipped=change.skipped,
            price_changed=change.price_changed,
            closed_until=_closed_until(ctx) if change.action in ("added", "repeated") else None,
            held=held,
        )
        msg = ToolMessage(result.model_dump_json(), tool_call_id=runtime.tool_call_id)
        # a held line waits for the customer's yes/no as a pending choice, exactly as a single add held back
        pending = change.pending if held else None
        awaiting = AWAITING_OPTION if held else None
        return Command(update={"cart": change.cart, "pending": pending, "awaiting": awaiting, "messages": [msg]})
    except CartError as exc:
        return exc.error.model_dump_json()
    except UNAVAILABLE:
        raise  # the queue retries the turn once Postgres is back
    except Exception:
        log.exception("%s failed in conversation %s", name, conversation_of(runtime.context))
        return _internal()


def _held_from_repeat(change: CartChange) -> AllergyHold | None:
    """The repeated order's lines held back by an allergy: the rest of the order went in, these wait for one
    answer."""
    held = change.pending
    if change.action != "repeated" or held is None or held.missing_group != ALLERGY_GROUP:
        return None
    lines = [held, *held.also]
    named = ", ".join(f"{ln.name} (contains {ln.choices[0]})" for ln in lines)
    rest = "The rest of the last order is in the cart, but these" if change.cart.lines else "These"
    return AllergyHold(
        items=[HeldItem(item=ln.name, allergen=ln.choices[0]) for ln in lines],
        message=(
            f"{rest} hold something the customer told us they are allergic to and are not in the cart: {named}. "
            "Warn them, naming every one, and ask whether to add them anyway (yes/no); their answer goes to "
            "choose_option and settles them all."
        ),
    )


def _closed_until(ctx: TurnContext) -> str | None:
    """When a closed restaurant next opens (ISO, local time): the customer hears it at the first item, not
    after building a whole order that checkout would refuse."""
    tenant = ctx.tenant
    at = ctx.clock()
    if not tenant.hours or is_open(tenant.hours, tenant.timezone, at):
        return None
    nxt = next_opening(tenant.hours, tenant.timezone, at)
    return nxt.isoformat(timespec="minutes") if nxt else ""


class AddToCartArgs(BaseModel):
    """Arguments of add_to_cart."""

    item: str = Field(description="The item as the customer named it (may include size/extras) or its sku.")
    qty: int = Field(1, description="How many (1-50).")
    options: list[str] = Field(default_factory=list, description="Chosen options, e.g. ['grande', 'borda catupiry'].")
    removals: list[str] = Field(default_factory=list, description="Ingredients to leave out, e.g. ['cebola'].")


@tool("add_to_cart", args_schema=AddToCartArgs)
async def add_to_cart(
    item: str,
    qty: int = 1,
    options: list[str] | None = None,
    removals: list[str] | None = None,
    *,
    runtime: ToolRuntime,
) -> Command[Any] | str:
    """Add an item to the cart; if a required choice (e.g. the size) is missing, returns the question to ask."""

    async def op(conn: Conn, ctx: TurnContext, view: _View) -> CartChange:
        def add(more: list[str]) -> Awaitable[CartChange]:
            return service.add_item(
                conn,
                ctx.tenant.id,
                view.cart,
                item,
                qty,
                options or [],
                [*(removals or []), *more],
                embedder=embedder_for(ctx),
            )

        change = await add([])
        return await _remembered(conn, ctx, view, change, add)

    return await _apply(runtime, "add_to_cart", op)


async def _remembered(
    conn: Conn,
    ctx: TurnContext,
    view: _View,
    change: CartChange,
    add: Callable[[list[str]], Awaitable[CartChange]],
) -> CartChange:
    """Apply what the customer told us before: their standing removals, and hold back an item they are allergic
    to until they confirm it (as a pending choice the next answer settles)."""
    line = change.pending or change.changed
    if not view.memories or line is None:
        return change
    menu_item = await menu_repo.by_sku(conn, ctx.tenant.id, line.sku)
    if menu_item is None:
        return change
    extra = [r for r in standing_removals(menu_item.removable, view.memories) if r not in line.removed]
    if extra:
        change = await add(extra)
        line = change.pending or change.changed
        assert line is not None
    allergen = await allergy_conflict(conn, ctx.tenant.id, line.sku, view.memories)
    if allergen is None:
        return change
    return CartChange(action=change.action, cart=view.cart, pending=_allergy_hold(line, allergen))


def _allergy_hold(line: CartLine | PendingLine, allergen: str) -> PendingLine:
    """`line` held back until the customer says yes despite `allergen`: a pending choice whose answer goes to
    choose_option, the same for a single add and a repeated order."""
    return PendingLine(
        sku=line.sku,
        name=line.name,
        qty=line.qty,
        options=list(line.options),
        removed=list(line.removed),
        missing_group=ALLERGY_GROUP,
        choices=[allergen],
    )


class ChooseOptionArgs(BaseModel):
    """Arguments of choose_option."""

    choice: str = Field(description="The customer's answer to the pending question, e.g. 'grande' or '2'.")


@tool("choose_option", args_schema=ChooseOptionArgs)
async def choose_option(choice: str, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Answer the pending choice (asked by add_to_cart) and put the item in the cart."""
    held = _state(runtime).pending
    if held is not None and held.missing_group == ALLERGY_GROUP and not is_yes(choice):
        names = [ln.name for ln in (held, *held.also)]
        declined = ToolError(
            error="allergy_declined",
            message=(
                f"The customer chose not to add {', '.join(names)} because of their allergy; offer something else."
            ),
            item=held.name,
            items=names if held.also else [],
        )
        msg = ToolMessage(declined.model_dump_json(), tool_call_id=runtime.tool_call_id)
        return Command(update={"pending": None, "awaiting": None, "messages": [msg]})

    async def op(conn: Conn, ctx: TurnContext, view: _View) -> CartChange:
        if view.pending is not None and view.pending.missing_group == ALLERGY_GROUP:
            if view.pending.also:
                return await _confirmed_all(conn, ctx, view.cart, [view.pending, *view.pending.also])
            item = await menu_repo.by_sku(conn, ctx.tenant.id, view.pending.sku)
            if item is None or not item.available:
                return await service.add_item(conn, ctx.tenant.id, view.cart, view.pending.sku)
            # confirmed despite the allergy: the line as asked (a size still missing is asked next)
            return service.put_line(view.cart, item, view.pending.qty, view.pending.options, view.pending.removed)
        return await service.choose(conn, ctx.tenant.id, view.cart, view.pending, choice)

    return await _apply(runtime, "choose_option", op)


async def _confirmed_all(conn: Conn, ctx: TurnContext, cart: Cart, held: list[PendingLine]) -> CartChange:
    """A repeated order's held lines the customer said yes to, each as it was asked. One gone from the menu since
    is named in `skipped` rather than failing the rest; the first still missing a choice is asked next (any
    further one is named as skipped too, since only one question can wait)."""
    added: list[CartLine] = []
    skipped: list[str] = []
    asked: PendingLine | None = None
    for ln in held:
        item = await menu_repo.by_sku(conn, ctx.tenant.id, ln.sku)
        if item is None or not item.available:
            skipped.append(ln.name)
            continue
        step = service.put_line(cart, item, ln.qty, ln.options, ln.removed)
        if step.pending is not None:
            if asked is None:
                asked = step.pending
            else:
                skipped.append(ln.name)
            continue
        cart = step.cart
        assert step.changed is not None  # a line put without a missing choice is in the cart
        added.append(step.changed)
    if not added and asked is None:
        # nothing could go in: the first line's own error says why
        return await service.add_item(conn, ctx.tenant.id, cart, held[0].sku)
    first = added[0] if added else None
    return CartChange(action="added", cart=cart, changed=first, also_changed=added[1:], skipped=skipped, pending=asked)


class LineArgs(BaseModel):
    """A cart line."""

    item: str = Field(description="The line number shown in the cart ('1', '2') or the item's name.")


@tool("remove_from_cart", args_schema=LineArgs)
async def remove_from_cart(item: str, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Remove a line from the cart."""

    async def op(conn: Conn, ctx: TurnContext, view: _View) -> CartChange:
        return service.remove_line(view.cart, item)

    return await _apply(runtime, "remove_from_cart", op)


class SetQuantityArgs(BaseModel):
    """Arguments of set_quantity."""

    item: str = Field(description="The line number shown in the cart ('1', '2') or the item's name.")
    qty: int = Field(description="The new quantity (0 removes the line, at most 50).")


@tool("set_quantity", args_schema=SetQuantityArgs)
async def set_quantity(item: str, qty: int, *, runtime: ToolRuntime) -> Command[Any] | str:
    """Change how many of a cart line the customer wants (0 removes it)."""

    async def op(conn: Conn, ctx: TurnContext, view: _View) -> CartChange:
        return service.set_line_qty(view.cart, item, qty)

    return await _apply(runtime, "set_quantity", op)


class UpdateLineArgs(BaseModel):
    """Arguments of update_line."""

    item: str = Field(description="The line number shown in the cart ('1', '2') or the item's name.")
    options: list[str] = Field(default_factory=list, description="New choices, e.g. ['grande', 'borda cheddar'].")
    removals: list[str] = Field(default_factory=list, description="Ingredients to leave out, e.g. ['tomate'].")


@tool("update_line", args_schema=UpdateLineArgs)
async def update_line(
    item: str,
    options: list[str] | None = None,
    removals: list[str] | None = None,
    *,
    runtime: ToolRuntime,
) -> Command[Any] | str:
    """Change a cart line's choices (a new size replaces the old one) or leave out ingredients."""

    async def op(conn: Conn, ctx: TurnContext, view: _View) -> CartChange:
        return await service.update_line(conn, ctx.tenant.id, view.cart, item, options or [], removals or [])

    return await _apply(runtime, "update_line", op)


@tool("show_cart", args_schema=NoArgs)
async def show_cart(*, runtime: ToolRuntime) -> Command[Any] | str:
    """Show the cart at today's prices with subtotal, delivery fee and total."""

    async def op(conn: Conn, ctx: TurnContext, view: _View) -> CartChange:
        return await service.show(conn, ctx.tenant.id, view.cart)

    return await _apply(runtime, "show_cart", op)


@tool("clear_cart", args_schema=NoArgs)
async def clear_cart(*, runtime: ToolRuntime) -> Command[Any] | str:
    """Empty the cart."""

    async def op(conn: Conn, ctx: TurnContext, view: _View) -> CartChange:
        return service.clear(view.cart)

    return await _apply(runtime, "clear_cart", op)


@tool("repeat_last_order", args_schema=NoArgs)
async def repeat_last_order(*, runtime: ToolRuntime) -> Command[Any] | str:
    """Replace the cart with the customer's last order at today's prices (reports what is no longer available)."""

    async def op(conn: Conn, ctx: TurnContext, view: _View) -> CartChange:
        customer_id = view.customer.id if view.customer else None
        change = await service.repeat_last(conn, ctx.tenant.id, customer_id, view.cart)
        if not view.memories:
            return change
        # "sem cebola sempre" said after that order still holds for it: "o de sempre, sem cebola?"
        items = await menu_repo.by_skus(conn, ctx.tenant.id, [ln.sku for ln in change.cart.lines])
        lines = []
        for ln in change.cart.lines:
            item = items.get(ln.sku)
            extra = [r for r in standing_removals(item.removable, view.memories) if r not in ln.removed] if item else []
            lines.append(ln.model_copy(update={"removed": [*ln.removed, *extra]}) if extra else ln)
        return await _allergy_checked(conn, ctx, view, change, lines)

    return await _apply(runtime, "repeat_last_order", op)


async def _allergy_checked(
    conn: Conn, ctx: TurnContext, view: _View, change: CartChange, lines: list[CartLine]
) -> CartChange:
    """The repeated order through the allergy guard of a single add: every line with an allergen the customer told
    us about stays out until they say yes. They wait together as one pending choice (the first, the rest in its
    `also`), so one answer settles them all and none is left out unasked."""
    kept: list[CartLine] = []
    held: list[PendingLine] = []
    for ln in lines:
        allergen = await allergy_conflict(conn, ctx.tenant.id, ln.sku, view.memories)
        if allergen is None:
            kept.append(ln)
        else:
            held.append(_allergy_hold(ln, allergen))
    cart = change.cart.model_copy(update={"lines": kept})
    pending = held[0].model_copy(update={"also": held[1:]}) if held else None
    return change.model_copy(update={"cart": cart, "pending": pending})


CART_TOOLS: list[BaseTool] = [
    add_to_cart,
    choose_option,
    remove_from_cart,
    set_quantity,
    update_line,
    show_cart,
    clear_cart,
    repeat_last_order,
]
