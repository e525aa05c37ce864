"""Which language a message is written in: pt-BR and English (the ones we answer in), or another one.

Scoring is by weighted common words plus accents. Spanish shares many words with Portuguese, so it is
scored on the same scale (shared words count for both) and only wins with at least two words no Portuguese
or English speaker would write; French, German and Italian need two of their marker words.
"""

from __future__ import annotations

import re
from typing import Literal

from graph.language.text import words

Locale = Literal["pt-BR", "en"]
Language = Literal["pt-BR", "en", "es", "fr", "de", "it"]

PT_WORDS: dict[str, int] = {
    **dict.fromkeys(
        "quero queria qro kero gostaria voce vc vcs voces obrigado obrigada obg brigado valeu vlw "
        "oi ola opa nao sim pfv pfvr blz beleza cardapio pedido pedir uma duas dois tres quanto "
        "custa tambem tbm entrega endereco cartao dinheiro troco especie credito debito bom boa dia "
        "tarde noite pra isso esse essa aqui agora hoje gente moco moca amigo meu minha "
        "nome sou pode posso mais muito mto entao onde como quando porque pq tudo bem fazer ate "
        "tem ta estou esta sao seu sua eh tipo coisa nada obrigadao ainda queijo frango lanche "
        "refrigerante refri bebida sobremesa batata preco vcs manda mandar ve traz favor".split(),
        2,
    ),
    **dict.fromkeys("com sem de do da dos das e o os um que para por na ou mas ja".split(), 1),
}

EN_WORDS: dict[str, int] = {
    **dict.fromkeys(
        "i im id ill want wanna would like hi hello hey yes yeah yep yup nope thanks thank you can "
        "could get order please pls plz how much what my name is are the with without and "
        "this that have has does dont some delivery address price cost open today now sure "
        "good morning evening afternoon night give add cancel where when why who which "
        "there just but not lets okay also more cheese chicken drink coke fries burger "
        "card cash change anything else menu your our we our".split(),
        2,
    ),
    **dict.fromkeys("a an of for it to me".split(), 0),
    **dict.fromkeys("one two three".split(), 1),
}

# Spanish words no Portuguese or English speaker writes ("quiero", "una", "hola"): two of them make Spanish
ES_MARKERS = frozenset(
    "hola quiero quisiera quisieramos gracias usted ustedes tienen tiene tengo tienes necesito buenas buenos "
    "noches cuanto cuanta cuantos cuesta cuestan una con queso pollo hamburguesa hamburguesas cerveza refresco "
    "muy puedo puede puedes pueden podria precio direccion envio domicilio yo mi nombre llamo ahora donde "
    "cuando tambien bien el los las del y es esto eso hacer llevar sin papas patatas helado postre cuenta "
    "tarjeta efectivo manana noche hoy senor senora hay estoy soy calle perfecto bueno buena adios hasta luego "
    "chau".split()
)
ES_WORDS: dict[str, int] = {
    **dict.fromkeys(ES_MARKERS, 2),
    # written the same in both languages: they count for Spanish as much as they do for Portuguese
    **{w: PT_WORDS[w] for w in "como pedido pedir favor tarde bebida aqui porque dia esta tipo nada manda mandar "
       "tres entrega credito debito gente amigo queria de que e o a para por da mas".split() if w in PT_WORDS},
}  # fmt: skip

# the other languages we recognise only to say we don't speak them: marker words (two make the language)
OTHER_MARKERS: dict[Language, frozenset[str]] = {
    "fr": frozenset({"je", "voudrais", "bonjour", "merci", "avec", "vous", "pouvez", "une", "est", "sil"}),
    "de": frozenset({"ich", "mochte", "hallo", "danke", "bitte", "eine", "und", "mit", "haben", "sie"}),
    "it": frozenset({"vorrei", "ciao", "grazie", "buongiorno", "buonasera", "della", "sono"}),
}

_PT_ACCENT_RE = re.compile(r"[ãõçáéíóúâêôà]", re.IGNORECASE)
_ES_PUNCTUATION_RE = re.compile(r"[¿¡ñÑ]")


def _pt_en(tokens: list[str], text: str) -> tuple[int, int]:
    pt = sum(PT_WORDS.get(t, 0) for t in tokens)
    en = sum(EN_WORDS.get(t, 0) for t in tokens)
    if _PT_ACCENT_RE.search(text):
        pt += 1
    return pt, en


def detect_locale(text: str) -> Locale | None:
    """Guess pt-BR vs English from stopwords and accents; None when there is no evidence either way."""
    pt, en = _pt_en(words(text or ""), text or "")
    if pt > en:
        return "pt-BR"
    if en > pt:
        return "en"
    return None


# points the other language needs, with none for the conversation's, before a message switches it
_SWITCH_EVIDENCE = 4


def conversation_locale(text: str, current: Locale | None) -> Locale | None:
    """The language to answer this message in: its own when the conversation has none yet; otherwise the
    conversation's, unless the message is clearly written in the other one. An English speaker's Brazilian
    address ("Rua Augusta, 500, Consolação"), a menu name or "dinheiro" don't switch them to Portuguese."""
    if current is None:
        return detect_locale(text)
    pt, en = _pt_en(words(text or ""), text or "")
    mine, other = (pt, en) if current == "pt-BR" else (en, pt)
    if other >= _SWITCH_EVIDENCE and mine == 0:
        return "en" if current == "pt-BR" else "pt-BR"
    return current


def detect_language(text: str) -> Language | None:
    """The language a message is written in: pt-BR or English as `detect_locale` says, unless another
    language clearly wins ("Hola, quiero una pizza" is Spanish, not Portuguese); None without evidence."""
    text = text or ""
    tokens = words(text)
    pt, en = _pt_en(tokens, text)
    es_markers = {t for t in tokens if t in ES_MARKERS}
    inverted = bool(_ES_PUNCTUATION_RE.search(text))
    if len(es_markers) + inverted >= 2:
        es = sum(ES_WORDS.get(t, 0) for t in tokens) + 2 * inverted
        if es > pt and es > en:
            return "es"
    present = set(tokens)
    for lang, markers in OTHER_MARKERS.items():
        found = len(present & markers)
        if found >= 2 and 2 * found > max(pt, en):
            return lang
    return detect_locale(text)
