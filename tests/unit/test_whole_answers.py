"""Which lone messages answer the bot's question whole, so their turn starts without the coalescing wait."""

from __future__ import annotations

import pytest

from graph.language.complete import answers_whole


@pytest.mark.parametrize(
    ("asked", "text"),
    [
        ("payment.confirm", "sim"),
        ("payment.confirm", "Sim!"),
        ("payment.confirm", "pode fechar"),
        ("payment.confirm", "não"),
        ("payment.confirm", "👍"),
        ("registration.confirm", "isso mesmo"),
        ("cart.usual", "yes"),
        ("menu.place", "sim"),
        ("handoff.offer", "no thanks"),
        ("payment.method", "pix"),
        ("payment.method", "Cartão de crédito"),
        ("payment.method", "dinheiro"),
        ("registration.email", "pular"),
        ("registration.email", "maria.souza@example.com"),
        ("payment.cpf", "123.456.789-09"),
    ],
)
def test_a_bare_answer_to_the_question_asked_is_whole(asked: str, text: str) -> None:
    assert answers_whole(asked, text)


@pytest.mark.parametrize(
    ("asked", "text"),
    [
        # an answer with more to it: the customer may still be typing the rest
        ("payment.confirm", "sim, mas sem cebola"),
        ("payment.confirm", "sim e"),
        ("payment.method", "dinheiro, troco pra 50"),
        ("payment.method", "pix ou cartão?"),
        ("registration.email", "meu email é"),
        # words that answer some other question, or none
        ("payment.method", "sim"),
        ("payment.confirm", "pix"),
        ("registration.name", "Maria"),
        ("registration.address", "Rua das Flores, 123"),
        ("cart.option", "grande"),
        (None, "sim"),
        ("payment.confirm", "   "),
    ],
)
def test_anything_else_waits_for_the_burst_to_end(asked: str | None, text: str) -> None:
    assert not answers_whole(asked, text)
