"""Unit tests for the offline chat model's text understanding (graph/offline/parsing.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from graph.offline.parsing import (
    AddressParts,
    FuzzyHit,
    LineRequest,
    PaymentChoice,
    detect_locale,
    fuzzy_find,
    is_gibberish_or_empty,
    normalize,
    parse_address,
    parse_cep,
    parse_cpf,
    parse_email,
    parse_money,
    parse_name,
    parse_payment,
    parse_quantity_word,
    parse_yes_no,
    split_order_lines,
)

Line = tuple[int | None, str, list[str], list[str]]


def lines_of(text: str) -> list[Line]:
    """The order lines of a message as (qty, item, removals, additions) tuples."""
    return [(ln.qty, ln.item, ln.removals, ln.additions) for ln in split_order_lines(text)]


# ----------------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pão de Queijo!!", "pao de queijo"),
        ("  QUERO   uma   PIZZA  ", "quero uma pizza"),
        ("Açaí com granola 🍓🍌", "acai com granola"),
        ("x-salada", "x-salada"),
        ("X-Salada", "x-salada"),
        ("R$ 32,90", "r 32,90"),
        ("joao.silva@gmail.com", "joao.silva@gmail.com"),
        ("2 pizzas + 1 coca", "2 pizzas + 1 coca"),
        ("s/n", "s/n"),
        ("sem cebola,tomate", "sem cebola, tomate"),
        ("oi!!! tudo bem???", "oi tudo bem"),
        ("-3 pizzas", "-3 pizzas"),
        ("pizza - grande", "pizza grande"),
        ("i'd like a coke", "id like a coke"),
        ("I’m here", "im here"),
        ("Av. Paulista", "av paulista"),
        ("fim.", "fim"),
        ("3.5 litros", "3.5 litros"),
        ("\n\tlinha\n", "linha"),
        ("(11) 98765-4321", "11 98765-4321"),
        ("👍", ""),
        ("", ""),
        ("...", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize("text", ["Pão de Queijo!!", "Me vê 2 X-Búrguer, sem cebola...", "R$ 1.234,50"])
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


# ----------------------------------------------------------------------------- detect_locale


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i want a pizza", "en"),
        ("quero uma pizza", "pt-BR"),
        ("hi", "en"),
        ("oi", "pt-BR"),
        ("hello, can I order?", "en"),
        ("ok", None),
        ("👍", None),
        ("x-salada", None),
        ("", None),
        ("pizza", None),
        ("2", None),
        ("qro 2 pizza pfv", "pt-BR"),
        ("vc tem coca?", "pt-BR"),
        ("boa noite, qual o cardápio?", "pt-BR"),
        ("Olá! Gostaria de fazer um pedido", "pt-BR"),
        ("what's on the menu today?", "en"),
        ("can I get 2 burgers with cheese please", "en"),
        ("thanks!", "en"),
        ("obrigado!", "pt-BR"),
        ("blz, valeu", "pt-BR"),
        ("yes please", "en"),
        ("sim, pode mandar", "pt-BR"),
        ("does it come with fries?", "en"),
        ("não", "pt-BR"),
    ],
)
def test_detect_locale(text: str, expected: str | None) -> None:
    assert detect_locale(text) == expected


# ----------------------------------------------------------------------------- gibberish


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\n\t", "👍", "😂😂😂", "🍕🍕", "?", "...", "!!!???", "asdkjhasd", "asdasd", "qwerty",
     "hfhfhfhf", "jdjdjdjd", "ajsdhaksjd", "sdfgsdfg", "lkjlkj", "zxcvb", "çlkjç", "asdkjh qwpoeiru"],
)  # fmt: skip
def test_gibberish_or_empty(text: str) -> None:
    assert is_gibberish_or_empty(text) is True


@pytest.mark.parametrize(
    "text",
    ["oi", "ok", "s", "n", "1", "123", "pizza", "x-salada", "quero 2 pizzas", "qro 2 pizza pfv", "blz",
     "vlw", "tbm", "obg", "pfvr", "kkkkk", "hahaha", "rsrs", "hmm", "schweppes", "strogonoff",
     "mcdonalds", "Thiago", "Yasmin", "hi", "thx", "brigadeiro", "asdkjhasd pizza", "sim 👍",
     "chopp", "cheeseburger", "Rua das Flores 123"],
)  # fmt: skip
def test_not_gibberish(text: str) -> None:
    assert is_gibberish_or_empty(text) is False


# ----------------------------------------------------------------------------- parse_quantity_word


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("2", 2), ("02", 2), ("10", 10), ("1000", 1000), ("0", 0), ("-3", -3), ("2x", 2), ("x2", 2),
        ("3un", 3), ("uma", 1), ("um", 1), ("Uma", 1), ("a", 1), ("an", 1), ("one", 1), ("dois", 2),
        ("duas", 2), ("tres", 3), ("três", 3), ("treis", 3), ("quatro", 4), ("cinco", 5), ("seis", 6),
        ("sete", 7), ("oito", 8), ("nove", 9), ("dez", 10), ("onze", 11), ("doze", 12), ("treze", 13),
        ("quatorze", 14), ("catorze", 14), ("quinze", 15), ("dezesseis", 16), ("dezessete", 17),
        ("dezoito", 18), ("dezenove", 19), ("vinte", 20), ("two", 2), ("three", 3), ("four", 4),
        ("five", 5), ("six", 6), ("seven", 7), ("eight", 8), ("nine", 9), ("ten", 10), ("eleven", 11),
        ("twelve", 12), ("thirteen", 13), ("fourteen", 14), ("fifteen", 15), ("sixteen", 16),
        ("seventeen", 17), ("eighteen", 18), ("nineteen", 19), ("twenty", 20), ("TWO", 2),
    ],
)  # fmt: skip
def test_parse_quantity_word(token: str, expected: int) -> None:
    assert parse_quantity_word(token) == expected


@pytest.mark.parametrize(
    "token",
    [
        "",
        "pizza",
        "meia",
        "duzia",
        "x",
        "x-salada",
        "2l",
        "350ml",
        "1,5",
        "uns",
        "umas",
        "some",
        "meia duzia",
    ],
)
def test_parse_quantity_word_rejects(token: str) -> None:
    assert parse_quantity_word(token) is None


# ----------------------------------------------------------------------------- split_order_lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # the examples from the spec
        (
            "quero 2 pizzas margherita grandes sem manjericão e uma coca lata",
            [(2, "pizzas margherita grandes", ["manjericao"], []), (1, "coca lata", [], [])],
        ),
        (
            "me ve um x-salada sem cebola e sem tomate, com bacon extra",
            [(1, "x-salada", ["cebola", "tomate"], ["bacon extra"])],
        ),
        ("duas cocas", [(2, "cocas", [], [])]),
        ("meia dúzia de coxinhas", [(6, "coxinhas", [], [])]),
        ("meia duzia de coxinhas", [(6, "coxinhas", [], [])]),
        ("uma duzia de esfihas", [(12, "esfihas", [], [])]),
        ("uma dúzia de pão de queijo", [(12, "pao de queijo", [], [])]),
        ("2 duzias de coxinha", [(24, "coxinha", [], [])]),
        ("a dozen wings", [(12, "wings", [], [])]),
        ("half a dozen donuts", [(6, "donuts", [], [])]),
        (
            "a pizza calabresa with stuffed crust catupiry and 2 cokes",
            [(1, "pizza calabresa", [], ["stuffed crust catupiry"]), (2, "cokes", [], [])],
        ),
        ("x-tudo", [(None, "x-tudo", [], [])]),
        ("-3 pizzas", [(-3, "pizzas", [], [])]),
        ("0 coca", [(0, "coca", [], [])]),
        ("1000 x-salada", [(1000, "x-salada", [], [])]),
        ("pizza de frango com catupiry", [(None, "pizza de frango", [], ["catupiry"])]),
        # removals and additions
        ("x-salada sem cebola e tomate", [(None, "x-salada", ["cebola", "tomate"], [])]),
        ("x-burguer com bacon e ovo", [(None, "x-burguer", [], ["bacon", "ovo"])]),
        ("x-salada sem cebola nem tomate", [(None, "x-salada", ["cebola", "tomate"], [])]),
        ("um x-bacon tira a cebola", [(1, "x-bacon", ["cebola"], [])]),
        ("um x-bacon, tirar o picles", [(1, "x-bacon", ["picles"], [])]),
        ("x-salada sem cebola com bacon", [(None, "x-salada", ["cebola"], ["bacon"])]),
        ("x-salada sem cebola, tomate e alface", [(None, "x-salada", ["cebola", "tomate", "alface"], [])]),
        ("pizza com borda de catupiry", [(None, "pizza", [], ["borda de catupiry"])]),
        ("pizza calabresa borda de catupiry", [(None, "pizza calabresa", [], ["borda de catupiry"])]),
        ("um x-burguer com adicional de bacon", [(1, "x-burguer", [], ["bacon"])]),
        ("x-salada extra bacon", [(None, "x-salada", [], ["extra bacon"])]),
        ("burger with extra cheese", [(None, "burger", [], ["extra cheese"])]),
        ("x-salada s/ cebola", [(None, "x-salada", ["cebola"], [])]),
        ("x-salada c/ bacon", [(None, "x-salada", [], ["bacon"])]),
        ("x-salada + bacon", [(None, "x-salada", [], ["bacon"])]),
        ("agua sem gas", [(None, "agua", ["gas"], [])]),
        # several lines
        (
            "2 x-salada, 1 coca e 1 guarana",
            [(2, "x-salada", [], []), (1, "coca", [], []), (1, "guarana", [], [])],
        ),
        ("x-salada e coca", [(None, "x-salada", [], []), (None, "coca", [], [])]),
        ("2 x-salada + 2 cocas", [(2, "x-salada", [], []), (2, "cocas", [], [])]),
        ("2 pizza 1 coca", [(2, "pizza", [], []), (1, "coca", [], [])]),
        ("x-salada sem cebola, coca", [(None, "x-salada", ["cebola"], []), (None, "coca", [], [])]),
        ("x-salada sem cebola e uma coca", [(None, "x-salada", ["cebola"], []), (1, "coca", [], [])]),
        ("x-salada com bacon e 2 cocas", [(None, "x-salada", [], ["bacon"]), (2, "cocas", [], [])]),
        ("2 coxinhas; 3 pastéis", [(2, "coxinhas", [], []), (3, "pasteis", [], [])]),
        (
            "1 x-tudo\n2 coca lata\n1 batata frita",
            [(1, "x-tudo", [], []), (2, "coca lata", [], []), (1, "batata frita", [], [])],
        ),
        ("uma pizza. e uma coca.", [(1, "pizza", [], []), (1, "coca", [], [])]),
        ("1 x-salada mais uma coca", [(1, "x-salada", [], []), (1, "coca", [], [])]),
        # quantities in other positions
        ("coca x2", [(2, "coca", [], [])]),
        ("coca 2x", [(2, "coca", [], [])]),
        ("2x coca", [(2, "coca", [], [])]),
        ("2 x pizza", [(2, "pizza", [], [])]),
        ("2 x salada", [(2, "x salada", [], [])]),
        ("coxinha 3 unidades", [(3, "coxinha", [], [])]),
        ("3 unidades de coxinha", [(3, "coxinha", [], [])]),
        ("mais uma coca", [(1, "coca", [], [])]),
        ("outra coca", [(1, "coca", [], [])]),
        ("another beer", [(1, "beer", [], [])]),
        ("um par de pastel", [(2, "pastel", [], [])]),
        # numbers that belong to the item name
        ("pizza quatro queijos", [(None, "pizza quatro queijos", [], [])]),
        ("quatro queijos", [(None, "quatro queijos", [], [])]),
        ("uma quatro queijos", [(1, "quatro queijos", [], [])]),
        ("2 queijos quentes", [(2, "queijos quentes", [], [])]),
        ("coca 2 litros", [(None, "coca 2 litros", [], [])]),
        ("1 refri 2l", [(1, "refri 2l", [], [])]),
        ("combo 2 com coca", [(None, "combo 2", [], ["coca"])]),
        ("dois amores", [(None, "dois amores", [], [])]),
        # things that are one dish, not two lines
        ("pizza meia calabresa e meia mussarela", [(None, "pizza meia calabresa e meia mussarela", [], [])]),
        ("pizza meio a meio calabresa e frango", [(None, "pizza meio a meio calabresa e frango", [], [])]),
        ("pizza frango e catupiry", [(None, "pizza frango e catupiry", [], [])]),
        ("fish and chips", [(None, "fish and chips", [], [])]),
        ("mac and cheese", [(None, "mac and cheese", [], [])]),
        ("x-salada no pao australiano", [(None, "x-salada no pao australiano", [], [])]),
        # slang and fillers
        ("qro 2 pizza calabresa pfv", [(2, "pizza calabresa", [], [])]),
        ("oi, quero uma pizza", [(1, "pizza", [], [])]),
        (
            "Boa noite! Quero 1 x-bacon e 2 guaraná lata",
            [(1, "x-bacon", [], []), (2, "guarana lata", [], [])],
        ),
        ("manda 3 coxinha ai pfv", [(3, "coxinha", [], [])]),
        (
            "vou querer 2 hamburgueres e uma porção de batata",
            [(2, "hamburgueres", [], []), (1, "porcao de batata", [], [])],
        ),
        ("me vê uma coca lata por favor", [(1, "coca lata", [], [])]),
        ("pode ser uma pizza grande de calabresa", [(1, "pizza grande de calabresa", [], [])]),
        ("adiciona mais 2 cocas", [(2, "cocas", [], [])]),
        ("coloca tbm um pudim", [(1, "pudim", [], [])]),
        ("bota uma agua sem gas tb", [(1, "agua", ["gas"], [])]),
        ("blz, manda um x-egg", [(1, "x-egg", [], [])]),
        ("queria 1 marmita de frango so", [(1, "marmita de frango", [], [])]),
        ("eu quero o combo 3", [(None, "combo 3", [], [])]),
        ("e uma agua sem gas", [(1, "agua", ["gas"], [])]),
        (
            "queria pedir uma pizza grande de calabresa, sem cebola, com borda de cheddar. e 2 coca lata",
            [(1, "pizza grande de calabresa", ["cebola"], ["borda de cheddar"]), (2, "coca lata", [], [])],
        ),
        (
            "Oi boa noite! qro 1 x-tudo s/ tomate c/ bacon extra + 1 guarana 2l pfv vlw",
            [(1, "x-tudo", ["tomate"], ["bacon extra"]), (1, "guarana 2l", [], [])],
        ),
        # English
        (
            "i'd like a burger without onions and tomatoes, and a coke please",
            [(1, "burger", ["onions", "tomatoes"], []), (1, "coke", [], [])],
        ),
        ("can i get 2 cheeseburgers no pickles", [(2, "cheeseburgers", ["pickles"], [])]),
        ("burger no onions", [(None, "burger", ["onions"], [])]),
        ("one large pepperoni pizza with extra cheese", [(1, "large pepperoni pizza", [], ["extra cheese"])]),
        ("I'll have two tacos and a sprite", [(2, "tacos", [], []), (1, "sprite", [], [])]),
        ("give me twelve wings w/ ranch", [(12, "wings", [], ["ranch"])]),
        ("a burger, hold the mayo", [(1, "burger", ["mayo"], [])]),
        ("could i have a coke and 3 brownies", [(1, "coke", [], []), (3, "brownies", [], [])]),
        ("a cheese pizza", [(1, "cheese pizza", [], [])]),
        (
            "I'd like one cheeseburger with no pickles and extra bacon",
            [(1, "cheeseburger", ["pickles"], ["extra bacon"])],
        ),
        (
            "2 cokes, 1 sprite and a water",
            [(2, "cokes", [], []), (1, "sprite", [], []), (1, "water", [], [])],
        ),
        (
            "i want 2 large pizzas, one pepperoni and one margherita",
            [
                (2, "large pizzas", [], []),
                (1, "pepperoni", [], []),
                (1, "margherita", [], []),
            ],
        ),
        # realistic WhatsApp orders
        ("tem como mandar 2 coca?", [(2, "coca", [], [])]),
        ("vcs tem x-salada?", [(None, "x-salada", [], [])]),
        ("Quero pedir: 2 pizzas", [(2, "pizzas", [], [])]),
        ("x-salada (sem cebola)", [(None, "x-salada", ["cebola"], [])]),
        ("1 x-salada\n- sem cebola\n- com bacon", [(1, "x-salada", ["cebola"], ["bacon"])]),
        ("1. pizza calabresa\n2. coca 2l", [(None, "pizza calabresa", [], []), (None, "coca 2l", [], [])]),
        ("uma pizza de 8 pedaços", [(1, "pizza de 8 pedacos", [], [])]),
        ("um suco de laranja sem açúcar e sem gelo", [(1, "suco de laranja", ["acucar", "gelo"], [])]),
        (
            "Um x-tudo sem ovo. Uma batata grande. Duas cocas.",
            [
                (1, "x-tudo", ["ovo"], []),
                (1, "batata grande", [], []),
                (2, "cocas", [], []),
            ],
        ),
        (
            "1 açaí 500ml com granola, leite condensado e banana",
            [
                (1, "acai 500ml", [], ["granola", "leite condensado", "banana"]),
            ],
        ),
        (
            "Quero 2 X-Salada sem tomate e 1 X-Bacon sem cebola e com cheddar",
            [
                (2, "x-salada", ["tomate"], []),
                (1, "x-bacon", ["cebola"], ["cheddar"]),
            ],
        ),
        (
            "duas coxinhas de frango com catupiry e três kibes",
            [
                (2, "coxinhas de frango", [], ["catupiry"]),
                (3, "kibes", [], []),
            ],
        ),
        (
            "2 pizza calabresa grande e 1 pizza portuguesa media, 2 guarana 2l",
            [
                (2, "pizza calabresa grande", [], []),
                (1, "pizza portuguesa media", [], []),
                (2, "guarana 2l", [], []),
            ],
        ),
        (
            "1 pizza g meia calabresa meia frango c/ catupiry + 1 guarana 2l",
            [
                (1, "pizza g meia calabresa meia frango", [], ["catupiry"]),
                (1, "guarana 2l", [], []),
            ],
        ),
        # modifiers on their own modify the previous item in the conversation
        ("sem cebola", [(None, "", ["cebola"], [])]),
        ("com bacon", [(None, "", [], ["bacon"])]),
        ("no onions please", [(None, "", ["onions"], [])]),
    ],
)
def test_split_order_lines(text: str, expected: list[Line]) -> None:
    assert lines_of(text) == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "oi", "boa noite!", "por favor", "obrigado", "👍", "quero", "i want", "hello, please"]
)
def test_split_order_lines_without_items(text: str) -> None:
    assert split_order_lines(text) == []


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ("pizza de frango com catupiry", ["pizza de frango com catupiry"]),
        ("quero 2 cafe com leite pfv", ["cafe com leite"]),
        (
            "me ve um x-salada sem cebola e sem tomate, com bacon extra",
            ["x-salada sem cebola e sem tomate, com bacon extra"],
        ),
        (
            "quero 2 pizzas margherita grandes sem manjericão e uma coca lata",
            ["pizzas margherita grandes sem manjericao", "coca lata"],
        ),
        ("agua com gas", ["agua com gas"]),
        ("x-tudo", ["x-tudo"]),
    ],
)
def test_split_order_lines_raw_keeps_the_unsplit_phrase(text: str, raw: list[str]) -> None:
    assert [ln.raw for ln in split_order_lines(text)] == raw


def test_split_order_lines_returns_frozen_line_requests() -> None:
    (line,) = split_order_lines("2 x-salada sem cebola")
    assert isinstance(line, LineRequest)
    expected = LineRequest(
        qty=2,
        item="x-salada",
        removals=["cebola"],
        additions=[],
        raw="x-salada sem cebola",
    )
    assert line == expected
    with pytest.raises(ValidationError):
        line.qty = 3  # type: ignore[misc]


def test_split_order_lines_is_deterministic() -> None:
    text = "qro 2 x-salada sem cebola, 1 coca e meia duzia de coxinha pfv"
    assert split_order_lines(text) == split_order_lines(text)
    assert len(split_order_lines(text)) == 3


# ----------------------------------------------------------------------------- parse_yes_no


@pytest.mark.parametrize(
    "text",
    ["sim", "Sim!", "s", "S", "isso", "isso mesmo", "Isso mesmo!", "pode", "pode ser", "confirmo", "confirma",
     "ok", "OK", "okay", "beleza", "blz", "certo", "claro", "bora", "yes", "Yes!", "yep", "y", "sure",
     "correct", "👍", "👌", "✅", "sim, mas sem cebola", "simmm", "siiim", "ss", "yes please", "ta bom",
     "tá certo", "com certeza", "claro que sim", "pode sim", "acho que sim", "sem problema", "no problem",
     "isso aí", "fechado", "perfeito", "yeah sure", "sounds good", "sim 👍", "uhum", "aham", "show",
     "pode mandar", "exato", "that's right", "of course", "alright", "positivo", "sim por favor",
     "pode sim, obrigado", "confirmado!", "ok, pode fechar", "está tudo certo", "isso mesmo, pode mandar",
     "Sim sim", "SIM", "ctz", "ok 👍", "yes, but no onions", "Beleza, pode ser", "é isso", "quero sim",
     "s, pode ser", "manda ver"],
)  # fmt: skip
def test_parse_yes(text: str) -> None:
    assert parse_yes_no(text) is True


@pytest.mark.parametrize(
    "text",
    ["não", "nao", "Não!", "n", "N", "nn", "errado", "cancela", "no", "nope", "wrong", "nãooo",
     "nao, obrigado", "não quero", "claro que não", "acho que não", "pode cancelar", "ta errado", "👎",
     "❌", "nah", "no thanks", "cancelar pedido", "negativo", "nada", "not really", "nao, quero mudar",
     "Não obrigado", "No, that's wrong", "nope, cancel", "não é isso", "nao quero nada", "NAO"],
)  # fmt: skip
def test_parse_no(text: str) -> None:
    assert parse_yes_no(text) is False


@pytest.mark.parametrize(
    "text",
    ["", "   ", "quero uma pizza", "qual o valor?", "talvez", "não sei", "sei lá", "maybe", "idk",
     "pizza", "123", "Rua das Flores 123", "kkkk", "só isso", "asdkjhasd", "hmm", "👍👎", "quero"],
)  # fmt: skip
def test_parse_yes_no_undecided(text: str) -> None:
    assert parse_yes_no(text) is None


# ----------------------------------------------------------------------------- e-mail, CPF, CEP


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("joao@gmail.com", "joao@gmail.com"),
        ("meu email é Joao.Silva@Gmail.com.", "joao.silva@gmail.com"),
        ("email: FOO+bar@sub.dominio.com.br, obrigado", "foo+bar@sub.dominio.com.br"),
        ("maria_souza-1@empresa.com.br", "maria_souza-1@empresa.com.br"),
        ("a@b.co", "a@b.co"),
        ("<ana@uol.com.br>", "ana@uol.com.br"),
        ("joao@gmail", None),
        ("joao gmail.com", None),
        ("joao@@gmail.com", None),
        ("x..y@a.com", None),
        (".joao@gmail.com", None),
        ("joao@-gmail.com", None),
        ("", None),
        ("quero uma pizza", None),
    ],
)
def test_parse_email(text: str, expected: str | None) -> None:
    assert parse_email(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123.456.789-09", "12345678909"),
        ("12345678909", "12345678909"),
        ("123 456 789 09", "12345678909"),
        ("meu cpf eh 529.982.247-25", "52998224725"),
        ("CPF: 529982247-25 obrigado", "52998224725"),
        ("123.456.789-00", None),
        ("111.111.111-11", None),
        ("000.000.000-00", None),
        ("1234567890", None),
        ("123456789091", None),
        ("", None),
        ("não tenho", None),
    ],
)
def test_parse_cpf(text: str, expected: str | None) -> None:
    assert parse_cpf(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("01310-100", "01310-100"),
        ("01310100", "01310-100"),
        ("CEP: 01.310-100", "01310-100"),
        ("meu cep é 04538-133", "04538-133"),
        ("Rua X 123, 04538133", "04538-133"),
        ("cep 00000-000", None),
        ("123", None),
        ("013101000", None),
        ("0131-0100", None),
        ("", None),
    ],
)
def test_parse_cep(text: str, expected: str | None) -> None:
    assert parse_cep(text) == expected


# ----------------------------------------------------------------------------- parse_address


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Rua das Flores, 123, Apto 45, Jardim Primavera",
            {
                "street": "Rua das Flores",
                "number": "123",
                "complement": "Apto 45",
                "neighborhood": "Jardim Primavera",
            },
        ),
        (
            "Av. Paulista 1578 ap 12 - Bela Vista, São Paulo - SP, 01310-200",
            {
                "street": "Av. Paulista",
                "number": "1578",
                "complement": "ap 12",
                "neighborhood": "Bela Vista",
                "city": "São Paulo",
                "state": "SP",
                "postal_code": "01310-200",
            },
        ),
        (
            "rua augusta 500 consolação",
            {
                "street": "rua augusta",
                "number": "500",
                "neighborhood": "consolação",
            },
        ),
        (
            "Alameda Santos, 45, bloco B apto 3, Cerqueira César, perto do metrô",
            {
                "street": "Alameda Santos",
                "number": "45",
                "complement": "bloco B apto 3",
                "neighborhood": "Cerqueira César",
                "reference": "perto do metrô",
            },
        ),
        (
            "123",
            {
                "number": "123",
            },
        ),
        ("", {}),
        (
            "Rua 25 de Março, 300, Centro",
            {
                "street": "Rua 25 de Março",
                "number": "300",
                "neighborhood": "Centro",
            },
        ),
        (
            "Rua Sete de Setembro s/n, Centro",
            {
                "street": "Rua Sete de Setembro",
                "number": "s/n",
                "neighborhood": "Centro",
            },
        ),
        (
            "R. Oscar Freire, nº 900 - Jardins",
            {
                "street": "R. Oscar Freire",
                "number": "900",
                "neighborhood": "Jardins",
            },
        ),
        (
            "moro na rua das laranjeiras 45 casa 2 botafogo rio de janeiro rj",
            {
                "street": "rua das laranjeiras",
                "number": "45",
                "complement": "casa 2",
                "neighborhood": "botafogo",
                "city": "rio de janeiro",
                "state": "RJ",
            },
        ),
        (
            "Avenida Brasil 1500, Centro, Campinas/SP",
            {
                "street": "Avenida Brasil",
                "number": "1500",
                "neighborhood": "Centro",
                "city": "Campinas",
                "state": "SP",
            },
        ),
        (
            "Travessa do Ouvidor, 12 fundos, Centro",
            {
                "street": "Travessa do Ouvidor",
                "number": "12",
                "complement": "fundos",
                "neighborhood": "Centro",
            },
        ),
        (
            "meu endereço é Rua Harmonia, 300 apto 12 bloco A, Vila Madalena, CEP 05435-000",
            {
                "street": "Rua Harmonia",
                "number": "300",
                "complement": "apto 12 bloco A",
                "neighborhood": "Vila Madalena",
                "postal_code": "05435-000",
            },
        ),
        (
            "Rua 10, 250, Setor Oeste, Goiânia - GO",
            {
                "street": "Rua 10",
                "number": "250",
                "neighborhood": "Setor Oeste",
                "city": "Goiânia",
                "state": "GO",
            },
        ),
        (
            "Estrada do Campo Limpo 2000 casa 3 - Campo Limpo",
            {
                "street": "Estrada do Campo Limpo",
                "number": "2000",
                "complement": "casa 3",
                "neighborhood": "Campo Limpo",
            },
        ),
        (
            "Praça da Sé, 100 - Sé, São Paulo/SP",
            {
                "street": "Praça da Sé",
                "number": "100",
                "neighborhood": "Sé",
                "city": "São Paulo",
                "state": "SP",
            },
        ),
        (
            "Rua X 10, Vila Mariana, portão verde",
            {
                "street": "Rua X",
                "number": "10",
                "neighborhood": "Vila Mariana",
                "reference": "portão verde",
            },
        ),
        (
            "Paulista, 1000",
            {
                "street": "Paulista",
                "number": "1000",
            },
        ),
        (
            "Bela Vista",
            {
                "neighborhood": "Bela Vista",
            },
        ),
        (
            "perto do mercado",
            {
                "reference": "perto do mercado",
            },
        ),
        (
            "av brasil 200 bairro centro",
            {
                "street": "av brasil",
                "number": "200",
                "neighborhood": "centro",
            },
        ),
        (
            "Rua Bahia 45A, Higienópolis",
            {
                "street": "Rua Bahia",
                "number": "45A",
                "neighborhood": "Higienópolis",
            },
        ),
        ("Rua Dr. Arnaldo, 455", {"street": "Rua Dr. Arnaldo", "number": "455"}),
        (
            "Av. Brig. Faria Lima, 3477 - 14º andar - Itaim Bibi",
            {
                "street": "Av. Brig. Faria Lima",
                "number": "3477",
                "complement": "14º andar",
                "neighborhood": "Itaim Bibi",
            },
        ),
        (
            "Rua Augusta, 1500 apto 52 - Consolação - São Paulo",
            {
                "street": "Rua Augusta",
                "number": "1500",
                "complement": "apto 52",
                "neighborhood": "Consolação",
                "city": "São Paulo",
            },
        ),
        (
            "Av Sete de Setembro 1234, Centro, Salvador BA",
            {
                "street": "Av Sete de Setembro",
                "number": "1234",
                "neighborhood": "Centro",
                "city": "Salvador",
                "state": "BA",
            },
        ),
        (
            "rua tiradentes, numero 45, centro",
            {"street": "rua tiradentes", "number": "45", "neighborhood": "centro"},
        ),
        (
            "Rua São Bento 300 loja 2 Centro",
            {"street": "Rua São Bento", "number": "300", "complement": "loja 2", "neighborhood": "Centro"},
        ),
        (
            "Av. Atlântica, 1702, Copacabana, Rio de Janeiro - RJ, 22021-001",
            {
                "street": "Av. Atlântica",
                "number": "1702",
                "neighborhood": "Copacabana",
                "city": "Rio de Janeiro",
                "state": "RJ",
                "postal_code": "22021-001",
            },
        ),
        (
            "Rua das Acácias, 77 - Jardim das Flores - ao lado da padaria",
            {
                "street": "Rua das Acácias",
                "number": "77",
                "neighborhood": "Jardim das Flores",
                "reference": "ao lado da padaria",
            },
        ),
        (
            "Rodovia Raposo Tavares, km 20",
            {
                "street": "Rodovia Raposo Tavares",
                "neighborhood": "km 20",
            },
        ),
    ],
)
def test_parse_address(text: str, expected: dict[str, str]) -> None:
    assert parse_address(text).model_dump(exclude_none=True) == expected


@pytest.mark.parametrize(
    "text",
    ["quero 2 pizzas", "2 x-salada sem cebola", "troco pra 50", "sim", "pix", "me ve 2 coca", "x-tudo 2",
     "João", "meu nome é João Silva", "joao@gmail.com", "123.456.789-09", "pizza calabresa 1"],
)  # fmt: skip
def test_parse_address_ignores_messages_that_are_not_addresses(text: str) -> None:
    parts = parse_address(text)
    assert parts.street is None
    assert parts.city is None
    assert parts.reference is None


def test_parse_address_missing_fields() -> None:
    assert parse_address("").missing() == ["street", "number", "neighborhood"]
    assert parse_address("123").missing() == ["street", "neighborhood"]
    assert parse_address("Paulista, 1000").missing() == ["neighborhood"]
    assert parse_address("Rua das Flores, 123, Apto 45, Jardim Primavera").missing() == []
    # city and state are optional: the restaurant's city is assumed
    assert parse_address("rua augusta 500 consolação").missing() == []


def test_address_parts_is_frozen() -> None:
    parts = parse_address("Rua das Flores, 123")
    assert isinstance(parts, AddressParts)
    with pytest.raises(ValidationError):
        parts.number = "124"  # type: ignore[misc]


# ----------------------------------------------------------------------------- parse_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meu nome é João Silva", "João Silva"),
        ("meu nome e joao silva", "Joao Silva"),
        ("sou a maria", "Maria"),
        ("Sou o Carlos", "Carlos"),
        ("João", "João"),
        ("my name is John Smith", "John Smith"),
        ("pode me chamar de Zé", "Zé"),
        ("joão da silva", "João da Silva"),
        ("Oi, meu nome é Ana Paula", "Ana Paula"),
        ("Boa noite, aqui é a Fernanda", "Fernanda"),
        ("JOSE CARLOS", "Jose Carlos"),
        ("Maria Clara aqui", "Maria Clara"),
        ("i'm Peter", "Peter"),
        ("I am Mary Jane", "Mary Jane"),
        ("this is Mary", "Mary"),
        ("me chamo carlos e quero uma pizza", "Carlos"),
        ("é o Pedro", "Pedro"),
        ("Ana-Clara d'Ávila", "Ana-Clara d'Ávila"),
        ("thiago", "Thiago"),
        ("Maria Eduarda dos Santos Pereira", "Maria Eduarda dos Santos Pereira"),
        ("nome: Lucas", "Lucas"),
        ("meu nome é Ana.", "Ana"),
    ],
)
def test_parse_name(text: str, expected: str) -> None:
    assert parse_name(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "quero pizza", "quero uma pizza de calabresa", "sim", "não", "ok", "123", "João 123",
     "joao@gmail.com", "Rua das Flores 123", "Rua das Flores", "um dois tres quatro cinco seis",
     "Ana Maria Clara Souza Lima Pereira", "oi", "olá", "bom dia", "boa noite", "hello", "obrigado",
     "cardapio", "asdkjh", "meu nome é", "sou de SP", "i am hungry", "sou vegetariano", "pix", "👍"],
)  # fmt: skip
def test_parse_name_rejects(text: str) -> None:
    assert parse_name(text) is None


# ----------------------------------------------------------------------------- money & payment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R$ 32,90", Decimal("32.90")),
        ("32.90", Decimal("32.90")),
        ("32", Decimal("32")),
        ("1.234,50", Decimal("1234.50")),
        ("1,234.50", Decimal("1234.50")),
        ("1.000", Decimal("1000")),
        ("R$0,99", Decimal("0.99")),
        ("R$ 100,00", Decimal("100")),
        ("50 reais", Decimal("50")),
        ("50 conto", Decimal("50")),
        ("cinquenta", Decimal("50")),
        ("cem reais", Decimal("100")),
        ("vinte e cinco", Decimal("25")),
        ("a hundred", Decimal("100")),
        ("$20", Decimal("20")),
        ("2 pizzas por 60 reais", Decimal("60")),
        ("", None),
        ("abc", None),
        ("uma pizza", None),
    ],
)
def test_parse_money(text: str, expected: Decimal | None) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    ("text", "method", "change_for"),
    [
        ("pix", "pix", None),
        ("PIX", "pix", None),
        ("vou pagar no pix", "pix", None),
        ("cartão", "card", None),
        ("cartao", "card", None),
        ("crédito", "card", None),
        ("debito", "card", None),
        ("link", "card", None),
        ("manda o link de pagamento", "card", None),
        ("card", "card", None),
        ("credit card", "card", None),
        ("no cartão de débito", "card", None),
        ("maquininha", "card", None),
        ("vale refeição", "card", None),
        ("dinheiro", "cash", None),
        ("em espécie", "cash", None),
        ("cash", "cash", None),
        ("troco para 100", "cash", Decimal("100")),
        ("troco pra 50,00", "cash", Decimal("50")),
        ("change for 100", "cash", Decimal("100")),
        ("dinheiro, troco pra R$ 100,00", "cash", Decimal("100")),
        ("vou pagar em dinheiro, leva troco pra cem", "cash", Decimal("100")),
        ("cash, change for $50", "cash", Decimal("50")),
        ("sem troco", "cash", None),
        ("não preciso de troco", "cash", None),
        ("dinheiro, nao precisa de troco", "cash", None),
        ("cash, no change needed", "cash", None),
        ("não tenho pix, vai no cartão", "card", None),
        ("no card, cash", "cash", None),
        ("pix ou cartão", "pix", None),
        ("cartão, troco pra 100", "card", None),
        ("nota fiscal", None, None),
        ("hmm", None, None),
        ("", None, None),
        ("na entrega", None, None),
    ],
)
def test_parse_payment(text: str, method: str | None, change_for: Decimal | None) -> None:
    choice = parse_payment(text)
    assert isinstance(choice, PaymentChoice)
    assert (choice.method, choice.change_for) == (method, change_for)


def test_payment_choice_is_frozen() -> None:
    choice = parse_payment("pix")
    with pytest.raises(ValidationError):
        choice.method = "cash"  # type: ignore[misc]


# ----------------------------------------------------------------------------- fuzzy_find

MENU = [
    "Pizza Margherita",  # 0
    "Pizza Calabresa",  # 1
    "Pizza Frango com Catupiry",  # 2
    "Pizza Quatro Queijos",  # 3
    "X-Salada",  # 4
    "X-Bacon",  # 5
    "X-Tudo",  # 6
    "Coca-Cola Lata 350ml",  # 7
    "Coca-Cola 2L",  # 8
    "Guaraná Antarctica Lata",  # 9
    "Chocolate",  # 10
    "Cocada",  # 11
    "Refrigerante 2L",  # 12
    "Suco de Laranja",  # 13
    "Hambúrguer Artesanal",  # 14
    "Coxinha",  # 15
    "Pastel de Carne",  # 16
    "Pão de Queijo",  # 17
    "Batata Frita",  # 18
    "Água sem Gás",  # 19
    "Brigadeiro",  # 20
    "Calzone de Calabresa",  # 21
]


def top(query: str, candidates: list[str] = MENU) -> str:
    """The best candidate for query."""
    hits = fuzzy_find(query, candidates)
    assert hits, f"no hit for {query!r}"
    return hits[0].candidate


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("pizza margherita", "Pizza Margherita"),
        ("margherita", "Pizza Margherita"),
        ("margerita", "Pizza Margherita"),
        ("pizza marguerita", "Pizza Margherita"),
        ("calabresa", "Pizza Calabresa"),
        ("calabreza", "Pizza Calabresa"),
        ("pizzas calabresa", "Pizza Calabresa"),
        ("xsalada", "X-Salada"),
        ("x salada", "X-Salada"),
        ("x-salada", "X-Salada"),
        ("X SALADA", "X-Salada"),
        ("xtudo", "X-Tudo"),
        ("x bacon", "X-Bacon"),
        ("refri", "Refrigerante 2L"),
        ("cocas", "Coca-Cola 2L"),
        ("coca cola", "Coca-Cola 2L"),
        ("cocacola", "Coca-Cola 2L"),
        ("coca lata", "Coca-Cola Lata 350ml"),
        ("hamburgueres", "Hambúrguer Artesanal"),
        ("hamburguer", "Hambúrguer Artesanal"),
        ("coxinhas", "Coxinha"),
        ("pasteis", "Pastel de Carne"),
        ("pao de queijo", "Pão de Queijo"),
        ("paes de queijo", "Pão de Queijo"),
        ("pizza de frango com catupiry", "Pizza Frango com Catupiry"),
        ("frango catupiry", "Pizza Frango com Catupiry"),
        ("4 queijos", "Pizza Quatro Queijos"),
        ("quatro queijo", "Pizza Quatro Queijos"),
        ("agua", "Água sem Gás"),
        ("guarana", "Guaraná Antarctica Lata"),
        ("suco laranja", "Suco de Laranja"),
        ("brigadeiros", "Brigadeiro"),
        ("batata", "Batata Frita"),
        ("chocolate", "Chocolate"),
    ],
)
def test_fuzzy_find_best_hit(query: str, expected: str) -> None:
    assert top(query) == expected


def test_fuzzy_find_coca_ranks_cokes_above_chocolate() -> None:
    hits = fuzzy_find("coca", MENU, limit=10, cutoff=0)
    names = [h.candidate for h in hits]
    assert set(names[:2]) == {"Coca-Cola Lata 350ml", "Coca-Cola 2L"}
    assert names.index("Chocolate") > 1
    scores = {h.candidate: h.score for h in hits}
    assert scores["Coca-Cola Lata 350ml"] > scores["Chocolate"]
    assert scores["Coca-Cola 2L"] > scores["Chocolate"]


def test_fuzzy_find_pizza_margherita_first_among_pizzas() -> None:
    pizzas = [c for c in MENU if c.startswith("Pizza")]
    hits = fuzzy_find("pizza margherita", pizzas, cutoff=0)
    assert hits[0].candidate == "Pizza Margherita"
    assert hits[0].score == 100.0
    assert all(h.score < hits[0].score for h in hits[1:])


def test_fuzzy_find_calabresa_prefers_pizza_calabresa() -> None:
    hits = fuzzy_find("calabresa", MENU)
    assert hits[0].candidate == "Pizza Calabresa"
    assert hits[0].index == 1
    assert {h.candidate for h in hits} >= {"Pizza Calabresa", "Calzone de Calabresa"}


def test_fuzzy_find_refri_scores_well() -> None:
    (hit,) = fuzzy_find("refri", ["Refrigerante"])
    assert hit.score >= 80


def test_fuzzy_find_prefers_exact_and_shorter_matches() -> None:
    hits = fuzzy_find("pizza margherita", ["Pizza Margherita Grande", "Pizza Margherita", "Margherita"])
    assert [h.candidate for h in hits][:2] == ["Pizza Margherita", "Pizza Margherita Grande"]


def test_fuzzy_find_sorted_by_score_then_index() -> None:
    hits = fuzzy_find("pizza", ["Pizza Calabresa", "Pizza Margherita", "Pizza Doce", "Coca"], limit=10)
    assert [h.index for h in hits] == [0, 1, 2]
    assert len({h.score for h in hits}) == 1
    ordered = sorted(hits, key=lambda h: (-h.score, h.index))
    assert hits == ordered


def test_fuzzy_find_limit_and_cutoff() -> None:
    assert len(fuzzy_find("pizza", MENU, limit=2)) == 2
    assert fuzzy_find("pizza", MENU, limit=0) == []
    assert fuzzy_find("sushi", MENU) == []
    assert fuzzy_find("", MENU) == []
    assert fuzzy_find("pizza", []) == []
    assert all(h.score >= 90 for h in fuzzy_find("pizza", MENU, cutoff=90))


def test_fuzzy_find_hits_are_frozen_and_in_range() -> None:
    hits = fuzzy_find("coca", MENU, cutoff=0, limit=len(MENU))
    assert all(isinstance(h, FuzzyHit) and 0 <= h.score <= 100 for h in hits)
    assert all(MENU[h.index] == h.candidate for h in hits)
    with pytest.raises(ValidationError):
        hits[0].score = 1.0  # type: ignore[misc]


def test_fuzzy_find_accepts_tuples_and_duplicates() -> None:
    hits = fuzzy_find("coxinha", ("Coxinha", "Coxinha", "Kibe"))
    assert [(h.index, h.score) for h in hits] == [(0, 100.0), (1, 100.0)]
