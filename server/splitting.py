"""Long replies cut into WhatsApp-sized parts (Twilio refuses bodies over 1,600 characters)."""

from __future__ import annotations

import re

WHATSAPP_LIMIT = 1600
_SENTENCE_END = re.compile(r"(?<=[.!?…:])\s+")


def split_message(text: str, limit: int = WHATSAPP_LIMIT) -> list[str]:
    """Parts of at most `limit` characters, cut between paragraphs, else sentences, else words; order kept."""
    text = text.strip()
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    for unit, sep in _units(text, limit):
        if parts and len(parts[-1]) + len(sep) + len(unit) <= limit:
            parts[-1] = parts[-1] + sep + unit
        else:
            parts.append(unit)
    return parts


def _units(text: str, limit: int) -> list[tuple[str, str]]:
    """The text as pieces no longer than `limit`, each with the separator that joined it to the previous one."""
    units: list[tuple[str, str]] = []
    for paragraph in re.split(r"\n\s*\n", text):
        pieces = [paragraph] if len(paragraph) <= limit else _split_long(paragraph, limit)
        units.extend((p, "\n\n" if i == 0 else " ") for i, p in enumerate(pieces))
    return units


def _split_long(paragraph: str, limit: int) -> list[str]:
    out: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        words = [sentence] if len(sentence) <= limit else sentence.split()
        for word in words:
            chunks = [word[i : i + limit] for i in range(0, len(word), limit)]  # a 1,600-char "word": cut it
            for chunk in chunks:
                if out and len(out[-1]) + 1 + len(chunk) <= limit and (len(words) > 1 or len(chunks) > 1):
                    out[-1] = out[-1] + " " + chunk
                else:
                    out.append(chunk)
    return out
