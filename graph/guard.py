"""Input we answer without routing: empty, emoji-only, far too long, in a language we don't speak, or media we
can't read as words (a voice note nobody transcribed, an image without a caption)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from langchain_core.messages import BaseMessage, HumanMessage

from graph.language import detect_language, is_gibberish_or_empty, parse_yes_no

MAX_MESSAGE_CHARS = 2000

GuardVerdict = Literal[
    "ok",
    "empty",
    "emoji",
    "too_long",
    "other_language",
    "gibberish",
    "price_injection",
    "audio_unavailable",
    "audio_failed",
    "image",
    "document",
    "other_media",
]

# an attachment the conversation got but can't read as words: "audio" when no transcription provider is set,
# "audio_failed" when fetching or transcribing it failed; a transcribed voice note is plain text, never one of these
UnreadMedia = Literal["audio", "audio_failed", "image", "document", "other"]
# where a customer message (HumanMessage) carries its unread media, and whether its text is a transcription
UNREAD_KEY = "comanda_unread"
TRANSCRIBED_KEY = "comanda_transcribed"

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


def unread_media(messages: Sequence[BaseMessage]) -> list[UnreadMedia]:
    """The media the customer's messages among `messages` carry that we couldn't read as words."""
    return [kind for m in messages if isinstance(m, HumanMessage) for kind in m.additional_kwargs.get(UNREAD_KEY) or ()]


def check(text: str, unread: Sequence[UnreadMedia] = ()) -> GuardVerdict:
    """Whether a turn's text can go to the router, or which canned answer it gets.

    `unread` is the turn's media we couldn't read as words. A voice note we couldn't hear is answered even beside
    typed words: it usually carries the order, and acting on the words alone would skip it silently. An image's or a
    document's caption is the customer's text and goes on.
    """
    stripped = text.strip()
    if "audio_failed" in unread:
        return "audio_failed"
    if "audio" in unread:
        return "audio_unavailable"
    if not stripped and unread:
        return "image" if "image" in unread else "document" if "document" in unread else "other_media"
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
