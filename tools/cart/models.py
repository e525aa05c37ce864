"""The cart as kept in the conversation state. Prices here are informative: checkout re-reads the database."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict


class ChosenOption(BaseModel):
    """One chosen option of a line, with the price delta read from the menu when it was added."""

    model_config = ConfigDict(frozen=True)

    group: str
    choice: str
    price_delta: Decimal


class CartLine(BaseModel):
    """A cart line: an item, how many, which options, which ingredients removed, and its prices."""

    model_config = ConfigDict(frozen=True)

    line_id: int
    sku: str
    name: str
    qty: int
    options: list[ChosenOption] = []
    removed: list[str] = []
    unit_price: Decimal
    line_total: Decimal


class Cart(BaseModel):
    """The lines, and a revision that changes with every edit (checkout idempotency keys on it)."""

    model_config = ConfigDict(frozen=True)

    lines: list[CartLine] = []
    revision: int = 0
    next_line_id: int = 1

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to order."""
        return not self.lines


class PendingLine(BaseModel):
    """An item the customer asked for that still needs a choice (e.g. the size), waiting for their answer."""

    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    qty: int
    options: list[ChosenOption] = []
    removed: list[str] = []
    missing_group: str
    choices: list[str] = []
    # more lines held back with this one by an allergy (a repeated order's): the one yes/no answers them all, so
    # none is left out unasked
    also: list[PendingLine] = []
