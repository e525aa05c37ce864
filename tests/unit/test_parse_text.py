"""Offline model text understanding (graph/offline/parse): normalising, pt-BR or English, gibberish."""

from __future__ import annotations

import pytest

from graph.offline.parsing import (
    detect_locale,
    is_gibberish_or_empty,
    normalize,
)

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
