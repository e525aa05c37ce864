"""The shared language utilities: what production (the guard, the router) and the offline model agree on."""

from __future__ import annotations

import pytest

from graph import guard
from graph.language import Locale, conversation_locale, detect_language, detect_locale, fold, normalize, words


@pytest.mark.parametrize(
    "text",
    [
        "Hola, quiero una pizza",
        "hola quiero una pizza",
        "quiero una pizza por favor",
        "Buenas noches, quisiera una hamburguesa con queso",
        "¿Tienen pizza?",
        "yo quiero tacos",
        "¿Cuánto cuesta el envío?",
    ],
)
def test_spanish_is_another_language(text: str) -> None:
    assert detect_language(text) == "es"
    assert guard.check(text) == "other_language"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("je voudrais une pizza, s'il vous plaît", "fr"),
        ("ich möchte eine Pizza, bitte", "de"),
        ("vorrei una pizza, grazie", "it"),
    ],
)
def test_other_languages_are_recognised_whatever_the_punctuation(text: str, language: str) -> None:
    assert detect_language(text) == language
    assert guard.check(text) == "other_language"


@pytest.mark.parametrize(
    "text",
    [
        # one Spanish-looking word is a typo or a joke, not Spanish
        "hola",
        "hola, tudo bem?",
        "quero una pizza de calabresa por favor",
        "gracias",
        "oi, quero uma pizza com queijo",
        "yo, can I get a burger?",
        "Sí, pode mandar",
    ],
)
def test_portuguese_and_english_with_a_foreign_word_still_pass(text: str) -> None:
    assert detect_language(text) in ("pt-BR", "en", None)
    assert guard.check(text) == "ok"


@pytest.mark.parametrize(
    ("text", "locale"),
    [("Olá! Gostaria de fazer um pedido", "pt-BR"), ("hello, can I order?", "en"), ("ok", None)],
)
def test_detect_language_agrees_with_detect_locale_on_our_languages(text: str, locale: str | None) -> None:
    assert detect_locale(text) == locale
    assert detect_language(text) == locale


def test_folding_and_words() -> None:
    assert fold("Açaí com Maçã") == "acai com maca"
    assert normalize("Hola, ¿quiero?") == "hola, quiero"
    assert words("Hola, ¿quiero 2 pizzas?") == ["hola", "quiero", "pizzas"]


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        # an English conversation keeps English through Brazilian addresses, dish names and single Portuguese words
        ("Rua Augusta, 500, apto 12, Consolação", "en", "en"),
        ("Rua Oscar Freire, 1200, apt 3, Jardins", "en", "en"),
        ("2 x-bacon sem tomate", "en", "en"),
        ("dinheiro", "en", "en"),
        ("sim", "en", "en"),
        # ... and switches when the message is plainly in the other language
        ("quero uma pizza grande por favor", "en", "pt-BR"),
        ("I want a large pizza please", "pt-BR", "en"),
        ("yes", "pt-BR", "pt-BR"),
        # a conversation without a language yet takes the message's own, or none
        ("hello", None, "en"),
        ("oi", None, "pt-BR"),
        ("12345", None, None),
    ],
)
def test_conversation_locale_holds(text: str, current: Locale | None, expected: str | None) -> None:
    assert conversation_locale(text, current) == expected
