"""Checkout progress and the current order, as kept in the conversation state."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

PaymentMethod = Literal["pix", "card", "cash"]


class Checkout(BaseModel):
    """Choices made towards placing the order; `awaiting_confirmation` once the summary was shown."""

    model_config = ConfigDict(frozen=True)

    address_id: int | None = None
    payment_method: PaymentMethod | None = None
    change_for: Decimal | None = None
    awaiting_confirmation: bool = False


class OrderInfo(BaseModel):
    """The order placed in this conversation and how to pay it."""

    model_config = ConfigDict(frozen=True)

    id: int
    status: str
    total: Decimal
    payment_method: PaymentMethod
    change_for: Decimal | None = None
    pix_code: str | None = None
    pay_url: str | None = None
