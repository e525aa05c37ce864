"""Hybrid recall of a customer's memories: vector and full-text rankings run apart, fused by RRF (k = 60).

Full text ORs the lexemes (`websearch_to_tsquery` ANDs every word, and "tem algo com camarão pra mim?" would
then match nothing). Which text-search configuration wins was measured by `comanda bench memory` (README, Memory).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

from memory.db import Conn
from memory.embeddings import Embedder
from memory.repos import memories as repo
from memory.repos.memories import MemoryRow, TextConfig
from tools.text import fold_in_place as fold

RRF_K = 60
DEFAULT_CONFIG: TextConfig = "simple"
Mode = Literal["hybrid", "vector", "text"]

# words that say nothing about which memory is meant
STOPWORDS = frozenset(
    "a o as os um uma uns umas de da do das dos e em no na nos nas para pra pro por com que qual quais "
    "eu me meu minha meus minhas voce voces ele ela isso esse essa aquele aquela tem ter foi era e eh "
    "sobre algo alguma algum como quando onde mesmo ja nao sim mais muito pouco the an of and to in on at "
    "is are was my me i you it what which do does did for with about".split()
)


class Recalled(BaseModel):
    """A memory found for a query, with its fused score (higher is better)."""

    model_config = ConfigDict(frozen=True)

    memory: MemoryRow
    score: float


def or_tsquery(text: str) -> str:
    """The query's meaningful words ORed, prefix-matched from 4 letters ('camarao:* | pizza:*'); '' if none."""
    lexemes: list[str] = []
    for word in re.findall(r"[a-z0-9]+", fold(text)):
        if word in STOPWORDS or len(word) < 2:
            continue
        lex = f"{word}:*" if len(word) >= 4 else word
        if lex not in lexemes:
            lexemes.append(lex)
    return " | ".join(lexemes)


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal Rank Fusion of id rankings (best first): sum of 1 / (k + rank)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item_id in enumerate(ranking, start=1):
            scores[item_id] = scores.get(item_id, 0.0) + 1.0 / (k + rank)
    return scores


async def recall(
    conn: Conn,
    tenant_id: int,
    phone: str,
    query: str,
    *,
    embedder: Embedder | None,
    limit: int = 5,
    mode: Mode = "hybrid",
    config: TextConfig = DEFAULT_CONFIG,
    vector: Sequence[float] | None = None,
) -> list[Recalled]:
    """The customer's current memories that best match `query`, best first (`vector` skips embedding it)."""
    depth = max(limit * 4, 20)
    rankings: list[list[int]] = []
    async with conn.transaction():
        if mode in ("hybrid", "vector") and (vector is not None or embedder is not None):
            if vector is None:
                assert embedder is not None
                vector = await asyncio.to_thread(embedder.query, query)
            near = await repo.nearest(conn, tenant_id, phone, vector, limit=depth)
            rankings.append([i for i, _ in near])
        if mode in ("hybrid", "text") and (tsq := or_tsquery(query)):
            rankings.append(
                [i for i, _ in await repo.fts_ranked(conn, tenant_id, phone, tsq, config=config, limit=depth)]
            )
        fused = rrf(rankings)
        best = sorted(fused, key=lambda i: (-fused[i], -i))[:limit]
        rows = await repo.by_ids(conn, tenant_id, best)
    return [Recalled(memory=rows[i], score=fused[i]) for i in best if i in rows and rows[i].phone == phone]
