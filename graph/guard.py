"""Input we answer without routing: empty, emoji-only, far too long, or in a language we don't speak."""

from __future__ import annotations

import re
from typing import Literal

from graph.language import detect_language, is_gibberish_or_empty, parse_yes_no

MAX_MESSAGE_CHARS = 2000

GuardVerdict = Literal["ok", "empty", "emoji", "too_long", "other_language", "gibberish", "price_injection"]

_INJECTION = re.compile(
    r"(ignor\w*|esque[cç]\w*|forget|disregard|system prompt|instru[cç]\w*|instructions|you are now|"
    r"finja|pretend|jailbreak|administrador|admin mode)",
    re.IGNORECASE,
)
_PRICE_SETTING = re.compile(
    r"(r\$\s*\d|\bcust(e|ar|a)\b|\bcost\b|\bpre[cç]o\b|\bprice\b|de gra[cç]a|\bfree\b|desconto|discount|\bgratis\b)",
    re.IGNORECASE,
)


def is_price_injection(text: str) -> bool:
    """The customer tries to set a price or talk the bot out of its rules (prices only come from the menu)."""
    if _INJECTION.search(text) and (_PRICE_SETTING.search(text) or "prompt" in text.lower()):
        return True
    # "a pizza por R$ 1" / "make it cost 1 real": a price proposed by the customer
    return bool(re.search(r"(por|for|at|cost\w*|cust\w*)\s+r\$\s*\d", text, re.IGNORECASE))


def foreign_language(text: str) -> str | None:
    """The other language a message is clearly written in (es/fr/de/it), if any."""
    language = detect_language(text)
    return None if language in (None, "pt-BR", "en") else language


def check(text: str) -> GuardVerdict:
    """Whether a turn's text can go to the router, or which canned answer it gets."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    if len(stripped) > MAX_MESSAGE_CHARS:
        return "too_long"
    if parse_yes_no(stripped) is not None:
        return "ok"  # "👍" answers a question
    if is_gibberish_or_empty(stripped):
        return "emoji" if not any(ch.isalnum() for ch in stripped) else "gibberish"
    if foreign_language(stripped):
        return "other_language"
    if is_price_injection(stripped):
        return "price_injection"
    return "ok"
