"""Matching what customers type against menu names: folding, plurals, slang, typos, diets and categories."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process
from unidecode import unidecode

from tools.text import fold

MATCH = 80  # a query token "matches" a name token at this similarity (0-100)

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
