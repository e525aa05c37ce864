"""The vocabulary the offline model's parsers share (fillers, toppings, numbers, street types, ...).

Normalising text, telling languages apart, yes/no and noise detection live in `graph.language`, which
production code uses too; the names are re-exported here for the parsers.
"""

from __future__ import annotations

import re
from typing import Literal

from graph.language.locale import Locale, detect_locale
from graph.language.noise import is_gibberish_or_empty
from graph.language.text import normalize
from graph.language.text import phrases as _phrases
from graph.language.yesno import NO_WORDS as _NO_WORDS
from graph.language.yesno import YES_PHRASES as _YES_PHRASES

__all__ = ["Locale", "PaymentMethod", "detect_locale", "is_gibberish_or_empty", "normalize"]

PaymentMethod = Literal["pix", "card", "cash"]


# ----------------------------------------------------------------------------- vocabulary

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
# "sem cebola sempre": a standing preference said with the order; it is the memory's to keep (tools/memory), not
# part of the removal. "da próxima vez" is not here: "da próxima vez sem cebola" is not about this order
_STANDING = _phrases(
    "sempre|sempre assim|toda vez|todas as vezes|de agora em diante|daqui pra frente|always|every time|from now on"
)
# what closes a request without being part of it: "sem cebola sempre, tá?"
_TAG_QUESTIONS = _phrases("ta|ta bom|ta bem|ta ok|ok|okay|viu|ne|beleza|blz|certo|combinado|right|alright|yeah")
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


_STREET_TYPES = frozenset(
    "rua r avenida av avda alameda al travessa tv trav estrada estr est rodovia rod praca pca pc "
    "largo lgo viela beco servidao passagem ladeira parque marginal".split()
)
_NAME_PARTICLES = frozenset("de da do dos das e di du del della van von der la le y".split())

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
