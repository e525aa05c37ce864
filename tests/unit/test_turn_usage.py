"""The per-turn token counter: counts every model call, and costs the same on the millionth turn as on the first."""

from __future__ import annotations

import threading

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda
from langchain_core.tracers import context as tracer_context

from graph.usage import TurnUsage, turn_usage


def _model(tokens_in: int, tokens_out: int) -> GenericFakeChatModel:
    usage = {"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": tokens_in + tokens_out}
    return GenericFakeChatModel(
        messages=iter([AIMessage("oi", usage_metadata=usage, response_metadata={"model_name": "fake"})] * 10)
    )


async def test_every_model_call_inside_the_block_is_counted_even_nested_in_a_chain() -> None:
    model = _model(12, 3)
    chain = RunnableLambda(lambda text: text) | model
    with turn_usage() as usage:
        await model.ainvoke("uma pizza")
        await chain.ainvoke("e uma coca")
    [counted] = usage.usage_metadata.values()
    assert (counted["input_tokens"], counted["output_tokens"]) == (24, 6)
    await model.ainvoke("depois do turno")  # outside the block: not this turn's
    assert next(iter(usage.usage_metadata.values()))["input_tokens"] == 24


async def test_the_counter_runs_in_the_callers_thread_and_hears_no_chain_events() -> None:
    threads: list[str] = []

    class Spy(TurnUsage):
        def on_llm_end(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            threads.append(threading.current_thread().name)
            super().on_llm_end(*args, **kwargs)

        def on_chain_start(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            threads.append("chain event")

    chain = RunnableLambda(lambda text: text) | _model(1, 1)
    await chain.ainvoke("oi", {"callbacks": [Spy()]})
    # a thread-pool hop per callback event cost ~12 % of a worker's CPU in bench e2e
    assert threads == [threading.current_thread().name]


def test_turns_do_not_pile_up_callback_hooks() -> None:
    # langchain's get_usage_metadata_callback registers a new global hook on every call: each turn made every
    # later model and chain call of the process a little slower
    before = len(tracer_context._configure_hooks)
    for _ in range(50):
        with turn_usage():
            pass
    assert len(tracer_context._configure_hooks) == before
