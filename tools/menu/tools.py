"""Menu tools: search the menu, describe an item, opening hours, the delivery fee. They only read."""

# No `from __future__ import annotations` here: langchain calls get_type_hints on every tool call, and
# string annotations are compiled each time (≈1 ms a call in profiles).

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, cast
from zoneinfo import ZoneInfo

from langchain_core.tools import BaseTool, InjectedToolArg, tool
from langgraph.prebuilt import ToolRuntime
from pydantic import BaseModel, ConfigDict, Field

from memory.embeddings import Embedder, default_embedder
from memory.repos import delivery_areas as delivery_repo
from memory.repos import menu as menu_repo
from memory.repos.delivery_areas import AddressPoint
from memory.repos.menu import MenuItem
from memory.repos.menu_search import SearchRow
from tools.context import TurnContext
from tools.customers.models import CustomerInfo
from tools.delivery import areas as delivery
from tools.delivery.areas import AreaBrief
from tools.menu import hours as hours_mod
from tools.menu.search import resolve_item, search
from tools.money import format_brl
from tools.results import NoArgs, ToolError, internal_error


class ItemSummary(BaseModel):
    """One item as a search lists it."""

    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    category: str
    price: Decimal
    price_text: str
    description: str
    tags: list[str]
    available: bool


class MenuSearchResult(BaseModel):
    """Items found for a query (available first; unavailable ones only when named, flagged), and all categories."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["menu_search"] = "menu_search"
    query: str
    tag: str | None = None  # the diet/label filter applied (from the argument or detected in the query)
    category: str | None = None  # the category filter applied
    overview: bool = False  # no query and no filter: a few items of each category
    items: list[ItemSummary]
    more: int = 0  # matches left out by the limit
    categories: list[str]


class ChoiceInfo(BaseModel):
    """One choice of an option group, with its price delta."""

    model_config = ConfigDict(frozen=True)

    name: str
    price_delta: Decimal
    price_delta_text: str


class OptionGroupInfo(BaseModel):
    """An option group: pick between `min` and `max` choices (`required` when min ≥ 1)."""

    model_config = ConfigDict(frozen=True)

    group: str
    min: int
    max: int
    required: bool
    choices: list[ChoiceInfo]


class ItemDetails(BaseModel):
    """Everything about one item: price, options with their deltas, removable ingredients."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["item_details"] = "item_details"
    sku: str
    name: str
    category: str
    description: str
    price: Decimal
    price_text: str
    available: bool
    tags: list[str]
    removable: list[str]
    options: list[OptionGroupInfo]


class HoursInfo(BaseModel):
    """Opening hours: open now?, today's range, the week (local times), and when it next opens if closed."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["hours"] = "hours"
    open_now: bool
    timezone: str
    today_hours: str | None  # the range of the local day, e.g. "18:00-00:30"; None when closed all day
    closes_at: str | None = None  # "00:30" when open now
    week: dict[str, str]  # mon..sun → "18:00-23:30" or "closed"
    next_opening: str | None  # ISO local datetime of the next opening when closed now


class DeliveryFeeInfo(BaseModel):
    """The delivery fee: the flat one, or by area (the customer's address's area, or every area when no address
    of theirs is known, or `outside` when it is in none)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["delivery_fee"] = "delivery_fee"
    fee: Decimal | None  # what the customer's delivery costs; None when it depends on an address we don't know
    fee_text: str | None
    by_area: bool = False  # the restaurant charges by delivery area
    area: str | None = None  # the area of the customer's address
    outside: bool = False  # the customer's address is in none of the areas: no delivery there
    place: str | None = None  # the neighbourhood of the customer's address
    # the neighbourhood an area names that `place` (named by none) is very likely a misspelling of: ask whether the
    # customer meant it ("Vila Madalema" → "Vila Madalena"), never quote its fee before their yes
    did_you_mean: str | None = None
    areas: list[AreaBrief] = []  # every area with its fee, when the fee is by area


def _locale(runtime: ToolRuntime[Any, Any]) -> str:
    st = runtime.state
    value = st.get("locale") if isinstance(st, dict) else getattr(st, "locale", None)
    return value if value in ("pt-BR", "en") else runtime.context.tenant.locale


def embedder_for(ctx: TurnContext) -> Embedder:
    """The turn's embedder: an injected one (tests, production) or the embedded e5."""
    injected = ctx.extras.get("embedder")
    return injected if injected is not None else default_embedder()


def _summary(r: SearchRow, locale: str) -> ItemSummary:
    return ItemSummary(
        sku=r.sku,
        name=r.name,
        category=r.category,
        price=r.price,
        price_text=format_brl(r.price, locale),
        description=r.description,
        tags=r.tags,
        available=r.available,
    )


def item_details_of(item: MenuItem, locale: str) -> ItemDetails:
    """The details view of an item."""
    return ItemDetails(
        sku=item.sku,
        name=item.name,
        category=item.category,
        description=item.description,
        price=item.price,
        price_text=format_brl(item.price, locale),
        available=item.available,
        tags=item.tags,
        removable=item.removable,
        options=[
            OptionGroupInfo(
                group=g.group,
                min=g.min,
                max=g.max,
                required=g.min >= 1,
                choices=[
                    ChoiceInfo(
                        name=c.name,
                        price_delta=c.price,
                        price_delta_text=("+" if c.price > 0 else "") + format_brl(c.price, locale),
                    )
                    for c in g.choices
                ],
            )
            for g in item.options
        ],
    )


def hours_info(hours: dict[str, str], tz: str, at: datetime) -> HoursInfo:
    """Opening hours as seen at `at`."""
    local = at.astimezone(ZoneInfo(tz))
    week = hours_mod.parse_hours(hours)
    today = hours_mod.DAYS[local.weekday()]
    yesterday = hours_mod.DAYS[(local.weekday() - 1) % 7]
    open_now = hours_mod.is_open(hours, tz, at)
    closes_at: str | None = None
    if open_now:
        now = local.time()
        running = week.get(today)
        in_today = running is not None and (
            now >= running.opens if running.crosses_midnight else running.opens <= now < running.closes
        )
        if not in_today:
            running = week.get(yesterday)  # after midnight, the range still running is yesterday's
        if running is not None:
            closes_at = running.closes.strftime("%H:%M")
    nxt = None if open_now else hours_mod.next_opening(hours, tz, at)
    return HoursInfo(
        open_now=open_now,
        timezone=tz,
        today_hours=hours.get(today),
        closes_at=closes_at,
        week={day: hours.get(day, "closed") for day in hours_mod.DAYS},
        next_opening=nxt.isoformat(timespec="minutes") if nxt else None,
    )


class SearchMenuArgs(BaseModel):
    """Arguments of search_menu."""

    query: str = Field("", description="What the customer asked for, in their words (typos are fine).")
    category: str | None = Field(None, description="Only this category, e.g. 'Pizzas' or 'bebidas'.")
    tag: str | None = Field(None, description="Only items with this label, e.g. 'vegetariano', 'sem glúten'.")
    limit: int = Field(8, description="How many items at most (1-20).")


@tool("search_menu", args_schema=SearchMenuArgs)
async def search_menu(
    query: str = "",
    category: str | None = None,
    tag: str | None = None,
    limit: int = 8,
    *,
    runtime: ToolRuntime,
) -> str:
    """Search the menu by name, ingredient, category or diet; with no arguments, an overview by category."""
    ctx = cast(TurnContext, runtime.context)
    locale = _locale(runtime)
    async with ctx.pool.connection() as conn:
        found = await search(
            conn,
            ctx.tenant.id,
            query,
            category=category,
            tag=tag,
            limit=max(1, min(limit, 20)),
            embedder=embedder_for(ctx),
        )
    return MenuSearchResult(
        query=query,
        tag=", ".join(found.tags) or None,
        category=found.category,
        overview=found.overview,
        items=[_summary(r, locale) for r in found.items],
        more=found.more,
        categories=found.categories,
    ).model_dump_json()


class ItemDetailsArgs(BaseModel):
    """Arguments of item_details."""

    item: str = Field(description="The item's name (as the customer said it) or its sku.")


@tool("item_details", args_schema=ItemDetailsArgs)
async def item_details(item: str, *, runtime: ToolRuntime) -> str:
    """Describe one item: price, description, option groups with price differences, removable ingredients."""
    ctx = cast(TurnContext, runtime.context)
    locale = _locale(runtime)
    async with ctx.pool.connection() as conn:
        match = await resolve_item(conn, ctx.tenant.id, item, embedder_for(ctx))
        if match.status == "unknown":
            return ToolError(
                error="unknown_item",
                message=f"No menu item matches {item!r}; offer the suggestions.",
                item=item,
                suggestions=match.suggestions,
            ).model_dump_json()
        if match.status == "ambiguous" or match.item is None:
            return ToolError(
                error="ambiguous_item",
                message=f"Several items match {item!r}; ask which one.",
                item=item,
                suggestions=match.suggestions,
            ).model_dump_json()
        full = await menu_repo.by_sku(conn, ctx.tenant.id, match.item.sku)
    if full is None:
        return internal_error()
    return item_details_of(full, locale).model_dump_json()


@tool("opening_hours", args_schema=NoArgs)
async def opening_hours(*, runtime: ToolRuntime) -> str:
    """Whether the restaurant is open now, today's hours, the week's hours and the next opening."""
    ctx = cast(TurnContext, runtime.context)
    return hours_info(ctx.tenant.hours, ctx.tenant.timezone, ctx.clock()).model_dump_json()


def _customer(runtime: ToolRuntime[Any, Any]) -> CustomerInfo | None:
    st = runtime.state
    value = st.get("customer") if isinstance(st, dict) else getattr(st, "customer", None)
    return CustomerInfo.model_validate(value) if isinstance(value, dict) else value


class DeliveryFeeArgs(BaseModel):
    """Arguments of delivery_fee."""

    place: str | None = Field(
        None, description="The neighbourhood or CEP the customer asked about ('Moema', '05422-010'); empty for theirs."
    )
    runtime: Annotated[Any, InjectedToolArg] = Field(default=None, exclude=True)


def _asked_point(place: str) -> AddressPoint:
    cep = delivery.cep_digits(place)
    if len(cep) >= 5:
        return AddressPoint(neighborhood="", postal_code=cep)
    return AddressPoint(neighborhood=place)


@tool("delivery_fee", args_schema=DeliveryFeeArgs)
async def delivery_fee(place: str | None = None, *, runtime: ToolRuntime) -> str:
    """The delivery fee for a neighbourhood or CEP the customer asks about, else for their address; by area, every
    area and its fee when neither is known."""
    ctx = cast(TurnContext, runtime.context)
    locale = _locale(runtime)
    customer = _customer(runtime)
    asked = (place or "").strip()
    address_id = None if asked else delivery.chosen_address_id(customer)
    async with ctx.pool.connection() as conn:
        setup = await delivery_repo.setup(conn, ctx.tenant.id)
        if asked:
            quote = delivery.match(setup, _asked_point(asked), ctx.tenant.delivery_fee)
        else:
            quote = await delivery.quote(conn, ctx.tenant, address_id)
    fee = quote.fee if quote.delivers else None
    if asked:
        where: str | None = asked
    elif customer is not None:
        where = next((a.neighborhood for a in customer.addresses if a.id == address_id), None)
    else:
        where = None
    # a misspelt neighbourhood is asked about rather than refused; fuzzy-matching it silently would quote a fee
    # for a place the customer may not have meant
    by_cep = bool(asked and _asked_point(asked).postal_code)
    near = delivery.near_place(setup, asked) if asked and not by_cep and not quote.delivers else None
    # a CEP no area lists may still be in a listed neighbourhood: only a named place is known to be outside
    outside = quote.status == "outside" and not by_cep and near is None
    return DeliveryFeeInfo(
        fee=fee,
        fee_text=format_brl(fee, locale) if fee is not None else None,
        by_area=bool(setup.areas),
        area=quote.area,
        outside=outside,
        place=where,
        did_you_mean=near,
        areas=delivery.briefs(setup, locale),
    ).model_dump_json()


MENU_TOOLS: list[BaseTool] = [search_menu, item_details, opening_hours, delivery_fee]
