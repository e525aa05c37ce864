"""Folding text for comparisons, shared by every matcher (tools' and, through graph/language, the graph's)."""

from __future__ import annotations

from functools import lru_cache

from unidecode import unidecode


# the same few texts are folded many times a turn (every matcher starts with it): a pure function, cached
@lru_cache(maxsize=16_384)
def fold(text: str) -> str:
    """Lowercase ASCII without accents: "Açaí" → "acai", "São João" → "sao joao"."""
    return unidecode(text).lower()


_ACCENTS = str.maketrans("áàâãäéèêëíìîïóòôõöúùûüçñ", "aaaaaeeeeiiiiooooouuuucn")


def fold_in_place(text: str) -> str:
    """Lowercase without accents, one character for one: match positions map back to the original, and it folds
    as the SQL `fold_accents` that memories' tsvector columns are built with."""
    return text.lower().translate(_ACCENTS)
