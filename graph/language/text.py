"""Folding and normalising what customers write: the form every matcher in the graph compares."""

from __future__ import annotations

import re
from functools import lru_cache

from unidecode import unidecode

APOSTROPHES_RE = re.compile(r"['`´‘’]")
_DISALLOWED_RE = re.compile(r"[^a-z0-9@.,+/\-\s]")
_WS_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"[a-z]+")
_SYMBOL_RE = re.compile(r"[.\-,/]")
_SPACE_COMMA_RE = re.compile(r" ,")
_REPEATED_COMMA_RE = re.compile(r",(?:\s*,)+")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_DIGITS = frozenset("0123456789")
# the same few texts are normalised many times a turn (every matcher starts with it): a pure function, cached
_CACHE = 16_384


def phrases(spec: str) -> tuple[tuple[str, ...], ...]:
    """ "|"-separated phrases as token tuples, longest first so greedy matching prefers them."""
    items = {tuple(p.split()) for p in spec.split("|") if p.strip()}
    return tuple(sorted(items, key=len, reverse=True))


def _symbol(m: re.Match[str]) -> str:
    # by the characters around it in the text as it was (the text holds only [a-z0-9@.,+/-] and spaces here)
    s, i = m.string, m.start()
    ch = s[i]
    prev = s[i - 1] if i > 0 else " "
    nxt = s[i + 1] if i + 1 < len(s) else " "
    if ch == ".":
        return ch if prev in _ALNUM and nxt in _ALNUM else " "
    if ch == "-":
        inside = prev in _ALNUM and nxt in _ALNUM
        sign = prev not in _ALNUM and prev != "-" and nxt in _DIGITS
        return ch if inside or sign else " "
    if ch == ",":
        # "32,90" is a decimal; every other comma is a separator with breathing room
        return ch if prev in _DIGITS and nxt in _DIGITS else " , "
    return ch if prev in _ALNUM or nxt in _ALNUM else " "  # "/"


@lru_cache(maxsize=_CACHE)
def normalize(text: str) -> str:
    """Lowercase, drop accents and noisy punctuation (keeping @ . - , + /) and collapse whitespace."""
    if not text:
        return ""
    s = APOSTROPHES_RE.sub("", text)
    s = APOSTROPHES_RE.sub("", unidecode(s).lower())
    s = _DISALLOWED_RE.sub(" ", s)
    s = _SYMBOL_RE.sub(_symbol, s)
    s = _WS_RE.sub(" ", s)
    s = _SPACE_COMMA_RE.sub(",", s)
    s = _REPEATED_COMMA_RE.sub(",", s)
    return s.strip(" ,")


def words(text: str) -> list[str]:
    """The words of a text, folded, without numbers or punctuation ("Hola, ¿quiero?" → ["hola", "quiero"])."""
    return _WORD_RE.findall(normalize(text))
