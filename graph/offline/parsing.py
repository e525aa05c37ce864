"""Pure text understanding for the offline chat model: no database, no network, no LLM.

Customers write informal Brazilian Portuguese (typos, no accents, WhatsApp slang) or English.
Everything here is deterministic and works on plain strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Literal

from pydantic import BaseModel, ConfigDict
from rapidfuzz import fuzz
from unidecode import unidecode

__all__ = [
    "AddressParts",
    "FuzzyHit",
    "LineRequest",
    "PaymentChoice",
    "detect_locale",
    "fuzzy_find",
    "is_gibberish_or_empty",
    "normalize",
    "parse_address",
    "parse_cep",
    "parse_cpf",
    "parse_email",
    "parse_money",
    "parse_name",
    "parse_payment",
    "parse_quantity_word",
    "parse_yes_no",
    "split_order_lines",
]

Locale = Literal["pt-BR", "en"]
PaymentMethod = Literal["pix", "card", "cash"]


def _phrases(spec: str) -> tuple[tuple[str, ...], ...]:
    """ "|"-separated phrases as token tuples, longest first so greedy matching prefers them."""
    items = {tuple(p.split()) for p in spec.split("|") if p.strip()}
    return tuple(sorted(items, key=len, reverse=True))


# ----------------------------------------------------------------------------- normalization

_APOSTROPHES_RE = re.compile(r"['`´‘’]")
_DISALLOWED_RE = re.compile(r"[^a-z0-9@.,+/\-\s]")
_WS_RE = re.compile(r"\s+")


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
    s = _APOSTROPHES_RE.sub("", text)
    s = _APOSTROPHES_RE.sub("", unidecode(s).lower())
    s = _DISALLOWED_RE.sub(" ", s)
    s = _clean_symbols(s)
    s = _WS_RE.sub(" ", s)
    s = re.sub(r" ,", ",", s)
    s = re.sub(r",(?:\s*,)+", ",", s)
    return s.strip(" ,")


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", normalize(text))


# ----------------------------------------------------------------------------- vocabulary

_PT_WORDS: dict[str, int] = {
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

_EN_WORDS: dict[str, int] = {
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

_PT_ACCENT_RE = re.compile(r"[ãõçáéíóúâêôà]", re.IGNORECASE)

_GREETINGS = frozenset(
    "oi ola opa eai eae salve hi hello hey hiya yo oie oii olar boa bom dia tarde noite morning "
    "evening afternoon good tudo bem td".split()
)

_PT_NUMBERS: dict[str, int] = {
    "um": 1, "uma": 1, "hum": 1, "dois": 2, "duas": 2, "tres": 3, "treis": 3, "quatro": 4,
    "cinco": 5, "seis": 6, "sete": 7, "oito": 8, "nove": 9, "dez": 10, "onze": 11, "doze": 12,
    "treze": 13, "quatorze": 14, "catorze": 14, "quinze": 15, "dezesseis": 16, "dezasseis": 16,
    "dezessete": 17, "dezassete": 17, "dezoito": 18, "dezenove": 19, "dezanove": 19, "vinte": 20,
    "trinta": 30, "quarenta": 40, "cinquenta": 50, "cincoenta": 50, "sessenta": 60, "setenta": 70,
    "oitenta": 80, "noventa": 90, "cem": 100,
}  # fmt: skip
_EN_NUMBERS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_NUMBER_WORDS: dict[str, int] = {**_PT_NUMBERS, **_EN_NUMBERS}

_UNIT_WORDS = frozenset("un und unid unids unidade unidades units unit pcs pieces pecas peca porcoes".split())
# words that make a leading number part of the dish name ("dois amores", "2 litros", "8 fatias")
_NUMBERED_NAME_WORDS = frozenset("amores graos sabores sabor litros litro l ml kg g fatias pedacos".split())
# "quatro queijos" is a pizza, but "um queijo quente" and "2 queijos quentes" are quantities
_CHEESE_NAME_WORDS = frozenset({"queijos", "cheese", "cheeses", "formaggi"})
# "x" right after a quantity is a multiplier, unless it is an x-burger ("2 x salada")
_X_SUFFIXES = frozenset(
    "salada tudo bacon burguer burger egg eggs frango calabresa picanha carne costela coracao "
    "cheddar file fil frango vegano veg bacon egg calabresa".split()
)

_LEADING_FILLERS = _phrases(
    "quero|queria|qro|qria|kero|keria|quer|eu|eu quero|eu queria|quero pedir|queria pedir|"
    "gostaria|gostaria de|gostaria de pedir|eu gostaria de|vou querer|vo querer|vou qrer|"
    "vou pedir|vou levar|quero levar|me ve|me veja|me ve ai|me da|me de|me manda|manda|manda ai|"
    "me traz|traz|traga|me envia|envia|pode ser|pode mandar|pode trazer|pode|pode me mandar|"
    "adiciona|adicionar|adicione|acrescenta|acrescentar|inclui|incluir|coloca|colocar|coloque|"
    "bota|botar|poe|mais|tambem|tbm|tb|meu pedido|meu pedido e|o pedido e|pedido|segue o pedido|"
    "segue|anota|anota ai|entao|so|tipo|hmm|ah|eh|beleza|blz|ok|okay|ta|ta bom|certo|por favor|"
    "pfv|pfvr|pf|e|nem|oi|oie|oii|ola|opa|eai|e ai|eae|salve|bom dia|boa tarde|boa noite|"
    "tudo bem|td bem|tudo bom|boa|i want|i wanna|i would like|id like|i need|we want|"
    "we would like|wed like|can i get|can i have|could i get|could i have|may i have|may i get|"
    "can we get|can we have|give me|get me|add|ill have|i will have|ill take|i will take|ill get|"
    "let me get|lemme get|let me have|lemme have|im gonna have|im gonna get|gonna have|gonna get|"
    "also|and|plus|please|pls|plz|just|so|then|well|hi|hello|hey|good morning|good afternoon|"
    "good evening|i|id|could you|can you|send me|bring me|tem como|tem como mandar|tem como me mandar|"
    "da pra|da pra mandar|da pra me mandar|poderia|poderia mandar|poderia me mandar|vc pode|vcs podem|"
    "voce pode|voces podem|vc pode mandar|vc tem|vcs tem|voce tem|voces tem|tem|do you have|"
    "do you guys have|you have"
)
_ANYWHERE_FILLERS = _phrases(
    "por favor|por gentileza|pfv|pfvr|pf|pls|plz|please|tambem|tbm|tmb|tb|pra mim|para mim|for me|"
    "ai|obrigado|obrigada|obg|brigado|valeu|vlw|thanks|thank you|thx"
)
_TRAILING_FILLERS = _phrases(
    "so|apenas|somente|only|too|also|e|and|ou|or|de|of|mesmo|ok|so isso|e so|thats all|that is all|isso"
)
_ARTICLES = frozenset("o os as the".split())
_CONNECTORS = frozenset({"e", "and", "&", "mais", "plus", "n"})
_LIST_CONNECTORS = frozenset({"e", "and", "&", ",", "ou", "or", "nem", "nor"})

_REMOVAL_TRIGGERS = frozenset(
    "sem tira tirar tirando retira retirar retirando remove remover removendo without minus".split()
)
_ADD_TRIGGERS = frozenset("com with adicional adicionais acrescenta acrescentar add".split())
# these start an addition and stay part of it ("borda de catupiry", "extra bacon")
_INCLUSIVE_ADD_TRIGGERS = frozenset({"extra", "borda"})

_EN_TOPPINGS = frozenset(
    "onion onions tomato tomatoes lettuce pickles pickle mayo mayonnaise mustard cheese ham egg "
    "eggs olives olive ice lemon sugar jalapenos jalapeno mushrooms mushroom peppers pepper garlic "
    "sauce bacon ketchup".split()
)
_TOPPINGS = _EN_TOPPINGS | frozenset(
    "catupiry cheddar bacon cebola cebolas tomate tomates milho ervilha presunto queijo mussarela "
    "mucarela muzzarela mozzarella azeitona azeitonas palmito oregano manjericao ovo ovos "
    "champignon pimentao rucula parmesao provolone gorgonzola atum lombo calabresa frango "
    "pepperoni peperoni alface picles maionese maio ketchup catchup catchupe mostarda requeijao "
    "alho pimenta molho barbecue gelo limao acucar adocante canela leite granola banana morango".split()
)
_HALF_WORDS = frozenset({"meia", "meio", "metade", "half"})
_COMPOUND_PAIRS = frozenset(
    {
        ("fish", "chips"), ("mac", "cheese"), ("romeu", "julieta"), ("surf", "turf"),
        ("cookies", "cream"), ("ham", "cheese"), ("bacon", "eggs"), ("sal", "pimenta"),
        ("salt", "pepper"), ("peanut", "butter"), ("rice", "beans"),
    }
)  # fmt: skip
_NO_SPLIT_BEFORE_NUMBER = frozenset(
    "combo numero n no nro opcao item tamanho de do da of for para pra por com sem with e and ou "
    "or a o the mesa lanche".split()
)

_SENTENCE_SPLIT_RE = re.compile(r"[\n\r;!?]+|\.(?=\s|$)")
_ABBREVIATIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![\w/])w/o(?![\w/])", re.IGNORECASE), " without "),
    (re.compile(r"(?<![\w/])s/(?!n\b|n[º°o]?\b)\s*", re.IGNORECASE), " sem "),
    (re.compile(r"(?<![\w/])c/\s*", re.IGNORECASE), " com "),
    (re.compile(r"(?<![\w/])w/\s*", re.IGNORECASE), " with "),
)


# ----------------------------------------------------------------------------- locale & noise


def detect_locale(text: str) -> Locale | None:
    """Guess pt-BR vs English from stopwords and accents; None when there is no evidence either way."""
    tokens = _words(text or "")
    pt = sum(_PT_WORDS.get(t, 0) for t in tokens)
    en = sum(_EN_WORDS.get(t, 0) for t in tokens)
    if _PT_ACCENT_RE.search(text or ""):
        pt += 1
    if pt > en:
        return "pt-BR"
    if en > pt:
        return "en"
    return None


_VOWELS = frozenset("aeiouy")
_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEYBOARD_RUNS: frozenset[str] = frozenset(
    run
    for row in _KEYBOARD_ROWS
    for seq in (row, row[::-1])
    for size in ((5,) if row == "qwertyuiop" else (4,))
    for run in (seq[i : i + size] for i in range(len(seq) - size + 1))
)
_KEYBOARD_TRIGRAMS: frozenset[str] = frozenset(
    seq[i : i + 3] for row in _KEYBOARD_ROWS for seq in (row, row[::-1]) for i in range(len(seq) - 2)
)
_COMMON_CONSONANT_PAIRS = frozenset(
    "bl br ch cl cr dr fl fr gl gr gn lh nh pl pr ps pt sc sk sl sm sn sp st sw tr tw th sh ph wh "
    "ck ng nk nt nd nc nf ns nv nj nz nh mb mp mn rb rc rd rf rg rj rl rm rn rp rs rt rv rz rk rh "
    "lb lc ld lf lg lk lm ln lp ls lt lv lz ct ft gh ght xc xp xt tz ch sch ts ds ks cs ms ls rs ns "
    "bs dv bj bt pn mpl ngl wn wl wr ld lh nm tl dl kl".split()
)
_LAUGHTER_RE = re.compile(r"^(?:k{2,}|(?:ha|ah|he|hi|hu|rs|ks|hua|kk|hah)+h?|lol|lmao|rofl)$")
_INTERJECTION_RE = re.compile(r"^(?:a?hu?m+|hm+|u?hum|aff+|ue|uai)$")


def _implausible_word(word: str) -> bool:
    if len(word) <= 2 or word in _KNOWN_WORDS or _LAUGHTER_RE.match(word) or _INTERJECTION_RE.match(word):
        return False
    if any(run in word for run in _KEYBOARD_RUNS):
        return True
    # outside abbreviations already in the vocabulary, "q" is always followed by "u"
    if re.search(r"q(?!u)|[jkvwxz][jq]|[jq][jkvwxz]", word):
        return True
    if any(word.count(tri) >= 2 for tri in _KEYBOARD_TRIGRAMS):
        return True
    vowels = sum(ch in _VOWELS for ch in word)
    if len(word) >= 4 and vowels == 0:
        return True
    if len(word) >= 6 and vowels / len(word) < 0.2:
        return True
    run = longest = 0
    for ch in word:
        run = 0 if ch in _VOWELS else run + 1
        longest = max(longest, run)
    if longest >= 5:
        return True
    rare = 0
    for i in range(len(word) - 1):
        a, b = word[i], word[i + 1]
        if a in _VOWELS or b in _VOWELS or a == b:
            continue
        if a + b in _COMMON_CONSONANT_PAIRS or (b == "s" and i + 2 == len(word)):
            continue
        rare += 1
    return rare >= 3 and rare / (len(word) - 1) >= 0.3


def is_gibberish_or_empty(text: str) -> bool:
    """True for empty text, only emojis/punctuation, or keyboard mash like "asdkjhasd"."""
    norm = normalize(text or "")
    if not re.search(r"[a-z0-9]", norm):
        return True
    if re.search(r"\d", norm):
        return False
    words = re.findall(r"[a-z]+", norm)
    return all(_implausible_word(w) for w in words)


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
        text = _clean_phrase(phrase) if phrase else ""
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
            tokens = _strip_fillers(raw_tokens)
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


# ----------------------------------------------------------------------------- yes / no

_YES_EMOJIS = ("👍", "👌", "✅", "✔", "🙌", "👏", "🤝", "😉", "🆗", "💯")
_NO_EMOJIS = ("👎", "❌", "✖", "🚫", "⛔", "🙅")
_YES_PHRASES = _phrases(
    "sim|s|ss|sss|isso|isso mesmo|isso ai|pode|pode ser|pode sim|confirmo|confirma|confirmado|"
    "confirmada|confirmar|ok|okay|okey|oky|k|beleza|blz|certo|certinho|correto|claro|bora|yes|"
    "yep|yeah|yup|ya|yah|y|sure|correct|exato|exatamente|perfeito|fechado|fechou|show|massa|top|"
    "positivo|afirmativo|aham|uhum|com certeza|ta bom|ta certo|tudo certo|esta certo|of course|"
    "right|thats right|absolutely|definitely|go ahead|sounds good|all good|alright|all right|"
    "fine|perfect|agreed|deal|confirm|confirmed|yes please|manda|pode mandar|sip|uhum|partiu|"
    "demorou|firmeza|tranquilo|de acordo|concordo|quero sim|si|ctz|com ctz|certeza|fecha|pode fechar"
)
_NO_WORDS = frozenset(
    "nao n nn no nope nah negativo errado errada errados cancela cancelar cancelado cancel "
    "wrong incorreto incorreta incorrect nunca never not dont nem jamais nada nananinanao".split()
)
_YES_DESPITE_NEGATION = _phrases(
    "sem problema|sem problemas|no problem|no problemo|nao tem problema|why not|por que nao|"
    "porque nao|pq nao|claro que sim|nao tem erro|no worries|nada contra|not a problem|sem erro"
)
_UNSURE_PHRASES = _phrases(
    "nao sei|n sei|sei la|talvez|maybe|not sure|dont know|i dont know|idk|so isso|e so|eh so|"
    "thats all|depende|perhaps|hmm"
)


def _contains_phrase(tokens: Sequence[str], phrases: Iterable[tuple[str, ...]]) -> bool:
    for p in phrases:
        n = len(p)
        if any(tuple(tokens[i : i + n]) == p for i in range(len(tokens) - n + 1)):
            return True
    return False


def _squeeze(word: str, min_run: int) -> str:
    return re.sub(r"([a-z])\1{" + str(min_run - 1) + ",}", r"\1", word)


def _yes_no_from_words(text: str) -> bool | None:
    norm = normalize(text)
    clause = re.split(r"[,.;]|\b(?:mas|but|porem|only|so que)\b", norm)[0]
    # laughter ("kkkk") would squeeze into "k", which means "ok"
    raw_tokens = [t for t in clause.split() if not _LAUGHTER_RE.match(t)]
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
        # single letters ("s", "n", "y") only count as a whole answer
        if any(t in _NO_WORDS and (len(t) > 1 or len(tokens) == 1) for t in tokens):
            return False
    for tokens in variants:
        multi = [p for p in _YES_PHRASES if len(p) > 1 or len(p[0]) > 1]
        if _contains_phrase(tokens, multi):
            return True
        if len(tokens) == 1 and (tokens[0],) in _YES_PHRASES:
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


# ----------------------------------------------------------------------------- e-mail, CPF, CEP

_EMAIL_RE = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,24}(?![a-z0-9\-])")


def parse_email(text: str) -> str | None:
    """First valid e-mail address in the text, lowercased."""
    for m in _EMAIL_RE.finditer((text or "").lower()):
        email = m.group(0)
        local, _, domain = email.partition("@")
        if local.startswith(".") or local.endswith(".") or ".." in email:
            continue
        if any(not label or label.startswith("-") or label.endswith("-") for label in domain.split(".")):
            continue
        return email
    return None


_CPF_RE = re.compile(r"(?<![\d])(\d{3})[.\s]?(\d{3})[.\s]?(\d{3})[-.\s/]?(\d{2})(?![\d])")


def _cpf_valid(digits: str) -> bool:
    if len(digits) != 11 or digits == digits[0] * 11:
        return False
    for n in (9, 10):
        total = sum(int(digits[i]) * (n + 1 - i) for i in range(n))
        if (total * 10) % 11 % 10 != int(digits[n]):
            return False
    return True


def parse_cpf(text: str) -> str | None:
    """First CPF with valid check digits, digits only ("123.456.789-09" -> "12345678909")."""
    for m in _CPF_RE.finditer(unidecode(text or "")):
        digits = "".join(m.groups())
        if _cpf_valid(digits):
            return digits
    return None


_CEP_RE = re.compile(r"(?<![\d.,\-])(\d{2})\.?(\d{3})[-.]?(\d{3})(?![\d]|[.,\-]\d)")


def _find_cep(text: str) -> re.Match[str] | None:
    for m in _CEP_RE.finditer(text):
        if "".join(m.groups()) != "00000000":
            return m
    return None


def parse_cep(text: str) -> str | None:
    """Brazilian postal code as "01310-100" ("01310100", "01.310-100" and "CEP 01310-100" accepted)."""
    m = _find_cep(unidecode(text or ""))
    if not m:
        return None
    a, b, c = m.groups()
    return f"{a}{b}-{c}"


# ----------------------------------------------------------------------------- address


class AddressParts(BaseModel):
    """Pieces of a Brazilian delivery address; values keep the customer's casing and accents."""

    model_config = ConfigDict(frozen=True)

    street: str | None = None
    number: str | None = None
    complement: str | None = None
    neighborhood: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    reference: str | None = None

    def missing(self) -> list[str]:
        """Required fields still missing, among street, number and neighborhood."""
        return [f for f in ("street", "number", "neighborhood") if getattr(self, f) is None]


_UFS = frozenset("AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split())
_STREET_TYPES = frozenset(
    "rua r avenida av avda alameda al travessa tv trav estrada estr est rodovia rod praca pca pc "
    "largo lgo viela beco servidao passagem ladeira parque marginal".split()
)
_COMPLEMENT_WORDS = frozenset(
    "apto apt ap apartamento aptos bloco bl blc casa cs fundos sala sl conjunto conj cj loja lj "
    "andar torre lote lt quadra qd edificio ed edif condominio cond kitnet kit sobrado terreo "
    "cobertura box galpao predio".split()
)
_COMPLEMENT_NO_VALUE = frozenset("fundos sobrado terreo cobertura kitnet".split())
_NUMBER_MARKERS = frozenset("n no n. nro nr num numero ndeg #".split())
_REFERENCE_STARTS = _phrases(
    "perto|proximo|proxima|ao lado|do lado|em frente|na frente|de frente|frente|atras|esquina|"
    "ref|referencia|ponto de referencia|depois do|depois da|antes do|antes da|entre|near|next to|"
    "across|behind|opposite|in front|close to"
)
_ADDRESS_PREFIX_WORDS = frozenset(
    "meu minha endereco e eh na no em moro mora fica entrega entregar pode ser my address is its "
    "at on the aqui eu sera vai o a ta esta".split()
)
_KNOWN_CITIES = frozenset(
    {
        "sao paulo", "rio de janeiro", "belo horizonte", "curitiba", "porto alegre", "salvador",
        "recife", "fortaleza", "brasilia", "manaus", "belem", "goiania", "campinas", "florianopolis",
        "vitoria", "natal", "joao pessoa", "maceio", "aracaju", "teresina", "sao luis", "cuiaba",
        "campo grande", "porto velho", "rio branco", "macapa", "boa vista", "palmas", "guarulhos",
        "niteroi", "santos", "osasco", "sao bernardo do campo", "santo andre", "ribeirao preto",
        "sorocaba", "uberlandia", "juiz de fora", "londrina", "joinville", "contagem",
        "sao jose dos campos", "jundiai", "piracicaba", "bauru", "maringa", "blumenau", "caxias do sul",
        "pelotas", "feira de santana", "duque de caxias", "nova iguacu", "sao goncalo", "barueri",
    }
)  # fmt: skip
_ADDR_NUMBER_RE = re.compile(r"^\d{1,6}(?:-?[a-z])?$")
_ADDR_SN_RE = re.compile(r"^s/?n(?:o|deg)?\.?$")
_ADDR_GLUED_NUMBER_RE = re.compile(r"^(?:n|no|ndeg|nro|num|numero|#)\.?(\d{1,6}[a-z]?)$")
_COMPLEMENT_VALUE_RE = re.compile(r"^(?:\d{1,5}[a-z]?|[a-z]|[a-z]\d{1,4}|\d{1,3}o|[ivx]{1,4})$")


def _addr_key(token: str) -> str:
    return unidecode(token).lower().strip(".,:;()\"'")


def _clean_value(tokens: Sequence[str]) -> str | None:
    value = " ".join(tokens).strip(" ,;:-")
    if value.endswith(".") and len(tokens) > 1:
        value = value.rstrip(".")
    return value or None


def _number_at(keys: Sequence[str], i: int) -> tuple[int, int] | None:
    """(index of the number token, tokens consumed) when an address number starts at i."""
    k = keys[i]
    if _ADDR_NUMBER_RE.match(k) or _ADDR_SN_RE.match(k) or _ADDR_GLUED_NUMBER_RE.match(k):
        return i, 1
    nxt = keys[i + 1] if i + 1 < len(keys) else ""
    if k in _NUMBER_MARKERS and (_ADDR_NUMBER_RE.match(nxt) or _ADDR_SN_RE.match(nxt)):
        return i + 1, 2
    if k == "sem" and nxt == "numero":
        return i, 2
    return None


def _number_text(tokens: Sequence[str], keys: Sequence[str], idx: int, used: int) -> str:
    k = keys[idx]
    if k == "sem":
        return "s/n"
    glued = _ADDR_GLUED_NUMBER_RE.match(k)
    if glued and not _ADDR_NUMBER_RE.match(k):
        return glued.group(1).upper() if glued.group(1)[-1:].isalpha() else glued.group(1)
    return tokens[idx].strip(".,;:")


def _could_be_street_name(words: Sequence[str]) -> bool:
    """Whether words without a street type ("Augusta", "Paulista") can name a street ("quero 2" cannot)."""
    keys = [_addr_key(w) for w in words]
    if not keys or len(keys) > 5 or any(k.startswith("x-") for k in keys):
        return False
    return not any(k in _NOT_STREET for k in keys)


def _could_be_place(value: str) -> bool:
    """Whether leftover text can be a neighborhood, city or reference ("Bom Retiro" yes, "quero pizza" no)."""
    keys = [_addr_key(w) for w in value.split()]
    if not keys or "@" in value:
        return False
    return not any(k in _NOT_PLACE or k.startswith("x-") for k in keys)


def _known_city_suffix(keys: Sequence[str]) -> int:
    """How many trailing tokens spell a known city (0 if none)."""
    for size in range(min(5, len(keys)), 0, -1):
        if " ".join(keys[-size:]) in _KNOWN_CITIES:
            return size
    return 0


def _reference_index(keys: Sequence[str]) -> int | None:
    for i in range(len(keys)):
        if any(tuple(keys[i : i + len(p)]) == p for p in _REFERENCE_STARTS):
            # "frente" alone is too loose in the middle of a street name
            if keys[i] == "frente" and i > 0 and keys[i - 1] not in {"em", "na", "de"}:
                continue
            return i
    return None


class _AddressBuilder:
    def __init__(self) -> None:
        self.fields: dict[str, str | None] = dict.fromkeys(AddressParts.model_fields)
        self.free: list[tuple[int, str]] = []
        self.references: list[str] = []
        self.complements: list[str] = []
        self.state_segment: int | None = None
        self.number_segment: int | None = None

    def set(self, name: str, value: str | None) -> None:
        if value and self.fields[name] is None:
            self.fields[name] = value

    def tail(self, tokens: list[str], seg: int) -> None:
        """Complement, neighborhood and reference found after the street and number."""
        keys = [_addr_key(t) for t in tokens]
        ref = _reference_index(keys)
        if ref is not None:
            value = _clean_value(tokens[ref:])
            if value:
                self.references.append(value)
            tokens, keys = tokens[:ref], keys[:ref]
        i = 0
        comp: list[str] = []
        while i < len(keys):
            k = keys[i]
            nxt = keys[i + 1] if i + 1 < len(keys) else ""
            if k in _COMPLEMENT_WORDS:
                comp.append(tokens[i])
                i += 1
                if k not in _COMPLEMENT_NO_VALUE and i < len(keys) and _COMPLEMENT_VALUE_RE.match(keys[i]):
                    comp.append(tokens[i])
                    i += 1
                continue
            if re.match(r"^\d{1,3}(?:o|a|deg)?$", k) and nxt == "andar":
                comp.extend(tokens[i : i + 2])
                i += 2
                continue
            break
        if comp:
            value = _clean_value(comp)
            if value:
                self.complements.append(value)
        rest = tokens[i:]
        rest_keys = keys[i:]
        if len(rest) > 1 and rest_keys[-1].upper() in _UFS and rest_keys[-2] not in _COMPLEMENT_WORDS:
            city_len = _known_city_suffix(rest_keys[:-1])
            if rest[-1].isupper() or city_len:
                self.set("state", rest_keys[-1].upper())
                rest, rest_keys = rest[:-1], rest_keys[:-1]
        city_len = _known_city_suffix(rest_keys)
        if city_len and city_len < len(rest):
            self.set("city", _clean_value(rest[-city_len:]))
            rest, rest_keys = rest[:-city_len], rest_keys[:-city_len]
        if not rest:
            return
        if rest_keys[0] == "bairro":
            self.set("neighborhood", _clean_value(rest[1:]))
            return
        if rest_keys[0] == "cep":
            return
        value = _clean_value(rest)
        if value:
            self.free.append((seg, value))

    def street_segment(self, tokens: list[str], start: int, seg: int, typed: bool = True) -> None:
        keys = [_addr_key(t) for t in tokens]
        name: list[str] = [tokens[start]]
        i = start + 1
        if typed and i < len(keys) and keys[i].isdigit():
            # "Rua 10", "Avenida 23 de Maio": a number right after the type names the street
            name.append(tokens[i])
            i += 1
        while i < len(keys):
            k = keys[i]
            nxt = keys[i + 1] if i + 1 < len(keys) else ""
            if k.isdigit() and nxt in {"de", "do", "da"}:
                name.append(tokens[i])
                i += 1
                continue
            found = _number_at(keys, i)
            if found:
                idx, used = found
                self.set("street", _clean_value(name))
                if self.fields["number"] is None:
                    self.fields["number"] = _number_text(tokens, keys, idx, used)
                    self.number_segment = seg
                self.tail(tokens[i + used :], seg)
                return
            if k in _COMPLEMENT_WORDS or _reference_index(keys[i : i + 3]) == 0 or k == "bairro":
                break
            name.append(tokens[i])
            i += 1
        self.set("street", _clean_value(name))
        self.tail(tokens[i:], seg)

    def segment(self, text: str, seg: int, last_segment: bool = False) -> None:
        tokens = text.split()
        if not tokens:
            return
        keys = [_addr_key(t) for t in tokens]
        # "Campinas/SP" and "São Paulo SP"
        last = tokens[-1]
        slash = re.match(r"^(.*\S)/([A-Za-z]{2})\.?$", last)
        if slash and slash.group(2).upper() in _UFS and not _ADDR_SN_RE.match(keys[-1]):
            self.set("state", slash.group(2).upper())
            self.state_segment = seg
            tokens = [*tokens[:-1], slash.group(1)]
            keys = [_addr_key(t) for t in tokens]
            self.set("city", _clean_value(tokens))
            return
        bare = tokens[0].strip(".")
        if len(tokens) == 1 and bare.upper() in _UFS and (bare.isupper() or last_segment):
            self.set("state", bare.upper())
            self.state_segment = seg
            return
        if len(tokens) > 1 and last.strip(".") in _UFS and keys[0] not in _STREET_TYPES:
            if keys[-2] not in _COMPLEMENT_WORDS:
                self.set("state", last.strip("."))
                self.state_segment = seg
                self.set("city", _clean_value(tokens[:-1]))
                return
        if keys[0] == "cep":
            return
        if keys[0] == "cidade":
            self.set("city", _clean_value(tokens[1:]))
            return
        if keys[0] == "bairro":
            self.set("neighborhood", _clean_value(tokens[1:]))
            return
        if _reference_index(keys[:3]) == 0:
            self.tail(tokens, seg)
            return
        if self.fields["street"] is None:
            for i, k in enumerate(keys[:6]):
                only_prefix = all(x in _ADDRESS_PREFIX_WORDS for x in keys[:i])
                if k in _STREET_TYPES and i + 1 < len(keys) and only_prefix:
                    self.street_segment(tokens, i, seg)
                    return
        if self.fields["number"] is None:
            found = _number_at(keys, 0)
            if found:
                idx, used = found
                self.fields["number"] = _number_text(tokens, keys, idx, used)
                self.number_segment = seg
                self.tail(tokens[used:], seg)
                return
            if self.fields["street"] is None and seg == 0:
                # "augusta 500 consolação": no street type, but words then a number
                for i in range(1, len(keys)):
                    hit = _number_at(keys, i)
                    if hit and not any(_number_at(keys, j) for j in range(i)):
                        if _could_be_street_name(keys[:i]):
                            self.street_segment(tokens, 0, seg, typed=False)
                            return
                        break
        self.tail(tokens, seg)

    def build(self) -> AddressParts:
        free = [(seg, value) for seg, value in self.free if _could_be_place(value)]
        if self.fields["city"] is None and free:
            city_idx: int | None = None
            if self.state_segment is not None:
                for j, (seg, _) in enumerate(free):
                    if seg == self.state_segment - 1:
                        city_idx = j
            if city_idx is None:
                for j, (_, value) in enumerate(free):
                    if _addr_key(value) in _KNOWN_CITIES and (len(free) > 1 or self.fields["neighborhood"]):
                        city_idx = j
            if city_idx is not None:
                self.fields["city"] = free.pop(city_idx)[1]
        if self.fields["street"] is None and free and self.number_segment is not None:
            # "Paulista, 1000": the words before the number are the street
            if free[0][0] < self.number_segment and _could_be_street_name(free[0][1].split()):
                self.fields["street"] = free.pop(0)[1]
        if free and self.fields["neighborhood"] is None:
            self.fields["neighborhood"] = free.pop(0)[1]
        self.references.extend(value for _, value in free)
        if self.complements:
            self.fields["complement"] = ", ".join(self.complements)
        if self.references:
            self.fields["reference"] = ", ".join(self.references)
        return AddressParts(**self.fields)


def parse_address(text: str) -> AddressParts:
    """Split a free-text Brazilian address into street, number, complement, neighborhood, city, etc."""
    builder = _AddressBuilder()
    if not text or not text.strip():
        return builder.build()
    text = re.sub(r"[–—]", "-", text)
    cep = _find_cep(text)
    if cep:
        a, b, c = cep.groups()
        builder.fields["postal_code"] = f"{a}{b}-{c}"
        text = text[: cep.start()] + " " + text[cep.end() :]
        text = re.sub(r"\bCEP\b:?", " ", text, flags=re.IGNORECASE)
    segments = [s.strip() for s in re.split(r"\s*[,;\n|]\s*|\s+-+\s+|\s+-+$|^-+\s+", text)]
    segments = [s for s in segments if s and s.strip(" .-")]
    for seg, piece in enumerate(segments):
        builder.segment(piece, seg, last_segment=seg == len(segments) - 1)
    return builder.build()


# ----------------------------------------------------------------------------- names

_NAME_PREFIXES = _phrases(
    "meu nome e|meu nome eh|meu nome|o meu nome e|nome|me chamo|eu me chamo|pode me chamar de|"
    "podem me chamar de|pode chamar de|me chama de|me chamam de|sou o|sou a|sou|eu sou o|"
    "eu sou a|eu sou|aqui e o|aqui e a|aqui e|aqui eh o|aqui eh a|quem fala e o|quem fala e a|"
    "e o|e a|fala o|fala a|my name is|my names|name is|im|i am|this is|call me|you can call me|"
    "its|it is|name"
)
_NAME_PARTICLES = frozenset("de da do dos das e di du del della van von der la le y".split())
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
        key = unidecode(stripped).lower()
        if cleaned and key in _NAME_STOP and key not in _NAME_PARTICLES:
            break
        if cleaned and key == "e" and not strict:
            break
        cleaned.append(stripped)
        if end:
            break
    while cleaned and unidecode(cleaned[-1]).lower() in _NAME_PARTICLES:
        cleaned.pop()
    if not cleaned or len(cleaned) > 5:
        return None
    keys = [unidecode(t).lower().rstrip(".") for t in cleaned]
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
    keys = [_APOSTROPHES_RE.sub("", _addr_key(t)) for t in tokens]
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
    return _name_candidate(stripped, strict=True)


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
    s = unidecode(text).lower()
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


# ----------------------------------------------------------------------------- fuzzy matching


class FuzzyHit(BaseModel):
    """A candidate that matched a query, with its position in the input and a 0..100 score."""

    model_config = ConfigDict(frozen=True)

    candidate: str
    index: int
    score: float


_FUZZY_STOPWORDS = frozenset("de do da dos das com e the of and a o em no na with".split())
_FUZZY_NUMBERS: dict[str, str] = {w: str(v) for w, v in _NUMBER_WORDS.items() if v >= 2 and w != "cem"}
_PLURAL_RULES: tuple[tuple[str, str], ...] = (
    ("oes", "ao"), ("aes", "ao"), ("ais", "al"), ("eis", "el"), ("ois", "ol"), ("res", "r"),
    ("zes", "z"), ("ns", "m"),
)  # fmt: skip


def _singular(token: str) -> str:
    if len(token) < 4 or any(ch.isdigit() for ch in token):
        return token
    if len(token) >= 5:
        for suffix, repl in _PLURAL_RULES:
            if token.endswith(suffix):
                return token[: -len(suffix)] + repl
    if token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def _fuzzy_tokens(text: str) -> list[str]:
    norm = re.sub(r"[-/,+.@]", " ", normalize(text))
    tokens = [t for t in norm.split() if t not in _FUZZY_STOPWORDS]
    # "4 queijos" and "quatro queijos" are the same pizza
    return [_singular(_FUZZY_NUMBERS.get(t, t)) for t in tokens]


def _token_score(q: str, c: str) -> float:
    if q == c:
        return 100.0
    if len(q) >= 3 and c.startswith(q):
        return 80.0 + 15.0 * len(q) / len(c)
    if len(q) < 3 or len(c) < 3:
        return 0.0
    return float(fuzz.ratio(q, c))


def _match_score(qtoks: list[str], ctoks: list[str]) -> float:
    if not qtoks or not ctoks:
        return 0.0
    if "".join(qtoks) == "".join(ctoks):
        return 100.0
    # joined neighbours let "xsalada" meet "x salada" and "cocacola" meet "coca cola"
    extended = [(t, {j}) for j, t in enumerate(ctoks)]
    extended += [(ctoks[j] + ctoks[j + 1], {j, j + 1}) for j in range(len(ctoks) - 1)]
    total = 0.0
    covered: set[int] = set()
    for q in qtoks:
        best, best_cover = 0.0, set[int]()
        for c, cover in extended:
            s = _token_score(q, c)
            if s > best:
                best, best_cover = s, cover
        total += best
        if best >= 80:
            covered |= best_cover
    mean = total / len(qtoks)
    coverage = len(covered) / len(ctoks)
    return max(0.0, min(100.0, mean - 8.0 * (1.0 - coverage)))


def fuzzy_find(
    query: str,
    candidates: Sequence[str],
    *,
    limit: int = 5,
    cutoff: float = 60.0,
) -> list[FuzzyHit]:
    """Best menu-style matches for query: accent/case-insensitive, plural- and typo-tolerant."""
    qtoks = _fuzzy_tokens(query or "")
    if not qtoks or limit <= 0:
        return []
    hits: list[FuzzyHit] = []
    for index, candidate in enumerate(candidates):
        score = round(_match_score(qtoks, _fuzzy_tokens(candidate)), 2)
        if score >= cutoff:
            hits.append(FuzzyHit(candidate=candidate, index=index, score=score))
    hits.sort(key=lambda h: (-h.score, h.index))
    return hits[:limit]


# ----------------------------------------------------------------------------- shared word lists

_NON_NAMES = frozenset(
    set(_GREETINGS)
    | {w for p in _LEADING_FILLERS for w in p if len(w) > 2}
    | {w for p in _YES_PHRASES for w in p}
    | _NO_WORDS
    | set(_NUMBER_WORDS)
    | _STREET_TYPES
    | {
        "pizza", "pizzas", "coca", "refri", "refrigerante", "lanche", "hamburguer", "burger", "x",
        "pedido", "pedir", "cardapio", "menu", "entrega", "delivery", "retirada", "retirar",
        "buscar", "pix", "cartao", "dinheiro", "troco", "credito", "debito", "cash", "card",
        "obrigado", "obrigada", "valeu", "vlw", "obg", "thanks", "thank", "ajuda", "help", "teste",
        "test", "cancelar", "sair", "voltar", "oi", "ola", "hello", "hi", "hey", "sim",
        "nao", "ok", "quanto", "qual", "quais", "como", "onde", "quando", "que", "what", "how",
        "where", "when", "which", "who", "why", "tem", "tudo", "bem", "endereco", "address", "rua",
        "avenida", "bairro", "cep", "cpf", "email", "name", "nome", "sem", "com", "with", "without",
        "bebida", "bebidas", "sobremesa", "combo", "promocao", "horario", "aberto", "fechado",
        "frete", "taxa", "preco", "valor", "comida", "fome", "mesa", "the", "you", "your", "is",
        "are", "i", "me", "eu", "voce", "vc", "vcs", "order", "food", "drink", "coke", "fries",
        "salada", "suco", "agua", "cerveja", "batata", "frango", "queijo", "carne", "lasanha",
        "esfiha", "coxinha", "pastel", "acai", "sushi", "temaki", "marmita", "prato",
        "please", "pfv", "blz", "kkk", "kkkk", "haha", "rsrs", "nada", "algo", "alguma", "coisa",
        "gostaria", "quero", "queria", "mais", "menos", "isso", "esse", "essa", "aquele", "pode",
        "hungry", "vegetariano", "vegetariana", "vegano", "vegana", "vegan", "vegetarian",
        "celiaco", "celiaca", "alergico", "alergica", "cliente", "customer", "novo", "nova", "new",
        "daqui", "here", "back", "ready", "pronto", "pronta", "sorry", "desculpa", "cansado",
        "cansada", "fine", "great", "good", "going", "looking", "interested", "interessado",
        "interessada", "estudante", "morador", "moradora", "vizinho", "vizinha", "gay", "casado",
        "casada", "solteiro", "solteira", "brasileiro", "brasileira", "from", "in", "at",
    }
)  # fmt: skip

_KNOWN_WORDS = frozenset(
    set(_PT_WORDS)
    | set(_EN_WORDS)
    | set(_NUMBER_WORDS)
    | _NON_NAMES
    | _TOPPINGS
    | {w for p in _ANYWHERE_FILLERS for w in p}
    | {
        "pfv", "pfvr", "blz", "vlw", "tbm", "tmb", "msm", "cmg", "ctz", "obg", "qnd", "qnto", "hj",
        "dps", "mto", "mt", "nd", "kd", "pq", "td", "vc", "vcs", "qro", "qr", "pls", "plz", "thx",
        "omg", "btw", "brb", "tks", "sqn", "bjs", "bj", "flw", "fds", "vdd", "tlgd", "mds", "pprt",
        "x", "xtudo", "xsalada", "xbacon", "xburger", "cpf", "cep", "pix", "whatsapp", "zap",
    }
)  # fmt: skip

# words that never appear in a neighborhood or city name, so leftovers holding them are not address parts
_FILLER_WORDS = {w for p in _LEADING_FILLERS for w in p if len(w) > 2}
_YES_WORDS = {w for p in _YES_PHRASES for w in p if len(w) > 2}
_NOT_PLACE = frozenset(
    (_FILLER_WORDS - _GREETINGS - {"mais", "plus", "well", "bem", "certo"})
    | (_YES_WORDS - {"top", "show", "claro", "massa", "deal"})
    | (_NO_WORDS - {"nunca"})
    | frozenset(
        "pizza pizzas coca refri refrigerante lanche lanches hamburguer burger pix cartao dinheiro troco cpf "
        "email cardapio menu pedido sem com with without quanto qual quais custa preco valor reais entrega "
        "delivery obrigado obrigada valeu vlw thanks cancelar pagar pagamento cebola bacon nome name meu my "
        "minha sou chamo".split()
    )
)
_NOT_STREET = (_NON_NAMES - _NAME_PARTICLES) | _TOPPINGS | frozenset(_NUMBER_WORDS)
