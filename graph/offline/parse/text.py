"""Normalising what customers write, the vocabulary the parsers share, and telling pt-BR from English."""

from __future__ import annotations

import re
from typing import Literal

from unidecode import unidecode

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
_STREET_TYPES = frozenset(
    "rua r avenida av avda alameda al travessa tv trav estrada estr est rodovia rod praca pca pc "
    "largo lgo viela beco servidao passagem ladeira parque marginal".split()
)
_NAME_PARTICLES = frozenset("de da do dos das e di du del della van von der la le y".split())

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
