"""A simulated PIX payment started for an order, as the payment tool would: what the payment tests share."""

from __future__ import annotations

from decimal import Decimal

from memory.db import Pool
from memory.repos import payments as payments_repo
from memory.repos.payments import Payment
from memory.repos.tenants import Tenant
from tools.payments.provider import PaymentRequest
from tools.payments.simulated import SimulatedPayments


async def start_pix(
    pool: Pool, base: str, secret: bytes, tenant: Tenant, order_id: int, phone: str, amount: Decimal = Decimal("99.50")
) -> Payment:
    """Start a PIX payment of `amount` for the order on the simulated provider at `base`, and record it."""
    started = await SimulatedPayments(base, secret).start(
        PaymentRequest(
            tenant_id=tenant.id,
            order_id=order_id,
            amount=amount,
            method="pix",
            customer_name="Ana",
            customer_phone=phone,
            description=f"Pedido #{order_id}",
            merchant_name=tenant.name,
        )
    )
    async with pool.connection() as conn:
        return await payments_repo.insert_payment(
            conn,
            tenant_id=tenant.id,
            order_id=order_id,
            provider=started.provider,
            provider_ref=started.provider_ref,
            method="pix",
            amount=amount,
            pix_code=started.pix_code,
            pay_url=started.pay_url,
        )
