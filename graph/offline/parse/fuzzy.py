"""Fuzzy matching of what the customer typed against known names."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz

from graph.offline.parse.text import _NUMBER_WORDS, normalize

# ----------------------------------------------------------------------------- fuzzy matching


class FuzzyHit(BaseModel):
    """A candidate that matched a query, with its position in the input and a 0..100 score."""

    model_config = ConfigDict(frozen=True)

    candidate: str
    index: int
    score: float


_FUZZY_STOPWORDS = frozenset("de do da dos das com e the of and a o em no na with".split())
_FUZZY_NUMBERS: dict[str, str] = {w: str(v) for w, v in _NUMBER_WORDS.items() if v >= 2 and w != "cem"}
_PLURAL_RULES: tuple[tuple[str, str], ...] = (
    ("oes", "ao"), ("aes", "ao"), ("ais", "al"), ("eis", "el"), ("ois", "ol"), ("res", "r"),
    ("zes", "z"), ("ns", "m"),
)  # fmt: skip


def _singular(token: str) -> str:
    if len(token) < 4 or any(ch.isdigit() for ch in token):
        return token
    if len(token) >= 5:
        for suffix, repl in _PLURAL_RULES:
            if token.endswith(suffix):
                return token[: -len(suffix)] + repl
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _fuzzy_tokens(text: str) -> list[str]:
    norm = re.sub(r"[-/,+.@]", " ", normalize(text))
    tokens = [t for t in norm.split() if t not in _FUZZY_STOPWORDS]
    # "4 queijos" and "quatro queijos" are the same pizza
    return [_singular(_FUZZY_NUMBERS.get(t, t)) for t in tokens]


def _token_score(q: str, c: str) -> float:
    if q == c:
        return 100.0
    if len(q) >= 3 and c.startswith(q):
        return 80.0 + 15.0 * len(q) / len(c)
    if len(q) < 3 or len(c) < 3:
        return 0.0
    return float(fuzz.ratio(q, c))


def _match_score(qtoks: list[str], ctoks: list[str]) -> float:
    if not qtoks or not ctoks:
        return 0.0
    if "".join(qtoks) == "".join(ctoks):
        return 100.0
    # joined neighbours let "xsalada" meet "x salada" and "cocacola" meet "coca cola"
    extended = [(t, {j}) for j, t in enumerate(ctoks)]
    extended += [(ctoks[j] + ctoks[j + 1], {j, j + 1}) for j in range(len(ctoks) - 1)]
    total = 0.0
    covered: set[int] = set()
    for q in qtoks:
        best, best_cover = 0.0, set[int]()
        for c, cover in extended:
            s = _token_score(q, c)
            if s > best:
                best, best_cover = s, cover
        total += best
        if best >= 80:
            covered |= best_cover
    mean = total / len(qtoks)
    coverage = len(covered) / len(ctoks)
    return max(0.0, min(100.0, mean - 8.0 * (1.0 - coverage)))


def fuzzy_find(
    query: str,
    candidates: Sequence[str],
    *,
    limit: int = 5,
    cutoff: float = 60.0,
) -> list[FuzzyHit]:
    """Best menu-style matches for query: accent/case-insensitive, plural- and typo-tolerant."""
    qtoks = _fuzzy_tokens(query or "")
    if not qtoks or limit <= 0:
        return []
    hits: list[FuzzyHit] = []
    for index, candidate in enumerate(candidates):
        score = round(_match_score(qtoks, _fuzzy_tokens(candidate)), 2)
        if score >= cutoff:
            hits.append(FuzzyHit(candidate=candidate, index=index, score=score))
    hits.sort(key=lambda h: (-h.score, h.index))
    return hits[:limit]
