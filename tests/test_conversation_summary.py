"""The summary of what history trimming drops, written by a real model (issue 13): the production graph with the
real OpenAI client against the loopback fake, Postgres checkpoints, the handoff ticket and the staff console."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
from console_support import console_stack
from conversation_support import Chat, open_chat
from fakes.openai_chat import FakeOpenAI
from fakes.scripts import Answer, Brain, CallTools, Fail, Say, Seen, Spec, ToolUse
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from redis.asyncio import Redis

from graph.graph import build_graph
from graph.models import ModelConfig, make_chat_model
from graph.runner import ConversationRunner
from memory.checkpointer import make_checkpointer
from memory.db import Pool
from prompts import load_prompt_set

PHONE = "+5511955554444"
KEY = "sk-test"
COMPLAINT = "a pizza de ontem chegou fria e sem a borda"
SUMMARY = "- Cliente reclamou que a pizza de ontem chegou fria e sem a borda recheada.\n- Pediu desconto no próximo."
MENU_ANSWER = "Temos sim, a Pizza Calabresa!"
HANDOFF_ANSWER = "Já chamei um atendente, ele te responde aqui."


def is_summary_call(seen: Seen) -> bool:
    """The summary request: our prompt set's summary prompt is its system message."""
    return seen.system == load_prompt_set().task("summary", "pt-BR")


def brain(summary: Spec) -> Brain:
    """A model that answers the conversation plainly and the summary request with `summary`."""

    def answer(seen: Seen) -> Spec:
        if is_summary_call(seen):
            return summary
        if seen.response_schema is not None:  # the router, if the fast classifier wasn't sure
            return Answer(data={"intent": "handoff" if "atendente" in seen.last_user_text else "menu"})
        if "atendente" in seen.last_user_text:
            if seen.tool_results:
                return Say(text=HANDOFF_ANSWER)
            return CallTools(calls=[ToolUse(name="request_human", args={"reason": "asked for a human"})])
        return Say(text=MENU_ANSWER)

    return answer


@contextlib.asynccontextmanager
async def real_model_chat(db: Pool, summary: Spec) -> AsyncIterator[tuple[Chat, FakeOpenAI]]:
    """A chat with the demo restaurant whose model is `openai:gpt-4o-mini`, served by the fake."""
    fake = FakeOpenAI(brain(summary), api_key=KEY)
    async with fake.serve() as url:
        config = ModelConfig(spec="openai:gpt-4o-mini", openai_api_key=KEY, openai_base_url=f"{url}/v1", max_retries=0)
        graph = build_graph(make_chat_model(config), load_prompt_set(), checkpointer=await make_checkpointer(db))
        yield await open_chat(db, PHONE, runner=ConversationRunner(graph)), fake


async def a_long_conversation(chat: Chat) -> RunnableConfig:
    """40 earlier messages in the conversation's state, the complaint first: the next turn trims them."""
    old: list[BaseMessage] = [HumanMessage(COMPLAINT, id="old-0")]
    for i in range(1, 40):
        old.append(AIMessage(f"resposta {i}", id=f"old-a{i}") if i % 2 else HumanMessage(f"msg {i}", id=f"old-h{i}"))
    config: RunnableConfig = {"configurable": {"thread_id": chat.ctx.thread_id}}
    await chat.runner.graph.aupdate_state(config, {"messages": old}, as_node="finish")
    return config


async def test_a_real_model_writes_the_summary_from_the_prompt_and_the_ticket_and_console_show_it(
    demo: Pool, redis: Redis
) -> None:
    async with real_model_chat(demo, Say(text=SUMMARY)) as (chat, fake):
        config = await a_long_conversation(chat)
        assert await chat.say("tem pizza de calabresa?") == MENU_ANSWER
        state = (await chat.runner.graph.aget_state(config)).values
        assert all(m.id != "old-0" for m in state["messages"])
        assert state["summary"] == SUMMARY

        asked = [s for s in fake.requests if is_summary_call(s)]
        assert len(asked) == 1
        # the model was given what was dropped, the customer's words marked as theirs, and no earlier summary
        assert f"> {COMPLAINT}" in asked[0].last_user_text and "< resposta 1" in asked[0].last_user_text
        assert asked[0].last_user_text.startswith("Resumo anterior:\n-\n")

        assert await chat.say("quero falar com um atendente") == HANDOFF_ANSWER
        fake.assert_clean()
    async with demo.connection() as conn:
        cur = await conn.execute("SELECT id, summary FROM handoff_tickets")
        tickets = await cur.fetchall()
    assert len(tickets) == 1 and SUMMARY in tickets[0]["summary"], chat.dump()

    async with console_stack(demo, redis) as stack:
        ana = await stack.staff(stack.demo, "Ana")
        async with stack.client(ana) as http:
            page = await http.get(f"/console/tickets/{tickets[0]['id']}")
    assert page.status_code == 200
    assert "Cliente reclamou que a pizza de ontem chegou fria e sem a borda recheada." in page.text
    assert "Pediu desconto no próximo." in page.text


async def test_when_the_model_fails_the_summary_is_extractive_the_turn_answers_and_a_warning_is_logged(
    demo: Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="tools.memory.summary")
    async with real_model_chat(demo, Fail(status=500, message="boom")) as (chat, fake):
        config = await a_long_conversation(chat)
        assert await chat.say("tem pizza de calabresa?") == MENU_ANSWER
        state = (await chat.runner.graph.aget_state(config)).values
    assert len([s for s in fake.requests if is_summary_call(s)]) == 1
    assert f"> {COMPLAINT}" in state["summary"]
    assert SUMMARY not in state["summary"]
    warnings = [r for r in caplog.records if r.name == "tools.memory.summary" and r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "the model failed" in warnings[0].getMessage()


async def test_an_empty_answer_from_the_model_also_falls_back_to_the_extractive_summary(demo: Pool) -> None:
    async with real_model_chat(demo, Say(text="   ")) as (chat, _):
        config = await a_long_conversation(chat)
        await chat.say("tem pizza de calabresa?")
        state = (await chat.runner.graph.aget_state(config)).values
    assert f"> {COMPLAINT}" in state["summary"]
