"""Amounts of money and the payment method (with change for cash)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict

from graph.language import fold
from graph.offline.parse.text import _NUMBER_WORDS, PaymentMethod, _phrases, normalize

# ----------------------------------------------------------------------------- money & payment


class PaymentChoice(BaseModel):
    """Payment method and, for cash, the bill the customer needs change for."""

    model_config = ConfigDict(frozen=True)

    method: PaymentMethod | None = None
    change_for: Decimal | None = None


_CURRENCY_WORDS = frozenset(
    "r rs reais real conto contos pila pilas dolares dollars dollar bucks usd brl pratas".split()
)
_MONEY_NUMBER_RE = re.compile(r"\d[\d.,]*\d|\d")
_HUNDREDS: dict[str, int] = {
    "cento": 100, "duzentos": 200, "trezentos": 300, "quatrocentos": 400, "quinhentos": 500,
    "seiscentos": 600, "setecentos": 700, "oitocentos": 800, "novecentos": 900,
}  # fmt: skip
_MONEY_GLUE = frozenset({"e", "and", "hundred", "hundreds", "mil", "thousand"})
_MONEY_WORDS: dict[str, int] = {
    **{k: v for k, v in _NUMBER_WORDS.items() if k not in {"a", "an"}},
    **_HUNDREDS,
}


def _decimal_from_digits(s: str) -> Decimal | None:
    s = s.strip(".,")
    if "," in s and "." in s:
        dec = "," if s.rfind(",") > s.rfind(".") else "."
        other = "." if dec == "," else ","
        s = s.replace(other, "").replace(dec, ".")
    elif "," in s or "." in s:
        sep = "," if "," in s else "."
        parts = s.split(sep)
        # "1.000" and "1,234,567" group thousands; "32,90" and "32.5" carry cents
        if len(parts) > 2 or (len(parts[1]) == 3 and parts[0] != "0"):
            if all(len(p) == 3 for p in parts[1:]):
                s = "".join(parts)
            else:
                return None
        else:
            s = parts[0] + "." + parts[1]
    try:
        return Decimal(s)
    except InvalidOperation:
        return None


def _money_from_words(tokens: list[str]) -> Decimal | None:
    total = 0
    current = 0
    seen = False
    for t in tokens:
        if t in {"e", "and"}:
            continue
        if t in {"hundred", "hundreds"}:
            current = (current or 1) * 100
        elif t in {"mil", "thousand"}:
            total += (current or 1) * 1000
            current = 0
        elif t in _MONEY_WORDS:
            current += _MONEY_WORDS[t]
        else:
            return None
        seen = True
    return Decimal(total + current) if seen else None


def parse_money(text: str) -> Decimal | None:
    """An amount like "R$ 32,90", "32.90", "1.234,50", "50 reais" or "cinquenta" as a Decimal."""
    if not text:
        return None
    s = fold(text)
    matches = list(_MONEY_NUMBER_RE.finditer(s))
    if matches:
        chosen = matches[0]
        for m in matches:
            before = s[: m.start()].rstrip()
            after = s[m.end() :].lstrip()
            if before.endswith("$") or re.match(r"(reais|real|conto|pila|bucks|dollars)\b", after):
                chosen = m
                break
        return _decimal_from_digits(chosen.group(0))
    tokens = re.findall(r"[a-z]+", s)
    tokens = [
        "one" if t in {"a", "an"} and nxt in {"hundred", "thousand"} else t
        for t, nxt in zip(tokens, [*tokens[1:], ""], strict=True)
    ]
    core = [t for t in tokens if t not in _CURRENCY_WORDS]
    if core and all(t in _MONEY_WORDS or t in _MONEY_GLUE for t in core):
        return _money_from_words(core)
    for i, t in enumerate(tokens):
        if t in _CURRENCY_WORDS and i > 0:
            j = i
            while j > 0 and (tokens[j - 1] in _MONEY_WORDS or tokens[j - 1] in _MONEY_GLUE):
                j -= 1
            if j < i:
                return _money_from_words(tokens[j:i])
    return None


# (pt-BR phrases, English phrases): "no" negates only the English ones, since "no cartão" means "on the card"
_PAYMENT_WORDS: dict[PaymentMethod, tuple[str, str]] = {
    "pix": ("pix|piks|chave pix|transferencia|qr code", ""),
    "card": (
        "cartao|cartoes|credito|debito|link|maquininha|maquina|maquineta|visa|mastercard|master|elo|"
        "amex|hipercard|vale refeicao|vale alimentacao|vr|va|ticket|sodexo|alelo",
        "card|credit|debit|apple pay|google pay",
    ),
    "cash": ("dinheiro|especie|grana|troco|nota", "cash|money|change"),
}
_PAYMENT_KEYWORDS: tuple[tuple[tuple[str, ...], PaymentMethod, bool], ...] = tuple(
    (phrase, method, english)
    for method, (pt, en) in _PAYMENT_WORDS.items()
    for english, spec in ((False, pt), (True, en))
    for phrase in _phrases(spec)
)
_NEGATORS = frozenset("nao n not sem nem dont never nunca tenho".split()) - {"tenho"}
_NO_CHANGE_RE = re.compile(
    r"\b(?:sem troco|nao (?:vou )?(?:preciso|precisa|precisar|quero) (?:de )?troco|"
    r"nao precisa troco|no change|dont need change|exact (?:change|amount)|valor exato|"
    r"dinheiro trocado|trocado|certinho)\b"
)
_CHANGE_FOR_RE = re.compile(
    r"\b(?:troco|change)\s+(?:para|pra|pro|p/|p|de|for|of|pra uma nota de|para uma nota de)\s+(.+)"
    r"|\bnota de\s+(.+)"
)


def parse_payment(text: str) -> PaymentChoice:
    """Payment method (pix, card or cash) and the change amount for cash, from free text."""
    norm = normalize(text or "")
    if not norm:
        return PaymentChoice(method=None, change_for=None)
    tokens = norm.replace(",", " , ").split()
    no_change = bool(_NO_CHANGE_RE.search(norm))
    change_for: Decimal | None = None
    m = _CHANGE_FOR_RE.search(norm)
    if m and not no_change:
        amount_text = m.group(1) or m.group(2) or ""
        amount_text = re.split(r"\b(?:e|and|mas|but|no|na|pelo|pela)\b", amount_text)[0] or amount_text
        change_for = parse_money(amount_text)
    method: PaymentMethod | None = None
    best = len(tokens) + 1
    for phrase, kind, english in _PAYMENT_KEYWORDS:
        n = len(phrase)
        for i in range(len(tokens) - n + 1):
            if tuple(tokens[i : i + n]) != phrase or i >= best:
                continue
            if phrase == ("nota",) and i + 1 < len(tokens) and tokens[i + 1] == "fiscal":
                continue
            if phrase == ("change",) and not (m or no_change):
                continue
            window = tokens[max(0, i - 2) : i]
            if "," in window:
                window = window[len(window) - window[::-1].index(",") :]
            negators = _NEGATORS | ({"no"} if english else set())
            if phrase == ("troco",) and window[-1:] == ["sem"]:
                pass
            elif any(w in negators for w in window):
                continue
            best, method = i, kind
            break
    if method is None and (no_change or change_for is not None):
        method = "cash"
    if method != "cash":
        change_for = None
    return PaymentChoice(method=method, change_for=change_for)
