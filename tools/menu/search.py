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
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz, process
from unidecode import unidecode

from memory.db import Conn
from memory.embeddings import Embedder
from memory.repos import menu_search as repo
from memory.repos.menu_search import SearchRow

RRF_K = 60
MATCH = 80  # a query token "matches" a name token at this similarity (0-100)
STRONG = 85  # a query whose tokens all match this well names an item: no need for embeddings
VECTOR_SPREAD = 0.025  # vector hits farther than this from the nearest one are noise
MARGIN = 10  # resolve: candidates within this many points of the best one compete
UNAVAILABLE_GAP = 5  # an unavailable item wins over available contenders only when it matches this much better

# words that carry no meaning for matching names ("quero uma pizza de calabresa")
STOPWORDS = frozenset(
    "a o as os um uma uns umas de da do das dos e para pra pro por favor pf pfv quero queria gostaria "
    "me manda mande ve vê tem algo alguma algum que qual quais no na nos nas em ai aí oi ola the an of and "
    "with please want some any i like mais tambem também so só".split()
)
STOPWORDS = frozenset(unidecode(w) for w in STOPWORDS)
# words that tell "Água com gás" from "Água sem gás" but say little on their own
WEAK = frozenset({"com", "sem", "with", "without", "no"})
WEAK_WEIGHT = 0.25


def weight(token: str) -> float:
    """How much a token counts when matching names."""
    return WEAK_WEIGHT if token in WEAK else 1.0


# slang and English → words that appear in Brazilian menus; each alternative is tried, best kept
SYNONYMS: dict[str, tuple[str, ...]] = {
    "refri": ("refri", "refrigerante", "coca", "guarana"),
    "refrigerante": ("refrigerante", "refri", "coca", "guarana"),
    "soda": ("refrigerante", "coca", "guarana"),
    "coke": ("coca",),
    "breja": ("cerveja",),
    "cerva": ("cerveja",),
    "beer": ("cerveja",),
    "juice": ("suco",),
    "water": ("agua",),
    "fries": ("batata",),
    "hamburguer": ("hamburguer", "burger"),
    "hamburger": ("hamburguer", "burger"),
    "burguer": ("burger",),
    "lanche": ("burger",),
    "sanduiche": ("burger",),
    "xis": ("x",),
}

# words that name a category ("drinks" → Bebidas); values are singular folded category words
CATEGORY_ALIASES: dict[str, str] = {
    "drink": "bebida",
    "bebe": "bebida",
    "beverage": "bebida",
    "burger": "hamburguer",
    "burguer": "hamburguer",
    "hamburger": "hamburguer",
    "lanche": "hamburguer",
    "sanduiche": "hamburguer",
    "doce": "sobremesa",
    "dessert": "sobremesa",
    "petisco": "porcao",
    "side": "porcao",
    "pizza": "pizza",
}

# diets and labels in the customer's words → the tag (folded) they mean
_TAG_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (tag, re.compile(rf"\b(?:{pattern})\b"))
    for tag, pattern in (
        ("vegetariano", r"vegetarian[oa]s?|vegetarians?|veggies?|sem carne|meatless"),
        ("vegano", r"vegan[oa]s?|vegans?"),
        ("sem gluten", r"sem gluten|gluten free|celiac[oa]s?"),
        ("sem lactose", r"sem lactose|lactose free|zero lactose"),
        ("picante", r"picantes?|apimentad[oa]s?|spicy|hot|ardid[oa]s?"),
        ("zero acucar", r"zero acucar|sem acucar|sugar free|diet|zero"),
        ("mais vendido", r"mais vendid[oa]s?|mais pedid[oa]s?|best ?sellers?|populares|popular"),
    )
)
# how a tag is written when the tenant uses none of its spellings (the filter then finds nothing, honestly)
_TAG_DEFAULT = {"sem gluten": "sem glúten", "zero acucar": "zero açúcar"}


# ----------------------------------------------------------------------------- text


def fold(text: str) -> str:
    """Lowercase without accents ("Açaí" → "acai")."""
    return unidecode(text).lower()


def words(text: str) -> list[str]:
    """Folded alphanumeric words ("X-Salada!" → ["x", "salada"])."""
    return re.findall(r"[a-z0-9]+", fold(text))


def singular(token: str) -> str:
    """A rough Portuguese/English singular, applied alike to queries and names so plurals meet."""
    if len(token) <= 3 or token.isdigit():
        return token
    if token.endswith(("oes", "aes")):
        return token[:-3] + "ao"
    if token.endswith("ais"):
        return token[:-3] + "al"
    if token.endswith(("res", "zes", "ses")) and len(token) > 4:
        return token[:-2]
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokens(text: str) -> list[str]:
    """Folded, singular words without stopwords."""
    return [singular(w) for w in words(text) if w not in STOPWORDS]


def token_sim(q: str, n: str) -> float:
    """How well a query token matches a name token (0-100): exact, prefix ("refri" → "refrigerante"), or typo."""
    if q == n:
        return 100.0
    if len(q) >= 4 and n.startswith(q):
        return 90.0
    if len(q) < 3 or len(n) < 3:
        return 0.0
    return float(fuzz.ratio(q, n))


@dataclass(frozen=True)
class Profile:
    """A name prepared for matching: its tokens and joined neighbours ("x salada" → "xsalada")."""

    tokens: tuple[str, ...]
    units: tuple[tuple[str, frozenset[int]], ...]

    @staticmethod
    def of(name: str) -> Profile:
        """Prepare `name` (cached: menus are small and their names repeat in every search)."""
        return _profile(name)


@lru_cache(maxsize=4096)
def _profile(name: str) -> Profile:
    toks = tuple(tokens(name))
    raw = [w for w in words(name) if w not in STOPWORDS]
    units = [(t, frozenset({i})) for i, t in enumerate(toks)]
    units += [(raw[i] + raw[i + 1], frozenset({i, i + 1})) for i in range(len(raw) - 1)]
    return Profile(toks, tuple(units))


@dataclass
class NameMatch:
    """How a query's tokens fit one name."""

    query: list[str]
    sims: list[float]  # per query token, best similarity
    name_tokens: tuple[str, ...] = ()
    covered: set[int] = field(default_factory=set)  # name tokens matched by some query token

    @property
    def matched(self) -> list[int]:
        """Indexes of query tokens that matched."""
        return [i for i, s in enumerate(self.sims) if s >= MATCH]

    @property
    def hit(self) -> bool:
        """Whether a meaningful (not weak) query token matched."""
        return any(self.query[i] not in WEAK for i in self.matched)

    @property
    def query_cover(self) -> float:
        """0-100: how much of the query the name explains."""
        total = sum(weight(q) for q in self.query)
        if not total:
            return 0.0
        return sum(weight(q) * (s if s >= MATCH else 0.0) for q, s in zip(self.query, self.sims, strict=True)) / total

    @property
    def name_cover(self) -> float:
        """0-1: how much of the name the query mentions."""
        total = sum(weight(t) for t in self.name_tokens)
        return sum(weight(self.name_tokens[i]) for i in self.covered) / total if total else 0.0

    @property
    def search_score(self) -> float:
        """Ranking score for search."""
        return 0.85 * self.query_cover + 15.0 * self.name_cover

    @property
    def resolve_score(self) -> float:
        """Ranking score for picking one item: the name's coverage weighs more."""
        return 0.7 * self.query_cover + 30.0 * self.name_cover


def alternatives(token: str) -> tuple[str, ...]:
    """The token and its synonyms."""
    return SYNONYMS.get(token, (token,))


def match_name(query: Sequence[str], profile: Profile) -> NameMatch:
    """Match query tokens (already folded and singular) against a prepared name."""
    m = NameMatch(query=list(query), sims=[], name_tokens=profile.tokens)
    for q in query:
        best, best_cover = 0.0, frozenset[int]()
        for alt_i, alt in enumerate(alternatives(q)):
            penalty = 0.0 if alt_i == 0 and alt == q else 5.0
            for unit, cover in profile.units:
                s = token_sim(alt, unit) - penalty
                if s > best:
                    best, best_cover = s, cover
        m.sims.append(best)
        if best >= MATCH:
            m.covered |= best_cover
    return m


def or_tsquery(query_tokens: Sequence[str]) -> str:
    """An OR of the lexemes (prefix-matched from 3 letters) in to_tsquery syntax; '' when nothing is left."""
    lexemes: list[str] = []
    for tok in query_tokens:
        if tok in WEAK:
            continue
        for alt in alternatives(tok):
            lex = re.sub(r"[^a-z0-9]", "", alt)
            if not lex:
                continue
            lex = f"{lex}:*" if len(lex) >= 4 else lex
            if lex not in lexemes:
                lexemes.append(lex)
    return " | ".join(lexemes)


# ----------------------------------------------------------------------------- filters in the query


def detect_tags(text: str, tenant_tags: Sequence[str]) -> tuple[list[str], str]:
    """Tags named in `text` (as the tenant writes them) and the text without those words."""
    folded = " ".join(words(text))
    by_fold = {fold(t): t for t in tenant_tags}
    found: list[str] = []
    for tag, pattern in _TAG_PATTERNS:
        if pattern.search(folded):
            folded = pattern.sub(" ", folded)
            real = by_fold.get(tag, _TAG_DEFAULT.get(tag, tag))
            if real not in found:
                found.append(real)
    return found, " ".join(folded.split())


def tag_named(tag: str, tenant_tags: Sequence[str]) -> str:
    """The tenant's tag an explicit `tag` argument means ("vegetarian" → "vegetariano")."""
    found, _ = detect_tags(tag, tenant_tags)
    if found:
        return found[0]
    by_fold = {fold(t): t for t in tenant_tags}
    hit = process.extractOne(fold(tag), list(by_fold), scorer=fuzz.ratio, score_cutoff=80)
    return by_fold[hit[0]] if hit else tag


def category_named(text: str, categories: Sequence[str]) -> str | None:
    """The category a word or phrase names ("bebidas", "drinks", "lanches" → "Hambúrgueres"), if any."""
    for tok in tokens(text):
        found = _category_of_token(tok, categories)
        if found:
            return found
    return None


def _category_of_token(tok: str, categories: Sequence[str]) -> str | None:
    target = CATEGORY_ALIASES.get(tok, tok)
    for cat in categories:
        if any(token_sim(target, ct) >= 88 and len(target) >= 4 for ct in tokens(cat)):
            return cat
    return None


def detect_category(text: str, categories: Sequence[str]) -> tuple[str | None, str]:
    """The first category named in `text` and the text without that word."""
    kept: list[str] = []
    found: str | None = None
    for w in words(text):
        if found is None and w not in STOPWORDS and (cat := _category_of_token(singular(w), categories)):
            found = cat
            continue
        kept.append(w)
    return found, " ".join(kept)


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
