"""Finding menu items from what customers type: typos, no accents, plurals, slang, diets and categories.

Hybrid search fuses three rankings by Reciprocal Rank Fusion (k = 60): fuzzy name matching (rapidfuzz), Postgres
full-text over name/category/description (an OR of the lexemes: websearch_to_tsquery ANDs them and recall
collapses), and pgvector similarity (HNSW, cosine) on every query that doesn't name an item outright — a name
match needs no embedding, and embedding a query costs more than the rest of the search. Diets are filters on
tags, never similarity.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz, process

from memory.db import Conn
from memory.embeddings import Embedder
from memory.repos import menu_search as repo
from memory.repos.menu_search import SearchRow
from tools.menu.matching import (
    STOPWORDS,
    NameMatch,
    Profile,
    category_named,
    detect_category,
    detect_tags,
    match_name,
    or_tsquery,
    singular,
    tag_named,
    tokens,
    words,
)
from tools.text import fold

RRF_K = 60
STRONG = 85  # a query whose tokens all match this well names an item: no need for embeddings
VECTOR_SPREAD = 0.025  # vector hits farther than this from the nearest one are noise
MARGIN = 10  # resolve: candidates within this many points of the best one compete
UNAVAILABLE_GAP = 5  # an unavailable item wins over available contenders only when it matches this much better


# ----------------------------------------------------------------------------- search


class SearchOutcome(BaseModel):
    """Items found (available first, unavailable only when named), the filters applied and all categories."""

    model_config = ConfigDict(frozen=True)

    items: list[SearchRow]
    tags: list[str] = []
    category: str | None = None
    categories: list[str] = []
    more: int = 0  # further matches left out by the limit
    overview: bool = False
    used_vectors: bool = False


def rrf(rankings: Sequence[Sequence[int]], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal Rank Fusion of id rankings (best first)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item_id in enumerate(ranking, start=1):
            scores[item_id] = scores.get(item_id, 0.0) + 1.0 / (k + rank)
    return scores


async def search(
    conn: Conn,
    tenant_id: int,
    query: str = "",
    *,
    category: str | None = None,
    tag: str | None = None,
    limit: int = 8,
    embedder: Embedder | None = None,
    per_category: int = 3,
) -> SearchOutcome:
    """Hybrid search of the tenant's menu; an empty query without filters gives an overview by category."""
    limit = max(1, min(limit, 50))
    rows = await repo.candidates(conn, tenant_id)
    cats = _categories(rows)
    tenant_tags = sorted({t for r in rows for t in r.tags})
    text = query.strip()
    tags: list[str] = [tag_named(tag, tenant_tags)] if tag else []
    cat: str | None = None
    if category:
        cat = category_named(category, cats)
        if cat is None:
            text = f"{text} {category}".strip()

    if text and not _names_an_item(text, rows):
        found_tags, text = detect_tags(text, tenant_tags)
        tags += [t for t in found_tags if t not in tags]
        if cat is None:
            cat, text = detect_category(text, cats)

    if not text and not tags and cat is None:
        return _overview(rows, cats, per_category)

    pool = [r for r in rows if all(t in r.tags for t in tags) and (cat is None or r.category == cat)]
    qtoks = tokens(text)
    if not qtoks:
        avail = [r for r in pool if r.available]
        return SearchOutcome(
            items=avail[:limit], tags=tags, category=cat, categories=cats, more=max(0, len(avail) - limit)
        )

    by_id = {r.id: r for r in pool}
    matches = {r.id: match_name(qtoks, Profile.of(r.name)) for r in pool}
    fuzzy = sorted(
        (i for i, m in matches.items() if m.hit),
        key=lambda i: (-matches[i].search_score, by_id[i].position),
    )
    fts: list[int] = []
    if tsq := or_tsquery(qtoks):
        fts = [i for i, _ in await repo.fts_ranked(conn, tenant_id, tsq, tags=tags, category=cat, limit=limit * 3)]
    strong = any(matches[i].query_cover >= STRONG and by_id[i].available for i in fuzzy)
    rankings: list[list[int]] = [fuzzy, fts]
    used_vectors = False
    if not strong and embedder is not None:
        vector = await asyncio.to_thread(embedder.query, text)
        near = await repo.nearest(conn, tenant_id, vector, tags=tags, category=cat, limit=limit)
        if near:
            # cosine distances from e5 bunch together: keep only the ones close to the best
            cutoff = near[0][1] + VECTOR_SPREAD
            rankings.append([i for i, d in near if d <= cutoff])
        used_vectors = True
    fused = rrf(rankings)
    ordered = sorted(fused, key=lambda i: (-fused[i], by_id[i].position if i in by_id else 0))
    # a customer naming an item wants that item first, not what the description index likes best; an
    # unavailable item they named comes next (flagged) so they hear "not today" rather than silence
    best = [by_id[i] for i in fuzzy if by_id[i].available and matches[i].query_cover >= STRONG]
    named_off = [by_id[i] for i in fuzzy if not by_id[i].available and matches[i].query_cover >= STRONG]
    rest = [by_id[i] for i in ordered if i in by_id and by_id[i].available and by_id[i] not in best]
    items = best + named_off + rest
    return SearchOutcome(
        items=items[:limit],
        tags=tags,
        category=cat,
        categories=cats,
        more=max(0, len(items) - limit),
        used_vectors=used_vectors,
    )


def _categories(rows: Sequence[SearchRow]) -> list[str]:
    seen: dict[str, None] = {}
    for r in sorted(rows, key=lambda r: r.position):
        seen.setdefault(r.category, None)
    return list(seen)


def _overview(rows: Sequence[SearchRow], cats: Sequence[str], per_category: int) -> SearchOutcome:
    items: list[SearchRow] = []
    for cat in cats:
        items += [r for r in rows if r.category == cat and r.available][:per_category]
    return SearchOutcome(items=items, categories=list(cats), overview=True)


def _names_an_item(text: str, rows: Sequence[SearchRow]) -> bool:
    # "veggie burger" or "x-burger" are names, not a diet plus a category
    qtoks = tokens(text)
    if not qtoks:
        return False
    for r in rows:
        m = match_name(qtoks, Profile.of(r.name))
        if m.query_cover >= 90 and m.name_cover == 1.0:
            return True
    return False


# ----------------------------------------------------------------------------- resolve one item


class ItemRef(BaseModel):
    """An item named by a resolution."""

    model_config = ConfigDict(frozen=True)

    sku: str
    name: str
    category: str
    available: bool


class Candidate(BaseModel):
    """One item the text may mean, with the words its name did not use."""

    model_config = ConfigDict(frozen=True)

    item: ItemRef
    score: float
    leftover: list[str] = []


class ItemMatch(BaseModel):
    """What a customer's words name: one item (`found`), several (`ambiguous`), or nothing (`unknown`)."""

    model_config = ConfigDict(frozen=True)

    status: Literal["found", "ambiguous", "unknown"]
    item: ItemRef | None = None
    leftover: list[str] = []  # words of the text the item's name did not use ("grande", "sem", "cebola")
    candidates: list[Candidate] = []  # the competing items (ambiguous), best first
    suggestions: list[str] = []  # names to offer the customer


def _ref(r: SearchRow) -> ItemRef:
    return ItemRef(sku=r.sku, name=r.name, category=r.category, available=r.available)


def _raw_words(text: str) -> list[str]:
    return [w for w in re.findall(r"\w+", text) if w.strip("_")]


def _leftover(raw: Sequence[str], consumed: set[int]) -> list[str]:
    if not consumed:
        return list(raw)
    first, last = min(consumed), max(consumed)
    out: list[str] = []
    for i, w in enumerate(raw):
        if i in consumed:
            continue
        is_stop = fold(w) in STOPWORDS
        # "uma pizza ..." and "frango com catupiry": stopwords before or inside the name belong to it
        if is_stop and (i < first or first < i < last):
            continue
        out.append(w)
    return out


async def resolve_item(conn: Conn, tenant_id: int, text: str, embedder: Embedder | None = None) -> ItemMatch:
    """Which item `text` means: sku, exact name, a clear fuzzy winner, or else the competing/closest items."""
    rows = await repo.candidates(conn, tenant_id)
    return await resolve_in(rows, text, embedder=embedder, conn=conn, tenant_id=tenant_id)


async def resolve_in(
    rows: Sequence[SearchRow],
    text: str,
    *,
    embedder: Embedder | None = None,
    conn: Conn | None = None,
    tenant_id: int | None = None,
) -> ItemMatch:
    """`resolve_item` over rows already read."""
    text = text.strip()
    if not text or not rows:
        return ItemMatch(status="unknown", suggestions=_closest(rows, text))
    upper = text.upper()
    for r in rows:
        if r.sku.upper() == upper:
            return ItemMatch(status="found", item=_ref(r))
    folded = " ".join(words(text))
    for r in rows:
        if " ".join(words(r.name)) == folded:
            return ItemMatch(status="found", item=_ref(r))

    cats = _categories(rows)
    cat, rest = detect_category(text, cats)
    if cat is not None and not tokens(rest):
        # "hamburguer", "uma pizza": a category, not an item; offer what it has
        return _category_listing(rows, cat)

    raw = _raw_words(text)
    # query tokens keep the index of the raw word they came from, to report the leftover words
    qidx = [(i, singular(fold(w))) for i, w in enumerate(raw) if fold(w) not in STOPWORDS]
    qtoks = [t for _, t in qidx]
    scored: list[tuple[SearchRow, NameMatch]] = []
    for r in rows:
        m = match_name(qtoks, Profile.of(r.name))
        if m.hit:
            scored.append((r, m))
    if not scored:
        if cat := category_named(text, cats):
            return _category_listing(rows, cat)
        return ItemMatch(status="unknown", suggestions=await _suggest(rows, text, embedder, conn, tenant_id))

    scored.sort(key=lambda rm: (-rm[1].resolve_score, not rm[0].available, rm[0].position))
    top = scored[0][1].resolve_score
    contenders = [(r, m) for r, m in scored if m.resolve_score >= top - MARGIN]
    contenders = _undominated(contenders)
    available = [(r, m) for r, m in contenders if r.available]
    if available:
        best_available = max(m.resolve_score for _, m in available)
        clearly_meant = [(r, m) for r, m in contenders if m.resolve_score >= best_available + UNAVAILABLE_GAP]
        # "pizza de camarão grande" means the (unavailable) shrimp pizza, not the available pizza combo that
        # only shares "pizza grande": say it's unavailable instead of picking something else
        contenders = clearly_meant or available

    def cand(r: SearchRow, m: NameMatch) -> Candidate:
        consumed = {qidx[i][0] for i in m.matched}
        return Candidate(item=_ref(r), score=round(m.resolve_score, 1), leftover=_leftover(raw, consumed))

    cands = [cand(r, m) for r, m in contenders]
    if len(cands) == 1:
        return ItemMatch(status="found", item=cands[0].item, leftover=cands[0].leftover, candidates=cands)
    return ItemMatch(status="ambiguous", candidates=cands[:8], suggestions=[c.item.name for c in cands[:8]])


def _category_listing(rows: Sequence[SearchRow], category: str) -> ItemMatch:
    in_cat = [r for r in rows if r.category == category and r.available][:8]
    return ItemMatch(
        status="ambiguous",
        candidates=[Candidate(item=_ref(r), score=0.0) for r in in_cat],
        suggestions=[r.name for r in in_cat],
    )


def _undominated(contenders: list[tuple[SearchRow, NameMatch]]) -> list[tuple[SearchRow, NameMatch]]:
    # "coca lata" means Coca-Cola lata, not Coca-Cola Zero lata: same words matched, and the other name only
    # adds words the customer didn't say
    def extra(r: SearchRow, m: NameMatch) -> set[str]:
        toks = Profile.of(r.name).tokens
        return {t for i, t in enumerate(toks) if i not in m.covered}

    out = []
    for r, m in contenders:
        mine = extra(r, m)
        dominated = any(
            set(m2.matched) >= set(m.matched) and extra(r2, m2) < mine
            for r2, m2 in contenders
            if r2.id != r.id and (r2.available or not r.available)
        )
        if not dominated:
            out.append((r, m))
    return out


def _closest(rows: Sequence[SearchRow], text: str, n: int = 3) -> list[str]:
    avail = [r for r in rows if r.available] or list(rows)
    if not text:
        return [r.name for r in avail[:n]]
    names = [fold(r.name) for r in avail]
    hits = process.extract(fold(text), names, scorer=fuzz.WRatio, limit=n)
    return [avail[idx].name for _, _, idx in hits]


async def _suggest(
    rows: Sequence[SearchRow], text: str, embedder: Embedder | None, conn: Conn | None, tenant_id: int | None
) -> list[str]:
    if embedder is None or conn is None or tenant_id is None:
        return _closest(rows, text)
    vector = await asyncio.to_thread(embedder.query, text)
    near = await repo.nearest(conn, tenant_id, vector, limit=10)
    by_id = {r.id: r for r in rows}
    names = [by_id[i].name for i, _ in near if i in by_id and by_id[i].available]
    return names[:3] or _closest(rows, text)
