"""Money formatting: reais as customers read them ("R$ 32,90" in pt-BR, "R$ 32.90" in English)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    """Round to centavos, half up (how the POS rounds)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def format_brl(amount: Decimal, locale: str = "pt-BR") -> str:
    """Format an amount in reais with thousands separators for the locale."""
    value = to_cents(amount)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.2f}"  # 1,234.50
    if locale == "pt-BR":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{sign}R$ {text}"
