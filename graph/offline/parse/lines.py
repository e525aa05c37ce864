"""Order lines: quantities, items, "sem"/"com" modifiers, several lines in one message."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

from graph.offline.parse.text import (
    _ABBREVIATIONS,
    _ADD_TRIGGERS,
    _ANYWHERE_FILLERS,
    _ARTICLES,
    _CHEESE_NAME_WORDS,
    _COMPOUND_PAIRS,
    _CONNECTORS,
    _EN_TOPPINGS,
    _HALF_WORDS,
    _INCLUSIVE_ADD_TRIGGERS,
    _LEADING_FILLERS,
    _LIST_CONNECTORS,
    _NO_SPLIT_BEFORE_NUMBER,
    _NUMBER_WORDS,
    _NUMBERED_NAME_WORDS,
    _REMOVAL_TRIGGERS,
    _SENTENCE_SPLIT_RE,
    _STANDING,
    _TAG_QUESTIONS,
    _TOPPINGS,
    _TRAILING_FILLERS,
    _UNIT_WORDS,
    _X_SUFFIXES,
    detect_locale,
    normalize,
)

# ----------------------------------------------------------------------------- quantities

_QTY_DIGITS_RE = re.compile(r"^([+-]?\d{1,9})(?:x|un|und|unid|unids|unidade|unidades)?$")
_QTY_X_PREFIX_RE = re.compile(r"^x(\d{1,9})$")


def parse_quantity_word(token: str) -> int | None:
    """Quantity written as digits ("2", "2x", "x2") or a pt/en number word ("duas", "twelve", "a")."""
    t = normalize(token or "").strip()
    if not t or " " in t:
        return None
    m = _QTY_DIGITS_RE.match(t) or _QTY_X_PREFIX_RE.match(t)
    if m:
        return int(m.group(1))
    return _NUMBER_WORDS.get(t)


def _dozen_at(tokens: Sequence[str]) -> tuple[int, int] | None:
    """(quantity, tokens consumed) for "meia duzia", "uma duzia", "2 duzias", "a dozen", "half a dozen"."""
    if not tokens:
        return None
    t0 = tokens[0]
    t1 = tokens[1] if len(tokens) > 1 else ""
    t2 = tokens[2] if len(tokens) > 2 else ""
    if t0 in {"meia", "meio"} and t1 in {"duzia", "duzias"}:
        return 6, 2
    if t0 == "half" and t1 == "a" and t2 == "dozen":
        return 6, 3
    if t0 == "half" and t1 == "dozen":
        return 6, 2
    if t0 in {"duzia", "dozen"}:
        return 12, 1
    q = parse_quantity_word(t0)
    if q is not None and t1 in {"duzia", "duzias", "dozen", "dozens"}:
        return q * 12, 2
    if t0 in {"um", "a"} and t1 in {"par", "pair", "couple"}:
        return 2, 2
    return None


def _leading_quantity(tokens: Sequence[str]) -> tuple[int, int] | None:
    """(quantity, tokens consumed) when the tokens start with a quantity."""
    dozen = _dozen_at(tokens)
    if dozen:
        return dozen
    if not tokens:
        return None
    if tokens[0] in {"outra", "outro", "another", "outras", "outros"}:
        return (1, 1) if tokens[0] in {"outra", "outro", "another"} else None
    q = parse_quantity_word(tokens[0])
    if q is None:
        return None
    nxt = tokens[1] if len(tokens) > 1 else ""
    if _numbered_name(q, nxt):
        return None
    return q, 1


def _numbered_name(qty: int, nxt: str) -> bool:
    return nxt in _NUMBERED_NAME_WORDS or (nxt in _CHEESE_NAME_WORDS and 3 <= qty <= 5)


def _starts_with_quantity(tokens: Sequence[str]) -> bool:
    return _leading_quantity(tokens) is not None


# ----------------------------------------------------------------------------- order lines


class LineRequest(BaseModel):
    """One order line as the customer wrote it; the cart resolves it against the menu."""

    model_config = ConfigDict(frozen=True)

    qty: int | None
    item: str
    removals: list[str]
    additions: list[str]
    raw: str = ""


def _strip_leading(tokens: list[str], phrases: Iterable[tuple[str, ...]]) -> list[str]:
    phrases = tuple(phrases)
    changed = True
    while tokens and changed:
        changed = False
        for p in phrases:
            if tuple(tokens[: len(p)]) == p and len(tokens) >= len(p):
                tokens = tokens[len(p) :]
                changed = True
                break
    return tokens


def _strip_trailing(tokens: list[str], phrases: Iterable[tuple[str, ...]]) -> list[str]:
    phrases = tuple(phrases)
    changed = True
    while tokens and changed:
        changed = False
        for p in phrases:
            if len(tokens) >= len(p) and tuple(tokens[-len(p) :]) == p:
                tokens = tokens[: -len(p)]
                changed = True
                break
    return tokens


def _remove_anywhere(tokens: list[str], phrases: Iterable[tuple[str, ...]]) -> list[str]:
    phrases = tuple(phrases)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        for p in phrases:
            if tuple(tokens[i : i + len(p)]) == p:
                i += len(p)
                break
        else:
            out.append(tokens[i])
            i += 1
    return out


def _strip_fillers(tokens: list[str]) -> list[str]:
    return _strip_leading(_remove_anywhere(tokens, _ANYWHERE_FILLERS), _LEADING_FILLERS)


def _drop_standing(tokens: list[str], english: bool, after_modifier: bool) -> list[str]:
    """The tokens without a standing marker that goes with a modifier: before it ("sempre sem cebola") or closing
    it ("sem cebola sempre, tá?", `after_modifier`: the piece before ended in one). Elsewhere the word stays
    ("o de sempre" is the customer's usual)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        size = next((len(m) for m in _STANDING if tuple(tokens[i : i + len(m)]) == m), 0)
        if size and not (out and out[-1] == "de"):
            after = i + size
            before_modifier = after < len(tokens) and _trigger_at(tokens, after, english) is not None
            rest = _strip_leading(tokens[after:], _TAG_QUESTIONS)
            modified = _has_pending_modifier(out, english) or (not out and after_modifier)
            closes_modifier = modified and (not rest or rest[0] in _LIST_CONNECTORS)
            if before_modifier or closes_modifier:
                i = after
                continue
        out.append(tokens[i])
        i += 1
    return out


def _trigger_at(tokens: Sequence[str], i: int, english: bool) -> str | None:
    """ "rem"/"add" when tokens[i] starts a removal/addition, else None."""
    t = tokens[i]
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    if t in _REMOVAL_TRIGGERS:
        return "rem"
    if t == "hold" and nxt == "the":
        return "rem"
    # "no" is "in the" in Portuguese ("no pao australiano"), a removal only in English
    if t == "no" and nxt and (english or nxt in _EN_TOPPINGS) and not nxt[0].isdigit():
        return "rem"
    if t in _ADD_TRIGGERS:
        return "add"
    return None


def _has_pending_modifier(tokens: Sequence[str], english: bool) -> bool:
    return any(_trigger_at(tokens, i, english) for i in range(len(tokens)))


def _has_item_content(tokens: list[str]) -> bool:
    rest = _strip_fillers(list(tokens))
    lead = _leading_quantity(rest)
    if lead:
        rest = rest[lead[1] :]
    return bool(rest)


def _is_half_and_half(left: Sequence[str]) -> bool:
    for i, t in enumerate(left):
        if t in _HALF_WORDS:
            nxt = left[i + 1] if i + 1 < len(left) else ""
            if nxt not in {"duzia", "duzias", "dozen", "a"}:
                return True
    return False


def _mid_quantity_starts_line(tokens: Sequence[str], i: int, cur: list[str]) -> bool:
    """A quantity in the middle of a chunk with no separator ("2 pizzas 1 coca") starts a new line."""
    t = tokens[i]
    if t in {"a", "an"} or i + 1 >= len(tokens):
        return False
    if _QTY_DIGITS_RE.match(t) is None and _QTY_X_PREFIX_RE.match(t) is None and t not in _NUMBER_WORDS:
        return False
    if not cur or cur[-1] in _NO_SPLIT_BEFORE_NUMBER or cur[-1] in _NUMBER_WORDS:
        return False
    nxt = tokens[i + 1]
    if (
        _numbered_name(parse_quantity_word(t) or 0, nxt)
        or nxt in _UNIT_WORDS
        or nxt in _CONNECTORS
        or nxt in _LIST_CONNECTORS
    ):
        return False
    if nxt in _REMOVAL_TRIGGERS or nxt in _ADD_TRIGGERS or nxt[0].isdigit():
        return False
    return _has_item_content(cur)


def _split_on_connectors(tokens: list[str], pending: bool, english: bool) -> list[list[str]]:
    chunks: list[list[str]] = []
    cur: list[str] = []
    for i, t in enumerate(tokens):
        if t in _CONNECTORS and cur:
            right = _strip_fillers(list(tokens[i + 1 :]))
            if not right:
                continue
            if t in {"mais", "plus", "n"}:
                split = _starts_with_quantity(right)
            elif _starts_with_quantity(right):
                split = True
            elif _trigger_at(right, 0, english) or pending or _is_half_and_half(cur):
                split = False
            elif (cur[-1], right[0]) in _COMPOUND_PAIRS:
                split = False
            elif right[0] in _TOPPINGS and _has_item_content(cur):
                # "pizza frango e catupiry": a topping after "e" belongs to the dish name
                split = False
            else:
                split = True
            if split:
                if _has_item_content(cur) or _has_pending_modifier(cur, english):
                    chunks.append(cur)
                    cur = []
                    pending = False
                continue
            cur.append(t)
            continue
        if cur and _mid_quantity_starts_line(tokens, i, cur):
            chunks.append(cur)
            cur = []
            pending = False
        if _trigger_at(tokens, i, english):
            pending = True
        cur.append(t)
    if cur:
        chunks.append(cur)
    return chunks


def _split_pieces(norm: str) -> list[tuple[str, list[str]]]:
    """Pieces of a normalized sentence split on "," and "+", each with the separator before it."""
    parts = re.split(r"((?<!\d),|,(?!\d)|\+)", norm)
    pieces: list[tuple[str, list[str]]] = []
    sep = ""
    for part in parts:
        if part in {",", "+"}:
            sep = part
            continue
        pieces.append((sep, part.split()))
    return pieces


def _take_quantity(tokens: list[str]) -> tuple[int | None, list[str]]:
    qty: int | None = None
    lead = _leading_quantity(tokens)
    if lead:
        qty, used = lead
        tokens = tokens[used:]
        # "2 x pizza" is a multiplier, "2 x salada" is an x-salada
        if len(tokens) > 1 and tokens[0] == "x" and tokens[1] not in _X_SUFFIXES:
            tokens = tokens[1:]
        if tokens and tokens[0] in _UNIT_WORDS:
            tokens = tokens[1:]
    else:
        tokens = _strip_leading(tokens, [(a,) for a in _ARTICLES])
        if len(tokens) >= 2:
            last, before = tokens[-1], tokens[-2]
            m = re.match(r"^(\d{1,9})x$|^x(\d{1,9})$", last)
            if m and not (len(tokens) == 2 and before == "x"):
                qty = int(m.group(1) or m.group(2))
                tokens = tokens[:-1]
            elif last in _UNIT_WORDS and _QTY_DIGITS_RE.match(before) and len(tokens) > 2:
                qty = int(_QTY_DIGITS_RE.match(before).group(1))  # type: ignore[union-attr]
                tokens = tokens[:-2]
            elif before == "x" and last.isdigit() and len(tokens) > 2:
                qty = int(last)
                tokens = tokens[:-2]
    while tokens and tokens[0] in {"de", "of", "das", "dos"}:
        tokens = tokens[1:]
    return qty, tokens


def _clean_phrase(tokens: list[str]) -> str:
    tokens = [t for t in tokens if t != ","]
    tokens = _strip_leading(tokens, [("a",), ("o",), ("os",), ("as",), ("the",), ("de",), ("of",)])
    if tokens[:1] in (["adicional"], ["adicionais"]):
        tokens = _strip_leading(tokens[1:], [("de",), ("of",)])
    tokens = _strip_trailing(tokens, [("de",), ("of",), ("e",), ("and",), ("com",), ("with",)])
    return " ".join(tokens)


def _parse_modifiers(tokens: list[str], english: bool) -> tuple[list[str], list[str]]:
    removals: list[str] = []
    additions: list[str] = []
    mode: str | None = None
    phrase: list[str] = []

    def flush() -> None:
        # "sem cebola, tá?": the tag question closes the request, it is no part of the ingredient's name
        words = _strip_trailing(list(phrase), _TAG_QUESTIONS)
        text = _clean_phrase(words) if words else ""
        if text and mode:
            target = removals if mode == "rem" else additions
            if text not in target:
                target.append(text)
        phrase.clear()

    i = 0
    after_connector = False
    while i < len(tokens):
        t = tokens[i]
        trig = _trigger_at(tokens, i, english)
        if trig:
            flush()
            mode = trig
            after_connector = False
            i += 2 if t == "hold" else 1
            continue
        if t in _LIST_CONNECTORS:
            flush()
            after_connector = True
            i += 1
            continue
        # "no pickles and extra bacon": "extra" starts an addition, but "sem borda" stays a removal
        if t in _INCLUSIVE_ADD_TRIGGERS and (mode is None or (after_connector and not phrase)):
            mode = "add"
        after_connector = False
        phrase.append(t)
        i += 1
    flush()
    return removals, additions


def _parse_chunk(tokens: list[str], english: bool) -> LineRequest | None:
    tokens = _strip_fillers([t for t in tokens if t])
    tokens = _strip_trailing(tokens, _TRAILING_FILLERS)
    qty, tokens = _take_quantity(tokens)
    tokens = _strip_trailing(tokens, _TRAILING_FILLERS)
    while tokens and tokens[0] == ",":
        tokens = tokens[1:]
    if _has_pending_modifier(tokens, english):
        # "x-salada, sem cebola, tá?": the raw line goes to the cart tool, which reads its modifiers too
        tokens = _strip_trailing(tokens, (*_TAG_QUESTIONS, (",",)))
    if not tokens:
        return None
    cut = len(tokens)
    for i, t in enumerate(tokens):
        if _trigger_at(tokens, i, english) or t in _INCLUSIVE_ADD_TRIGGERS or t == ",":
            cut = i
            break
    item_tokens = _strip_trailing([t for t in tokens[:cut] if t != ","], _TRAILING_FILLERS)
    removals, additions = _parse_modifiers(tokens[cut:], english)
    item = " ".join(item_tokens)
    if not item and not removals and not additions:
        return None
    raw = " ".join(tokens).replace(" ,", ",").strip(" ,")
    return LineRequest(qty=qty, item=item, removals=removals, additions=additions, raw=raw)


def _continues_previous(
    prev: list[str], tokens: list[str], sep: str, same_sentence: bool, english: bool
) -> list[str] | None:
    """Tokens to append to the previous chunk when this piece only modifies it, else None."""
    if not tokens:
        return None
    if _trigger_at(tokens, 0, english) or tokens[0] in _INCLUSIVE_ADD_TRIGGERS:
        return [",", *tokens]
    if not same_sentence or _starts_with_quantity(tokens) or tokens[0] not in _TOPPINGS:
        return None
    if sep == "+":
        # "x-salada + bacon": a bare topping after "+" is an addition
        return [",", "com", *tokens] if not _has_pending_modifier(prev, english) else [",", *tokens]
    if sep == "," and _has_pending_modifier(prev, english):
        return [",", *tokens]
    return None


def _expand_abbreviations(text: str) -> str:
    for pattern, replacement in _ABBREVIATIONS:
        text = pattern.sub(replacement, text)
    return text


def split_order_lines(text: str) -> list[LineRequest]:
    """Split one customer message into order lines with quantity, item phrase, removals and additions."""
    if not text or not text.strip():
        return []
    english = detect_locale(text) == "en"
    chunks: list[list[str]] = []
    for sentence in _SENTENCE_SPLIT_RE.split(_expand_abbreviations(text)):
        norm = normalize(sentence)
        if not norm:
            continue
        first_in_sentence = True
        for sep, raw_tokens in _split_pieces(norm):
            after_modifier = bool(chunks) and _has_pending_modifier(chunks[-1], english)
            tokens = _drop_standing(_strip_fillers(raw_tokens), english, after_modifier)
            if not tokens:
                continue
            pending = False
            if chunks:
                extra = _continues_previous(chunks[-1], tokens, sep, not first_in_sentence, english)
                if extra is not None:
                    sub = _split_on_connectors(extra, True, english)
                    chunks[-1].extend(sub[0])
                    chunks.extend(sub[1:])
                    first_in_sentence = False
                    continue
            chunks.extend(_split_on_connectors(tokens, pending, english))
            first_in_sentence = False
    lines: list[LineRequest] = []
    for chunk in chunks:
        line = _parse_chunk(chunk, english)
        if line is not None:
            lines.append(line)
    return lines
