"""The customer's name."""

from __future__ import annotations

import re

from graph.language import fold
from graph.language.text import APOSTROPHES_RE
from graph.offline.parse.address import _addr_key
from graph.offline.parse.text import (
    _GREETINGS,
    _NAME_PARTICLES,
    _NON_NAMES,
    _phrases,
    is_gibberish_or_empty,
)

# ----------------------------------------------------------------------------- names

_NAME_PREFIXES = _phrases(
    "meu nome e|meu nome eh|meu nome|o meu nome e|nome|me chamo|eu me chamo|pode me chamar de|"
    "podem me chamar de|pode chamar de|me chama de|me chamam de|sou o|sou a|sou|eu sou o|"
    "eu sou a|eu sou|aqui e o|aqui e a|aqui e|aqui eh o|aqui eh a|quem fala e o|quem fala e a|"
    "e o|e a|fala o|fala a|my name is|my names|name is|im|i am|this is|call me|you can call me|"
    "its|it is|name"
)
_NAME_STOP = frozenset(
    "e and quero queria vou i want would pode obrigado obrigada tudo bem aqui pra para por favor pfv "
    "com meu minha my please thanks que falando here and gostaria vc voce you from tenho".split()
)
_NAME_TOKEN_RE = re.compile(r"^[^\W\d_][^\W\d_'\-]*(?:['\-][^\W\d_]+)*\.?$")


def _name_case(token: str, first: bool) -> str:
    if not first and token.lower() in _NAME_PARTICLES:
        return token.lower()
    return "-".join("'".join(p[:1].upper() + p[1:] for p in part.split("'")) for part in token.split("-"))


def _name_candidate(tokens: list[str], strict: bool) -> str | None:
    cleaned: list[str] = []
    for tok in tokens:
        stripped = tok.strip('.,;:!?"()[]{}*~_')
        end = tok.rstrip(')]}"*~_')[-1:] in {",", ".", ";", "!", "?", ":"}
        if not stripped:
            if cleaned:
                break
            continue
        key = fold(stripped)
        if cleaned and key in _NAME_STOP and key not in _NAME_PARTICLES:
            break
        if cleaned and key == "e" and not strict:
            break
        cleaned.append(stripped)
        if end:
            break
    while cleaned and fold(cleaned[-1]) in _NAME_PARTICLES:
        cleaned.pop()
    if not cleaned or len(cleaned) > 5:
        return None
    keys = [fold(t).rstrip(".") for t in cleaned]
    if any(not _NAME_TOKEN_RE.match(t) for t in cleaned):
        return None
    if keys[0] in _NAME_PARTICLES or keys[0] in _NON_NAMES:
        return None
    if strict and any(k in _NON_NAMES for k in keys):
        return None
    if is_gibberish_or_empty(" ".join(cleaned)):
        return None
    lower_all = all(t.islower() for t in cleaned)
    upper_all = all(t.isupper() for t in cleaned) and any(len(t) > 2 for t in cleaned)
    out = []
    for i, t in enumerate(cleaned):
        if lower_all or upper_all or t.islower():
            t = _name_case(t.lower() if upper_all else t, i == 0)
        out.append(t)
    return " ".join(out)


def parse_name(text: str) -> str | None:
    """A person's name from "meu nome é João", "sou a maria", "my name is John" or a bare name."""
    if not text or "@" in text or re.search(r"\d", text):
        return None
    tokens = text.split()
    if not tokens:
        return None
    keys = [APOSTROPHES_RE.sub("", _addr_key(t)) for t in tokens]
    for i in range(len(keys)):
        # only greetings may come before a prefix ("oi, meu nome é Ana")
        if i > 0 and keys[i - 1] not in _GREETINGS and keys[i - 1] not in {"ola", "e", "entao", "bem"}:
            break
        for p in _NAME_PREFIXES:
            if tuple(keys[i : i + len(p)]) == p:
                if p[0] in {"e", "sou", "aqui", "fala", "its", "im", "name", "nome", "this"} and i > 0:
                    if keys[i - 1] not in _GREETINGS:
                        continue
                rest = tokens[i + len(p) :]
                while rest and _addr_key(rest[0]) in {"o", "a", "the", ":", "-", ""}:
                    rest = rest[1:]
                if rest and _addr_key(rest[0]) in _NAME_PARTICLES:
                    # "sou de SP" is where they are from, not who they are
                    continue
                name = _name_candidate(rest, strict=False)
                if name:
                    return name
    stripped = list(tokens)
    stripped_keys = list(keys)
    while stripped_keys and stripped_keys[-1] in {"aqui", "falando", "here", "speaking"}:
        stripped, stripped_keys = stripped[:-1], stripped_keys[:-1]
    if not stripped or len(stripped) > 5:
        return None
    if len(stripped) > 1 and stripped[-1].endswith("?") and stripped[-1].strip("?"):
        # a question of several words isn't a name said bare ("cadê meu pedido?" once greeted "Prazer, Cadê!");
        # a lone "?" is a nudge that arrived in the same turn ("João Silva" then "?"), not a question
        return None
    return _name_candidate(stripped, strict=True)
