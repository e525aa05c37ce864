"""The orders board: columns by state, an order's page and kitchen ticket, moves through the state machine."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from memory.repos import customers as customer_repo
from memory.repos import orders as order_repo
from memory.repos.orders import OrderListRow
from server.console.deps import ConsoleDeps
from server.console.pages import (
    Checked,
    ConsoleView,
    Deps,
    View,
    page,
)
from tools.orders import lifecycle
from tools.orders.lifecycle import IllegalTransition, OrderNotFound, OrderState


def orders_router() -> APIRouter:
    """The orders board: columns by state, an order's page and kitchen ticket, moves through the state machine."""
    router = APIRouter()

    @router.get("/orders", response_class=HTMLResponse)
    async def orders_page(request: Request, deps: Deps, view: View) -> Response:
        return page(request, "orders.html", view, columns=await _board(deps, view), moves=BOARD_MOVES)

    @router.get("/orders/board", response_class=HTMLResponse)
    async def orders_board(request: Request, deps: Deps, view: View) -> Response:
        return page(request, "_board.html", view, columns=await _board(deps, view), moves=BOARD_MOVES)

    @router.get("/orders/{order_id}", response_class=HTMLResponse)
    async def order_page(request: Request, deps: Deps, view: View, order_id: int) -> Response:
        return page(request, "order.html", view, **await _order_context(deps, view, order_id))

    @router.get("/orders/{order_id}/print", response_class=HTMLResponse)
    async def order_print(request: Request, deps: Deps, view: View, order_id: int) -> Response:
        return page(request, "kitchen.html", view, **await _order_context(deps, view, order_id))

    @router.post("/orders/{order_id}/move")
    async def move(request: Request, deps: Deps, view: Checked, order_id: int, to: Annotated[str, Form()]) -> Response:
        if to not in lifecycle.STATES:
            raise HTTPException(400, f"{to!r} is not an order state")
        actor = f"staff:{view.session.name}"
        try:
            if to == "cancelled":
                await lifecycle.cancel(
                    deps.pool,
                    view.tenant.id,
                    order_id,
                    actor=actor,
                    reason=view.t("cancel_reason"),
                    notifier=deps.channel,
                )
            else:
                state: OrderState = to
                await lifecycle.transition(
                    deps.pool, view.tenant.id, order_id, state, actor=actor, notifier=deps.channel
                )
        except OrderNotFound:
            raise HTTPException(404, "no such order") from None
        except IllegalTransition:
            raise HTTPException(409, view.t("illegal_move")) from None
        if request.headers.get("HX-Request"):
            return page(request, "_board.html", view, columns=await _board(deps, view), moves=BOARD_MOVES)
        return RedirectResponse("/console/orders", status_code=303)

    return router


BOARD_COLUMNS: dict[str, tuple[str, ...]] = {
    "awaiting_payment": ("awaiting_payment",),
    "new": ("placed", "paid", "accepted"),
    "preparing": ("preparing",),
    "out_for_delivery": ("out_for_delivery",),
    "done": ("delivered", "cancelled", "refunded"),
}
# the buttons an order card offers, by state (the state machine still decides)
BOARD_MOVES: dict[str, tuple[OrderState, ...]] = {
    "placed": ("preparing", "cancelled"),
    "awaiting_payment": ("cancelled",),
    "paid": ("preparing", "cancelled"),
    "accepted": ("preparing", "cancelled"),
    "preparing": ("out_for_delivery", "cancelled"),
    "out_for_delivery": ("delivered",),
}


async def _board(deps: ConsoleDeps, view: ConsoleView) -> dict[str, list[OrderListRow]]:
    async with deps.pool.connection() as conn:
        recent = await order_repo.list_recent(conn, view.tenant.id, limit=200)
    columns: dict[str, list[OrderListRow]] = {name: [] for name in BOARD_COLUMNS}
    for order in sorted(recent, key=lambda o: (o.created_at, o.id)):
        for name, states in BOARD_COLUMNS.items():
            if order.status in states:
                columns[name].append(order)
    columns["done"] = columns["done"][-20:]
    return columns


async def _order_context(deps: ConsoleDeps, view: ConsoleView, order_id: int) -> dict[str, Any]:
    async with deps.pool.connection() as conn:
        order = await order_repo.by_id(conn, view.tenant.id, order_id)
        if order is None:
            raise HTTPException(404, "no such order")
        lines = await order_repo.items(conn, view.tenant.id, order_id)
        customer = await customer_repo.by_id(conn, view.tenant.id, order.customer_id)
    return {"order": order, "lines": lines, "customer": customer, "moves": BOARD_MOVES}
