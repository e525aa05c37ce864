"""Offline model text understanding (graph/offline/parse): quantities and order lines."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from graph.offline.parsing import (
    LineRequest,
    parse_quantity_word,
    split_order_lines,
)

Line = tuple[int | None, str, list[str], list[str]]


def lines_of(text: str) -> list[Line]:
    """The order lines of a message as (qty, item, removals, additions) tuples."""
    return [(ln.qty, ln.item, ln.removals, ln.additions) for ln in split_order_lines(text)]


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quero 1 x-salada, e sem cebola sempre tá?", [(1, "x-salada", ["cebola"], [])]),
        ("1 x-salada sem cebola, sempre tá?", [(1, "x-salada", ["cebola"], [])]),
        ("quero 1 x-salada e sempre sem cebola", [(1, "x-salada", ["cebola"], [])]),
        (
            "2 coca e 1 x-salada sem cebola sempre e 1 batata",
            [(2, "coca", [], []), (1, "x-salada", ["cebola"], []), (1, "batata", [], [])],
        ),
        ("1 cheeseburger no onions always please", [(1, "cheeseburger", ["onions"], [])]),
        ("1 x-salada sem cebola tá", [(1, "x-salada", ["cebola"], [])]),
        # "sempre" that goes with no modifier stays: "o de sempre" is the customer's usual
        ("o de sempre sem cebola", [(None, "sempre", ["cebola"], [])]),
    ],
)  # fmt: skip
def test_a_standing_sempre_said_with_a_modifier_is_not_part_of_it(text: str, expected: list[Line]) -> None:
    assert lines_of(text) == expected


def test_the_raw_line_the_cart_tool_reads_has_no_standing_marker_or_tag_question() -> None:
    # the cart tool reads the raw line's modifiers too: "sem cebola sempre ta" once reached it whole
    assert [ln.raw for ln in split_order_lines("quero 1 x-salada, e sem cebola sempre tá?")] == ["x-salada, sem cebola"]
