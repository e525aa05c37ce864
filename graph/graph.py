"""The conversation graph.

START → router ─(bad input: the guard answers)──────────────────────────────────────→ finish → END
               └→ menu | cart | registration | payment | smalltalk | handoff → finish ─→ END
                                        finish ─(a tool handed the conversation over)→ pause (interrupt) → END

`router` identifies the customer, settles the language and screens the text (graph/guard.py), then classifies the
intent (graph/router.py) and hands off with Command(goto=...).

The six agents are compiled subgraphs (graph/agents/), added as nodes: `stream(..., subgraphs=True)`, traces
and Studio show their model and tool steps.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, RemoveMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from graph import guard
from graph.agent import current_turn_start
from graph.agents import BUILDERS
from graph.classifier import FastClassifier
from graph.language import conversation_locale
from graph.language.greeting import is_greeting
from graph.models import summarizer_for
from graph.router import make_router, turn_text
from graph.run_context import RunContext, turn_context
from graph.state import INTENTS, AgentState, ConversationState
from prompts import PromptSet, load_prompt_set
from tools.cart.views import HeldItem
from tools.context import TurnContext
from tools.customers.address_tools import turn_pin
from tools.customers.service import identify_customer
from tools.memory.guard import held_in_last_order
from tools.memory.service import notes_for_turn, standing
from tools.menu.tools import embedder_for

# enough for the model to follow the conversation; older turns live in the database (orders, customer)
KEEP_MESSAGES = 30

_GUARD_RESULTS = frozenset({"allergy_warning", "allergy_declined"})
_GUARD_REPLIES = {
    "empty": "fallback.empty",
    "emoji": "fallback.emoji",
    "too_long": "fallback.too_long",
    "other_language": "fallback.other_language",
    "gibberish": "fallback.not_understood",
    "price_injection": "fallback.price_injection",
    "audio_unavailable": "media.audio_unavailable",
    "audio_failed": "media.audio_failed",
    "image": "media.image",
    "document": "media.document",
    "other_media": "media.other",
}


AWAITING_USUAL = "cart.usual"
# "Você quis dizer *Vila Madalena*?": the delivery_fee tool found the place the customer named misspelt
AWAITING_PLACE = "menu.place"


def _offered_usual(state: ConversationState) -> bool:
    """This turn greeted a regular who has a last order and a standing preference: the greeting offers the usual."""
    customer = state.customer
    return (
        state.awaiting is None
        and state.route is not None
        and state.route.intent == "smalltalk"
        and customer is not None
        and customer.last_order is not None
        and any(standing(m.kind, m.subject) and m.kind == "preference" for m in state.memories)
        and is_greeting(turn_text(state))
    )


def build_graph(
    model: BaseChatModel,
    prompts: PromptSet | None = None,
    *,
    checkpointer: Any = None,
    context_schema: type[RunContext] = TurnContext,
    memory: bool = True,
) -> CompiledStateGraph[ConversationState, Any, ConversationState, ConversationState]:
    """Compile the whole conversation graph around one chat model and one prompt set (`memory=False`: the
    customer's remembered facts are never read).

    Runs take a TurnContext; a graph for LangGraph Platform takes a `ConversationContext` class bound to a resolver
    instead (graph/run_context.py).
    """
    prompts = prompts or load_prompt_set()
    classifier = FastClassifier(
        {intent: [e.text for e in examples] for intent, examples in prompts.routing_examples().items()}
    )

    classify = make_router(classifier, model, prompts)
    summarizer = summarizer_for(model, prompts)

    async def router(state: ConversationState, runtime: Runtime[RunContext]) -> Command[str]:
        # prepares the turn (customer, memories, language, the guard's answer to what we never route), then routes:
        # one LangGraph step for both, every turn (the decision is state.route; traces show it under `router`)
        ctx = await turn_context(runtime.context)
        text = turn_text(state)
        async with ctx.pool.connection() as conn:
            customer = await identify_customer(conn, ctx.tenant.id, ctx.phone)
            memories = (
                await notes_for_turn(conn, ctx.tenant.id, ctx.phone, text, embed=lambda q: embedder_for(ctx).query(q))
                if memory
                else []
            )
            # only a greeting lists the last order to the customer: other turns don't pay for reading its lines
            held = (
                await held_in_last_order(conn, ctx.tenant.id, customer.id, memories)
                if customer.id is not None and customer.last_order is not None and is_greeting(text)
                else []
            )
        # once the conversation has a language, only a message clearly in the other one switches it
        locale = conversation_locale(text, state.locale if state.turns else None) or ctx.tenant.locale
        update: dict[str, Any] = {
            "customer": customer,
            "memories": memories,
            "locale": locale,
            "route": None,
            "usual_held": [HeldItem(item=item, allergen=allergen) for item, allergen in held],
        }
        this_turn = state.messages[current_turn_start(state.messages) :]
        # a location pin is an answer even with no words (WhatsApp sends a bare pin without any)
        verdict = "ok" if turn_pin(this_turn) else guard.check(text, guard.unread_media(this_turn))
        if verdict != "ok":
            key = _GUARD_REPLIES[verdict]
            if verdict == "emoji" and state.awaiting == "registration.address":
                # "🏠📍" for an address: ask again for it in words, nothing is kept
                key = "registration.address_in_words"
            reply = AIMessage(
                prompts.reply(key, locale),
                name="guard",
                response_metadata={"comanda_understood": verdict not in ("gibberish",)},
            )
            return Command(goto="finish", update={**update, "messages": [reply]})
        routed = await classify(state.model_copy(update=update), runtime)
        return Command(goto=routed.goto, update={**update, **(routed.update or {})})

    async def pause(state: ConversationState) -> dict[str, Any]:
        # nothing before interrupt(): this node re-runs from the top when the agent hands the conversation back
        interrupt({"reason": state.handoff_reason or "customer asked for a human"})
        return {
            "handoff": False,
            "handoff_reason": None,
            "failures": 0,
            "awaiting": None,
            "messages": [AIMessage(prompts.reply("handoff.resumed", state.locale), name="handoff_pause")],
        }

    async def finish(state: ConversationState, runtime: Runtime[RunContext]) -> Command[str]:
        this_turn = state.messages[current_turn_start(state.messages) :]
        failures = state.failures + 1 if _turn_failed(this_turn) else 0
        update: dict[str, Any] = {
            "turns": state.turns + 1,
            "failures": failures,
            "intent": state.route.intent if state.route else state.intent,
            "messages": _trim(state.messages, KEEP_MESSAGES - summarizer.trim_slack),
        }
        if dropped := {r.id for r in update["messages"]}:
            # in the turn, not a job: the next turn and a handoff read it from this checkpoint (ARCHITECTURE.md)
            locale = (await turn_context(runtime.context)).tenant.locale  # the staff read it on the ticket
            update["summary"] = await summarizer.summarize(
                state.summary, [m for m in state.messages if m.id in dropped], locale
            )
        if failures >= 2 and not state.handoff:
            # never a silent handoff: offer a person and let the customer answer (the router sends it to handoff)
            offer = AIMessage(prompts.reply("handoff.offer", state.locale), name="handoff_offer")
            update.update(failures=0, awaiting="handoff.offer", messages=[*update["messages"], offer])
        elif state.awaiting == "handoff.offer":
            update["awaiting"] = None
        elif _offered_usual(state):
            # the greeting offered a regular "o de sempre, sem cebola?": their yes goes to the cart, which repeats it
            update["awaiting"] = AWAITING_USUAL
        elif state.awaiting == AWAITING_USUAL:
            update["awaiting"] = None  # answered (or ignored): one turn only
        if "awaiting" not in update and (place := _suggested_place(this_turn)) is not None:
            # the customer's yes goes back to the menu agent, which asks the tool that place's fee
            update.update(awaiting=AWAITING_PLACE, suggested_place=place)
        elif state.suggested_place is not None:
            update["suggested_place"] = None  # answered (or ignored): one turn only
            if state.awaiting == AWAITING_PLACE and "awaiting" not in update:
                update["awaiting"] = None
        # a tool handed the conversation to a person (request_human, or cancel_order too late to cancel): wait for them
        return Command(goto="pause" if state.handoff else END, update=update)

    g: StateGraph[ConversationState, Any, ConversationState, ConversationState]
    g = StateGraph(ConversationState, context_schema=context_schema)
    g.add_node("router", router, destinations=("finish", *INTENTS))
    for intent in INTENTS:
        # the agent's own (TypedDict) input: it gets the channel values as they are, no pydantic re-validation
        g.add_node(intent, BUILDERS[intent](model, prompts), input_schema=AgentState)
    g.add_node("pause", pause)
    g.add_node("finish", finish, destinations=("pause", END))
    g.add_edge(START, "router")
    for intent in INTENTS:
        # finish sends the turn to `pause` when a tool handed the conversation over: one routing decision, made on
        # the state finish already holds (a branch after each agent re-read the whole state to make it)
        g.add_edge(intent, "finish")
    g.add_edge("pause", END)
    return g.compile(checkpointer=checkpointer, name="comanda")


def _turn_failed(messages: list[AnyMessage]) -> bool:
    answers = [m for m in messages if isinstance(m, AIMessage) and not m.tool_calls]
    if answers and answers[-1].response_metadata.get("comanda_understood") is False:
        return True
    results = [m for m in messages if isinstance(m, ToolMessage)]
    return bool(results) and all(_is_error(m) for m in results)


def _suggested_place(messages: list[AnyMessage]) -> str | None:
    """The neighbourhood this turn's last delivery_fee result asked "did you mean?" about, if it did."""
    results = [m for m in messages if isinstance(m, ToolMessage) and m.name == "delivery_fee"]
    if not results:
        return None
    try:
        data = json.loads(results[-1].text)
    except ValueError:
        return None
    place = data.get("did_you_mean") if isinstance(data, dict) else None
    return place if isinstance(place, str) and place else None


def _is_error(message: ToolMessage) -> bool:
    try:
        data = json.loads(message.text)
    except ValueError:
        return message.status == "error"
    # the allergy guard's question and the customer's "no" are answers, not failures (issue 13)
    return isinstance(data, dict) and data.get("kind") == "error" and data.get("error") not in _GUARD_RESULTS


def _trim(messages: list[AnyMessage], keep: int = KEEP_MESSAGES) -> list[BaseMessage]:
    """Past KEEP_MESSAGES, remove the oldest messages down to `keep`, cutting only where a customer message starts."""
    if len(messages) <= KEEP_MESSAGES:
        return []
    cut = len(messages) - keep
    while cut < len(messages) and not isinstance(messages[cut], HumanMessage):
        cut += 1
    return [RemoveMessage(id=m.id) for m in messages[:cut] if m.id]
