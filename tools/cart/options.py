"""Reading an item's choices and removals from the customer's words ("grande, borda de catupiry, sem cebola")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from memory.repos.menu import MenuItem, OptionChoice, OptionGroup
from tools.cart.errors import CartError
from tools.cart.errors import fail as _fail
from tools.cart.models import ChosenOption
from tools.menu.matching import STOPWORDS, Profile, match_name, tokens
from tools.text import fold

# words customers wrap choices in ("borda de catupiry", "com bacon", "bacon extra"); dropped only when needed
FILLERS = frozenset({"borda", "com", "de", "extra", "adicional", "adicionais", "tamanho", "molho", "mais", "c"})


@dataclass
class Picks:
    """Choices and removals read from the customer's words."""

    options: list[ChosenOption] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def chosen(group: OptionGroup, choice: OptionChoice) -> ChosenOption:
    return ChosenOption(group=group.group, choice=choice.name, price_delta=choice.price)


def _full_match(toks: Sequence[str], groups: Sequence[OptionGroup]) -> tuple[OptionGroup, OptionChoice] | None:
    """The choice every token fits (its name, or group + name: "borda catupiry"), best coverage first."""
    if not toks:
        return None
    best: tuple[float, OptionGroup, OptionChoice] | None = None
    for g in groups:
        for c in g.choices:
            for target in (c.name, f"{g.group} {c.name}"):
                m = match_name(toks, Profile.of(target))
                if len(m.matched) != len(toks):
                    continue
                score = m.query_cover + 20.0 * m.name_cover
                if best is None or score > best[0]:
                    best = (score, g, c)
    return (best[1], best[2]) if best else None


def match_choice(phrase: str, groups: Sequence[OptionGroup]) -> tuple[OptionGroup, OptionChoice] | None:
    """The one choice a short phrase names, if any ("grande", "borda de catupiry", "com bacon")."""
    toks = tokens(phrase)
    hit = _full_match(toks, groups)
    if hit is None:
        stripped = [t for t in toks if t not in FILLERS]
        if stripped and stripped != toks:
            hit = _full_match(stripped, groups)
    return hit


def match_removal(phrase: str, item: MenuItem) -> str | None:
    """The removable ingredient a phrase names ("sem cebola" → "cebola", "tomates" → "tomate")."""
    toks = [t for t in tokens(phrase) if t not in ("sem", "tirar", "tira", "without", "no")]
    if not toks:
        return None
    best: tuple[float, str] | None = None
    for r in item.removable:
        m = match_name(toks, Profile.of(r))
        if len(m.matched) == len(toks):
            score = m.query_cover + 20.0 * m.name_cover
            if best is None or score > best[0]:
                best = (score, r)
    return best[1] if best else None


def segment(ws: Sequence[str], item: MenuItem, picks: Picks) -> list[str]:
    """Read choices and "sem ..." removals from a run of words; returns the words that meant nothing."""
    unmatched: list[str] = []
    folded = [fold(w) for w in ws]
    i, n = 0, len(ws)
    while i < n:
        span = _longest_choice(ws, i, item.options)
        if span is not None:
            j, g, c = span
            picks.options.append(chosen(g, c))
            i = j
            continue
        if folded[i] in ("sem", "without", "tirar", "tira"):
            j = i + 1
            while j < n and folded[j] not in ("sem", "com", "with", "mais", "without"):
                j += 1
            for piece in re.split(r"\b(?:e|nem|and|,)\b", " ".join(ws[i + 1 : j])):
                if not piece.strip():
                    continue
                found = match_removal(piece, item)
                if found is None:
                    raise _invalid_removal(piece.strip(), item)
                picks.removed.append(found)
            i = j
            continue
        if folded[i] in STOPWORDS or folded[i] in FILLERS or folded[i].isdigit():
            i += 1
            continue
        unmatched.append(ws[i])
        i += 1
    return unmatched


def _longest_choice(
    ws: Sequence[str], i: int, groups: Sequence[OptionGroup]
) -> tuple[int, OptionGroup, OptionChoice] | None:
    n = len(ws)
    for j in range(min(n, i + 4), i, -1):
        hit = _full_match(tokens(" ".join(ws[i:j])), groups)
        if hit:
            return j, hit[0], hit[1]
    for j in range(min(n, i + 4), i, -1):
        last = fold(ws[j - 1])
        if last in FILLERS or last in STOPWORDS:
            continue  # stripping must not swallow the next choice's "borda"
        hit = match_choice(" ".join(ws[i:j]), groups)
        if hit:
            return j, hit[0], hit[1]
    return None


def _likely_group(phrase: str, item: MenuItem) -> OptionGroup | None:
    toks = tokens(phrase)
    for g in item.options:
        if any(t in tokens(g.group) for t in toks):
            return g
    best: tuple[float, OptionGroup] | None = None
    for g in item.options:
        for c in g.choices:
            score = match_name(toks, Profile.of(c.name)).query_cover
            if score > 0 and (best is None or score > best[0]):
                best = (score, g)
    return best[1] if best else (item.options[0] if len(item.options) == 1 else None)


def _invalid_option(phrase: str, item: MenuItem) -> CartError:
    g = _likely_group(phrase, item)
    if not item.options:
        return _fail(
            "invalid_option", f"{item.name} has no options; {phrase!r} can't be chosen.", item=item.name, option=phrase
        )
    if g is not None:
        return _fail(
            "invalid_option",
            f"{item.name} has no option {phrase!r}. The choices for {g.group} are in suggestions.",
            item=item.name,
            option=phrase,
            group=g.group,
            suggestions=[c.name for c in g.choices],
        )
    return _fail(
        "invalid_option",
        f"{item.name} has no option {phrase!r}. Its choices are in suggestions.",
        item=item.name,
        option=phrase,
        suggestions=[c.name for grp in item.options for c in grp.choices],
    )


def _invalid_removal(phrase: str, item: MenuItem) -> CartError:
    if not item.removable:
        return _fail("invalid_option", f"Nothing can be removed from {item.name}.", item=item.name)
    return _fail(
        "invalid_option",
        f"{phrase!r} can't be removed from {item.name}; the removable ingredients are in suggestions.",
        item=item.name,
        option=phrase,
        suggestions=list(item.removable),
    )


def read_picks(item: MenuItem, options: Sequence[str], removals: Sequence[str], leftover: Sequence[str]) -> Picks:
    """Choices and removals from the option phrases, the removal phrases and the item text's leftover words."""
    picks = Picks()
    for phrase in options:
        if not phrase.strip():
            continue
        hit = match_choice(phrase, item.options)
        if hit:
            picks.options.append(chosen(*hit))
            continue
        ws = re.findall(r"\w+", phrase)
        if ws and fold(ws[0]) in ("sem", "without") and (found := match_removal(phrase, item)):
            picks.removed.append(found)
            continue
        if segment(ws, item, picks):
            raise _invalid_option(phrase.strip(), item)
    for phrase in removals:
        if not phrase.strip():
            continue
        found = match_removal(phrase, item)
        if found is None:
            # "sem cebola e tomate" in one string
            for piece in re.split(r"\b(?:e|nem|and)\b|,", fold(phrase)):
                if piece.strip():
                    one = match_removal(piece, item)
                    if one is None:
                        raise _invalid_removal(phrase.strip(), item)
                    picks.removed.append(one)
            continue
        picks.removed.append(found)
    unmatched = segment(list(leftover), item, picks)
    if unmatched:
        raise _invalid_option(" ".join(unmatched), item)
    return dedupe(picks)


def dedupe(picks: Picks) -> Picks:
    seen: set[tuple[str, str]] = set()
    opts = []
    for o in picks.options:
        if (o.group, o.choice) not in seen:
            seen.add((o.group, o.choice))
            opts.append(o)
    return Picks(options=opts, removed=list(dict.fromkeys(picks.removed)))


def check_max(item: MenuItem, options: Sequence[ChosenOption]) -> None:
    for g in item.options:
        n = sum(1 for o in options if o.group == g.group)
        if n > g.max:
            raise _fail(
                "too_many_options",
                f"{item.name}: at most {g.max} choice(s) in {g.group}, {n} were given. Ask which to keep.",
                item=item.name,
                group=g.group,
                suggestions=[o.choice for o in options if o.group == g.group],
            )


def missing_group(item: MenuItem, options: Sequence[ChosenOption]) -> OptionGroup | None:
    for g in item.options:
        if g.min >= 1 and sum(1 for o in options if o.group == g.group) < g.min:
            return g
    return None
