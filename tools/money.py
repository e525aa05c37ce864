"""Money formatting: reais as customers read them ("R$ 32,90" in pt-BR, "R$ 32.90" in English)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class NotMoney(ValueError):
    """An amount no one could pay: not a number, infinite, or with more digits than centavos can be counted in."""


def to_cents(amount: Decimal) -> Decimal:
    """Round to centavos, half up (how the POS rounds); NotMoney for NaN, infinities and amounts like 1e30."""
    if not amount.is_finite():
        raise NotMoney(f"{amount} is not an amount of money")
    try:
        return amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:  # the centavos need more digits than the decimal context's 28
        raise NotMoney(f"{amount} is too large to be an amount of money") from exc


def format_brl(amount: Decimal, locale: str = "pt-BR") -> str:
    """Format an amount in reais with thousands separators for the locale."""
    value = to_cents(amount)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.2f}"  # 1,234.50
    if locale == "pt-BR":
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return f"{sign}R$ {text}"
