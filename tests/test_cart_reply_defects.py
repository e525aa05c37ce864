"""Defects in what the offline model says back about the cart and the usual, each as the customer meets it: the real
graph, the offline model, Postgres checkpoints and the real tools. Every test failed before its fix."""

from __future__ import annotations

from conversation_support import open_chat

from memory.db import Pool


async def test_a_removal_the_item_does_not_allow_is_refused_once(demo: Pool) -> None:
    # the X-Bacon has no onion to leave out: the retry as the option "sem cebola" was refused too, and both
    # refusals went out in one reply
    chat = await open_chat(demo, "+5511988870001")
    reply = await chat.say("1 x-bacon sem cebola")
    assert reply.count("cebola") == 1, chat.dump()
    assert "X-Bacon" in reply, chat.dump()
    assert chat.last is not None and chat.last.state is not None
    assert chat.last.state.cart.lines == [], chat.dump()


async def test_a_removal_that_is_an_option_is_added_without_a_refusal(demo: Pool) -> None:
    # "sem açúcar" is the juice's option, not an ingredient: the retry adds it, and the removal's refusal that came
    # first ('não tem a opção "acucar". As opções são: .') was said above the added line
    chat = await open_chat(demo, "+5511988870002")
    reply = await chat.say("2 sucos de laranja sem açúcar")
    assert "(Sem açúcar)" in reply and "não tem a opção" not in reply, chat.dump()
