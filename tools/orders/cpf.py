"""The customer's CPF, which Asaas needs to charge: asked once, checked by its digits, saved."""

from __future__ import annotations

import logging

from stdnum.br import cpf as stdnum_cpf
from stdnum.exceptions import ValidationError

from memory.repos import customers as customer_repo
from tools.context import TurnContext
from tools.customers.models import CustomerInfo
from tools.orders.summary import require_customer

log = logging.getLogger(__name__)


async def saved_cpf(ctx: TurnContext, customer: CustomerInfo | None) -> str | None:
    """The customer's CPF as saved (asked once, then never again)."""
    if customer is None or customer.id is None:
        return None
    async with ctx.pool.connection() as conn:
        row = await customer_repo.by_id(conn, ctx.tenant.id, customer.id)
    return row.cpf if row else None


def valid_cpf(text: str) -> str | None:
    """The CPF's 11 digits when its check digits are right (python-stdnum), else None."""
    try:
        return str(stdnum_cpf.validate(text))
    except ValidationError:
        return None


async def save_cpf(ctx: TurnContext, customer: CustomerInfo | None, text: str) -> str | None:
    """Validate and save the customer's CPF; the digits, or None if it isn't a valid CPF."""
    known = require_customer(customer)
    cpf = valid_cpf(text)
    if cpf is None or known.id is None:
        return None
    async with ctx.pool.connection() as conn:
        await customer_repo.update_fields(conn, ctx.tenant.id, known.id, name=None, email=None, cpf=cpf)
    return cpf
