"""What a customer's memories change when they order: allergies stop an item until they confirm, and a standing
"sem cebola sempre" is applied to every item that can leave it out.

Allergens are matched on structure (the item's `allergens` and `tags` columns) and on the words of its name and
description, never by similarity: "camarão" must not match "caranguejo" by closeness, and must match "Pizza
Camarão com Catupiry" every time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from memory.db import Conn
from memory.repos import order_history
from tools.memory.extract import fold, subject_key
from tools.memory.service import MemoryNote, allergens_in

# the pending "choice" of an item held back by an allergy: the customer's next yes/no answers it
ALLERGY_GROUP = "__allergy__"


def _words(text: str) -> set[str]:
    return set(subject_key(text).split())


async def allergy_conflict(conn: Conn, tenant_id: int, sku: str, notes: Sequence[MemoryNote]) -> str | None:
    """The customer's allergen this item contains (as they said it), or None."""
    allergens = allergens_in(notes)
    if not allergens:
        return None
    cur = await conn.execute(
        "SELECT name, description, tags, allergens FROM menu_items WHERE tenant_id = %s AND sku = %s",
        (tenant_id, sku),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    labelled = {subject_key(a) for a in [*row["allergens"], *row["tags"]]}
    said = _words(f"{row['name']} {row['description']}")
    for allergen in allergens:
        key = subject_key(allergen)
        if key in labelled or (key and set(key.split()) <= said):
            return _spoken(notes, allergen)
    return None


async def held_in_last_order(
    conn: Conn, tenant_id: int, customer_id: int, notes: Sequence[MemoryNote]
) -> list[tuple[str, str]]:
    """The customer's last order's items that carry an allergen they told us about, each with that allergen (as they
    said it): what repeating the order would hold back, so offering it can say so before the customer says yes."""
    if not allergens_in(notes):
        return []  # no allergy told: nothing to hold, and no history to read
    held: list[tuple[str, str]] = []
    for line in await order_history.last_order_lines(conn, tenant_id, customer_id):
        allergen = await allergy_conflict(conn, tenant_id, line.sku, notes)
        if allergen is not None and all(line.name != name for name, _ in held):
            held.append((line.name, allergen))
    return held


def _spoken(notes: Sequence[MemoryNote], allergen: str) -> str:
    # "camarão" as the customer wrote it, not the folded key
    for n in notes:
        if n.kind == "allergy" and n.about == allergen:
            m = re.search(r"\b(?:a|ao|aos|as|de|com|to)\s+(.+)$", n.text, flags=re.IGNORECASE)
            if m and subject_key(m.group(1)) == allergen:
                return m.group(1).strip()
    return allergen


def standing_removals(removable: Sequence[str], notes: Sequence[MemoryNote]) -> list[str]:
    """The item's removable ingredients the customer always wants left out ("sem cebola sempre")."""
    always_without = {
        subject_key(n.about.removeprefix("sem "))
        for n in notes
        if n.kind == "preference" and n.about.startswith("sem ")
    }
    return [r for r in removable if subject_key(r) in always_without]


def is_yes(answer: str) -> bool:
    """Only a clear yes adds an item the customer is allergic to; anything else keeps it out."""
    words = fold(answer).split()
    return bool(words) and words[0].strip("!,.") in {"sim", "s", "pode", "yes", "y", "ok", "claro", "quero", "manda"}
