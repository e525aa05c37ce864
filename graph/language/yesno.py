"""Yes and no, the way customers say them (pt-BR and English, words and emojis)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from graph.language.text import normalize, phrases

YES_PHRASES = phrases(
    "sim|s|ss|sss|isso|isso mesmo|isso ai|pode|pode ser|pode sim|confirmo|confirma|confirmado|"
    "confirmada|confirmar|ok|okay|okey|oky|k|beleza|blz|certo|certinho|correto|claro|bora|yes|"
    "yep|yeah|yup|ya|yah|y|sure|correct|exato|exatamente|perfeito|fechado|fechou|show|massa|top|"
    "positivo|afirmativo|aham|uhum|com certeza|ta bom|ta certo|tudo certo|esta certo|of course|"
    "right|thats right|absolutely|definitely|go ahead|sounds good|all good|alright|all right|"
    "fine|perfect|agreed|deal|confirm|confirmed|yes please|manda|pode mandar|sip|uhum|partiu|"
    "demorou|firmeza|tranquilo|de acordo|concordo|quero sim|si|ctz|com ctz|certeza|fecha|pode fechar"
)
NO_WORDS = frozenset(
    "nao n nn no nope nah negativo errado errada errados cancela cancelar cancelado cancel "
    "wrong incorreto incorreta incorrect nunca never not dont nem jamais nada nananinanao".split()
)
LAUGHTER_RE = re.compile(r"^(?:k{2,}|(?:ha|ah|he|hi|hu|rs|ks|hua|kk|hah)+h?|lol|lmao|rofl)$")

_YES_EMOJIS = ("👍", "👌", "✅", "✔", "🙌", "👏", "🤝", "😉", "🆗", "💯")
_NO_EMOJIS = ("👎", "❌", "✖", "🚫", "⛔", "🙅")
_YES_DESPITE_NEGATION = phrases(
    "sem problema|sem problemas|no problem|no problemo|nao tem problema|why not|por que nao|"
    "porque nao|pq nao|claro que sim|nao tem erro|no worries|nada contra|not a problem|sem erro"
)
_UNSURE_PHRASES = phrases(
    "nao sei|n sei|sei la|talvez|maybe|not sure|dont know|i dont know|idk|so isso|e so|eh so|"
    "thats all|depende|perhaps|hmm"
)
# single letters ("s", "n", "y") only count as a whole answer
_MULTI_YES = tuple(p for p in YES_PHRASES if len(p) > 1 or len(p[0]) > 1)


def _contains_phrase(tokens: Sequence[str], candidates: Iterable[tuple[str, ...]]) -> bool:
    # tokens hold no spaces, so a run of tokens equals a phrase exactly when " a b " is in " t1 t2 ... "
    padded = f" {' '.join(tokens)} "
    return any(f" {' '.join(p)} " in padded for p in candidates)


def _squeeze(word: str, min_run: int) -> str:
    return re.sub(r"([a-z])\1{" + str(min_run - 1) + ",}", r"\1", word)


def _yes_no_from_words(text: str) -> bool | None:
    norm = normalize(text)
    clause = re.split(r"[,.;]|\b(?:mas|but|porem|only|so que)\b", norm)[0]
    # laughter ("kkkk") would squeeze into "k", which means "ok"
    raw_tokens = [t for t in clause.split() if not LAUGHTER_RE.match(t)]
    if not raw_tokens:
        return None
    variants = [raw_tokens, [_squeeze(t, 3) for t in raw_tokens], [_squeeze(t, 2) for t in raw_tokens]]
    for tokens in variants:
        if _contains_phrase(tokens, _UNSURE_PHRASES):
            return None
    for tokens in variants:
        if _contains_phrase(tokens, _YES_DESPITE_NEGATION):
            return True
    for tokens in variants:
        if any(t in NO_WORDS and (len(t) > 1 or len(tokens) == 1) for t in tokens):
            return False
    for tokens in variants:
        if _contains_phrase(tokens, _MULTI_YES):
            return True
        if len(tokens) == 1 and (tokens[0],) in YES_PHRASES:
            return True
    return None


def parse_yes_no(text: str) -> bool | None:
    """Yes/no answer in pt-BR or English ("sim", "pode ser", "nope", "👍"); None when it is neither."""
    if not text or not text.strip():
        return None
    verdict = _yes_no_from_words(text)
    if verdict is not None:
        return verdict
    has_no = any(e in text for e in _NO_EMOJIS)
    has_yes = any(e in text for e in _YES_EMOJIS)
    if has_yes != has_no:
        return has_yes
    return None
