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


async def test_a_refused_removal_lists_what_can_be_left_out_not_the_options(demo: Pool) -> None:
    # the refusal read 'X-Bacon não tem a opção "cebola". As opções são: tomate, alface e maionese', a list of
    # ingredients presented as the item's options
    chat = await open_chat(demo, "+5511988870003")
    reply = await chat.say("1 x-bacon sem cebola")
    assert 'Não dá pra tirar "cebola" de X-Bacon. Dá pra tirar: tomate, alface e maionese.' in reply, chat.dump()
    assert "opção" not in reply and "opções" not in reply, chat.dump()


async def test_an_item_with_nothing_to_leave_out_says_so_instead_of_an_empty_list(demo: Pool) -> None:
    # a 2 L Coke has no ingredient to remove and no option: the reply ended 'As opções são: .'
    chat = await open_chat(demo, "+5511988870004")
    reply = await chat.say("1 coca-cola 2l sem gelo")
    assert "Não dá pra tirar ingredientes de Coca-Cola 2L" in reply, chat.dump()
    assert ": ." not in reply, chat.dump()
