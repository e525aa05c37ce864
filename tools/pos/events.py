"""The event contract with a restaurant's point of sale (version 1).

Every message on a store's FIFO queue is one of these models as JSON. Their JSON Schemas are exported to
docs/events/ (`python -m tools.pos.events --write`), and tests/test_events_schema.py fails when they drift.
Delivery is at-least-once: a consumer must drop an `event_id` it has already processed.

Outbox rows keep what the writer knew (orders, payments and the state machine write their own payloads); the
relay turns a row into its contract event with `render()` when it publishes, reading the order's lines, totals and
address as one snapshot. The order's `status` in that snapshot is the state the event put it in, not whatever it
is by the time the relay runs.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from memory.repos.outbox import OutboxEvent

VERSION = 1
SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "events"

Money = Annotated[str, Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", description="BRL as a decimal string, e.g. 101.50")]
PaymentMethod = Literal["pix", "card", "cash"]
OrderStatus = Literal[
    "placed",
    "awaiting_payment",
    "paid",
    "accepted",
    "preparing",
    "out_for_delivery",
    "delivered",
    "cancelled",
    "refunded",
]


class _Model(BaseModel):
    # a POS integrator reads the schema: unknown fields are a contract change, not noise
    model_config = ConfigDict(frozen=True, extra="forbid")


class LineOption(_Model):
    """A chosen option of a line ("Tamanho: Grande", +16.00)."""

    group: str
    choice: str
    price_delta: Money


class OrderLine(_Model):
    """One line of an order, priced when it was placed."""

    sku: str
    name: str
    qty: int = Field(ge=1)
    unit_price: Money
    line_total: Money
    options: list[LineOption] = []
    removed: list[str] = Field(default=[], description='ingredients the customer asked to leave out ("cebola")')


class DeliveryAddress(_Model):
    """Where the order goes, as it was when it was placed."""

    street: str
    number: str
    complement: str | None = None
    neighborhood: str
    city: str
    state: str
    postal_code: str | None = None
    reference: str | None = None


class CustomerRef(_Model):
    """Who ordered."""

    customer_id: int
    name: str | None
    phone: str = Field(description="E.164")


class OrderSnapshot(_Model):
    """The order as the kitchen needs it."""

    order_id: int
    status: OrderStatus = Field(description="the state this event put the order in")
    customer: CustomerRef
    address: DeliveryAddress | None
    lines: list[OrderLine]
    subtotal: Money
    delivery_fee: Money
    total: Money
    payment_method: PaymentMethod
    change_for: Money | None = Field(None, description="cash orders: the note the customer pays with")
    placed_at: datetime


class PaymentInfo(_Model):
    """The payment that settled an order (absent when staff marked it paid by hand)."""

    payment_id: int
    provider: str
    provider_ref: str
    method: PaymentMethod
    amount: Money
    paid_at: datetime


class CustomerSnapshot(_Model):
    """A registered customer."""

    customer_id: int
    phone: str = Field(description="E.164")
    name: str | None
    email: str | None
    default_address: DeliveryAddress | None


class _Event(_Model):
    event_id: uuid.UUID = Field(description="unique per event: drop one you have already processed")
    version: Literal[1] = 1
    occurred_at: datetime
    tenant_id: int
    store: str = Field(description="the restaurant's slug; also the SQS MessageGroupId")


class OrderPlaced(_Event):
    """A customer confirmed an order (cash orders are ready to cook; pix/card ones wait for `order.paid`)."""

    type: Literal["order.placed"] = "order.placed"
    order: OrderSnapshot


class OrderPaid(_Event):
    """An order's payment arrived: the kitchen may start it."""

    type: Literal["order.paid"] = "order.paid"
    order: OrderSnapshot
    payment: PaymentInfo | None


class _Move(_Event):
    order: OrderSnapshot
    from_status: OrderStatus
    actor: str = Field(description='who moved it: "customer", "staff:<name>", "pos", "asaas", "system"')
    reason: str | None = None


class OrderStatusChanged(_Move):
    """An order moved along its life (preparing, out_for_delivery, delivered, back to placed when paid cash...)."""

    type: Literal["order.status_changed"] = "order.status_changed"
    to_status: OrderStatus
    payment_method_changed: bool = Field(False, description="the customer switched how they pay")


class OrderCancelled(_Move):
    """An order was cancelled; `reason` says why."""

    type: Literal["order.cancelled"] = "order.cancelled"


class OrderRefunded(_Move):
    """An order's payment was given back."""

    type: Literal["order.refunded"] = "order.refunded"


class CustomerCreated(_Event):
    """A customer registered."""

    type: Literal["customer.created"] = "customer.created"
    customer: CustomerSnapshot


class CustomerUpdated(_Event):
    """A customer changed their data; `changed` names the fields."""

    type: Literal["customer.updated"] = "customer.updated"
    customer: CustomerSnapshot
    changed: list[Literal["name", "email", "default_address"]]


PosEvent = Annotated[
    OrderPlaced | OrderPaid | OrderStatusChanged | OrderCancelled | OrderRefunded | CustomerCreated | CustomerUpdated,
    Field(discriminator="type"),
]
POS_EVENT: TypeAdapter[PosEvent] = TypeAdapter(PosEvent)
EVENT_MODELS: dict[str, type[_Event]] = {
    "order.placed": OrderPlaced,
    "order.paid": OrderPaid,
    "order.status_changed": OrderStatusChanged,
    "order.cancelled": OrderCancelled,
    "order.refunded": OrderRefunded,
    "customer.created": CustomerCreated,
    "customer.updated": CustomerUpdated,
}


class StatusUpdate(_Model):
    """A status update the POS sends back on the store's second FIFO queue (POS → Comanda)."""

    update_id: str = Field(min_length=1, max_length=128, description="unique per update: a resend changes nothing")
    order_id: int
    status: Literal["accepted", "preparing", "out_for_delivery", "delivered", "rejected"]
    reason: str | None = Field(None, max_length=500, description="required when rejected: the customer reads it")
    occurred_at: datetime | None = None


class UnrenderableEvent(Exception):
    """An outbox row that can't become a contract event (its order is gone, an unknown type)."""


def schemas() -> dict[str, dict[str, Any]]:
    """File name → JSON Schema of every event, plus the POS's status update."""
    out = {f"{name}.v{VERSION}.json": model.model_json_schema() for name, model in EVENT_MODELS.items()}
    out[f"pos.status_update.v{VERSION}.json"] = StatusUpdate.model_json_schema()
    return out


def schema_text(schema: dict[str, Any]) -> str:
    """A schema as written to disk (stable, so a diff shows a contract change)."""
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Regenerate docs/events/*.json; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(schema_text(schema), encoding="utf-8")
        written.append(path)
    return written


def render(row: OutboxEvent, store: str, order: dict[str, Any] | None) -> PosEvent:
    """The contract event of an outbox row; `order` is the order's snapshot row (`outbox.order_snapshots`)."""
    base: dict[str, Any] = {
        "event_id": row.event_id,
        "occurred_at": row.created_at,
        "tenant_id": row.tenant_id,
        "store": store,
    }
    p = row.payload
    if row.event_type.startswith("customer."):
        # customer events are written in their contract shape already (tools/customers/service.py)
        return POS_EVENT.validate_python({**p, **base, "type": row.event_type})
    if not row.event_type.startswith("order."):
        raise UnrenderableEvent(f"outbox event type {row.event_type!r} has no POS contract")
    if order is None:
        raise UnrenderableEvent(f"order {row.aggregate_id} of outbox row {row.id} no longer exists")
    kind = row.event_type.removeprefix("order.")
    moved = "from" in p  # written by the state machine (tools/orders/lifecycle.py)
    if row.event_type == "order.payment_changed":
        status = p.get("status") or order["status"]
        snap = _snapshot(order, status, payment_method=p.get("payment_method"), change_for=p.get("change_for"))
        return OrderStatusChanged(
            **base,
            order=snap,
            from_status=status,
            to_status=status,
            actor="customer",
            payment_method_changed=True,
        )
    if kind == "placed" and not moved:
        return OrderPlaced(**base, order=_snapshot(order, p.get("status") or "placed"))
    if kind == "paid":
        payment = None
        if "payment_id" in p:
            payment = PaymentInfo(
                payment_id=p["payment_id"],
                provider=p["provider"],
                provider_ref=p["provider_ref"],
                method=p["method"],
                amount=p["amount"],
                paid_at=p["paid_at"],
            )
        return OrderPaid(**base, order=_snapshot(order, "paid"), payment=payment)
    if not moved:
        raise UnrenderableEvent(f"outbox row {row.id} ({row.event_type}) is not a move of the state machine")
    move = {
        **base,
        "order": _snapshot(order, p["to"]),
        "from_status": p["from"],
        "actor": p.get("actor") or "system",
        "reason": p.get("reason"),
    }
    if kind == "cancelled":
        return OrderCancelled(**move)
    if kind == "refunded":
        return OrderRefunded(**move)
    return OrderStatusChanged(**move, to_status=p["to"])


def _money(value: Any) -> str:
    return f"{value:.2f}" if not isinstance(value, str) else value


def _snapshot(
    order: dict[str, Any], status: str, *, payment_method: str | None = None, change_for: Any = None
) -> OrderSnapshot:
    address = order.get("address") or None
    cf = change_for if payment_method else order.get("change_for")
    return OrderSnapshot.model_validate(
        {
            "order_id": order["id"],
            "status": status,
            "customer": {
                "customer_id": order["customer_id"],
                "name": order.get("customer_name"),
                "phone": order["customer_phone"],
            },
            "address": {k: v for k, v in address.items() if k in DeliveryAddress.model_fields} if address else None,
            "lines": [
                {
                    "sku": ln["sku"],
                    "name": ln["name"],
                    "qty": ln["qty"],
                    "unit_price": _money(ln["unit_price"]),
                    "line_total": _money(ln["line_total"]),
                    "options": [
                        {"group": o["group"], "choice": o["choice"], "price_delta": _money(o.get("price_delta", 0))}
                        for o in ln.get("options") or []
                    ],
                    "removed": ln.get("removed") or [],
                }
                for ln in order.get("lines") or []
            ],
            "subtotal": _money(order["subtotal"]),
            "delivery_fee": _money(order["delivery_fee"]),
            "total": _money(order["total"]),
            "payment_method": payment_method or order["payment_method"],
            "change_for": _money(cf) if cf is not None else None,
            "placed_at": order["created_at"],
        }
    )


def customer_snapshot(
    *, customer_id: int, phone: str, name: str | None, email: str | None, address: dict[str, Any] | None
) -> CustomerSnapshot:
    """A customer as the POS receives it."""
    addr = {k: v for k, v in address.items() if k in DeliveryAddress.model_fields} if address else None
    return CustomerSnapshot(
        customer_id=customer_id,
        phone=phone,
        name=name,
        email=email,
        default_address=DeliveryAddress.model_validate(addr) if addr else None,
    )


def main(argv: list[str]) -> int:
    """`python -m tools.pos.events --write` regenerates docs/events/; `--check` exits 1 if they are stale."""
    if "--write" in argv:
        for path in write_schemas():
            print(path)
        return 0
    stale = [n for n, s in schemas().items() if _read(SCHEMA_DIR / n) != schema_text(s)]
    for name in stale:
        print(f"stale: docs/events/{name} (run: python -m tools.pos.events --write)")
    return 1 if stale else 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
