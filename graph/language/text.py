"""Folding and normalising what customers write: the form every matcher in the graph compares."""

from __future__ import annotations

import re

from unidecode import unidecode

APOSTROPHES_RE = re.compile(r"['`´‘’]")
_DISALLOWED_RE = re.compile(r"[^a-z0-9@.,+/\-\s]")
_WS_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"[a-z]+")


def fold(text: str) -> str:
    """Lowercase ASCII without accents: "Açaí" → "acai", "São João" → "sao joao"."""
    return unidecode(text).lower()


def phrases(spec: str) -> tuple[tuple[str, ...], ...]:
    """ "|"-separated phrases as token tuples, longest first so greedy matching prefers them."""
    items = {tuple(p.split()) for p in spec.split("|") if p.strip()}
    return tuple(sorted(items, key=len, reverse=True))


def _clean_symbols(s: str) -> str:
    out: list[str] = []
    n = len(s)
    for i, ch in enumerate(s):
        prev = s[i - 1] if i > 0 else " "
        nxt = s[i + 1] if i + 1 < n else " "
        if ch == ".":
            out.append(ch if prev.isalnum() and nxt.isalnum() else " ")
        elif ch == "-":
            inside = prev.isalnum() and nxt.isalnum()
            sign = not prev.isalnum() and prev != "-" and nxt.isdigit()
            out.append(ch if inside or sign else " ")
        elif ch == ",":
            # "32,90" is a decimal; every other comma is a separator with breathing room
            out.append(ch if prev.isdigit() and nxt.isdigit() else " , ")
        elif ch == "/":
            out.append(ch if prev.isalnum() or nxt.isalnum() else " ")
        else:
            out.append(ch)
    return "".join(out)


def normalize(text: str) -> str:
    """Lowercase, drop accents and noisy punctuation (keeping @ . - , + /) and collapse whitespace."""
    if not text:
        return ""
    s = APOSTROPHES_RE.sub("", text)
    s = APOSTROPHES_RE.sub("", fold(s))
    s = _DISALLOWED_RE.sub(" ", s)
    s = _clean_symbols(s)
    s = _WS_RE.sub(" ", s)
    s = re.sub(r" ,", ",", s)
    s = re.sub(r",(?:\s*,)+", ",", s)
    return s.strip(" ,")


def words(text: str) -> list[str]:
    """The words of a text, folded, without numbers or punctuation ("Hola, ¿quiero?" → ["hola", "quiero"])."""
    return _WORD_RE.findall(normalize(text))
