"""The payment provider interface checkout uses: start a payment for an order, get back how to pay it."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Protocol

from pydantic import BaseModel


class PaymentRequest(BaseModel):
    """What a provider needs to start charging an order (amount in reais, already rounded to centavos)."""

    tenant_id: int
    order_id: int
    amount: Decimal
    method: Literal["pix", "card"]
    customer_name: str
    customer_phone: str
    description: str
    # shown by the payer's bank app in a PIX code; providers fall back to their own when empty
    merchant_name: str = ""
    merchant_city: str = ""
    # who pays, for providers that keep customers (Asaas needs the CPF to charge)
    customer_id: int | None = None
    customer_cpf: str | None = None


class PaymentStart(BaseModel):
    """A started payment: the provider's reference and how the customer pays (PIX code and/or a page)."""

    provider: str
    provider_ref: str
    pix_code: str | None = None
    pay_url: str | None = None


class PaymentProvider(Protocol):
    """A payment provider (simulated, Asaas): starts payments; its webhook settles them later."""

    name: str

    async def start(self, request: PaymentRequest) -> PaymentStart: ...
